"""Every call of the Bridge client, in both API versions, against the emulator."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from conftest import VERSIONS, make_client

from openbanking_bridge import const
from openbanking_bridge.bridge import (
    Account,
    Bank,
    BridgeConflictError,
    BridgeNotFoundError,
    BridgeUnsupportedError,
    ConnectSession,
    Item,
    User,
    UserToken,
)

V2, V3 = VERSIONS


def endpoint(version, name):
    method, path = const.ENDPOINTS[version][name]
    return f"{method} {path}"


def test_create_user_with_external_id(client, emulator, version):
    user = client.create_user(external_user_id="erp-user-42")

    assert isinstance(user, User)
    assert user.external_user_id == "erp-user-42"
    assert emulator.user(user.uuid)["external_user_id"] == "erp-user-42"
    with pytest.raises(BridgeConflictError) as caught:
        client.create_user(external_user_id="erp-user-42")
    assert caught.value.status == 409


def test_create_user_without_identity(client, emulator):
    user = client.create_user()

    assert emulator.user(user.uuid) is not None
    assert user.email is None


def test_v2_create_user_with_email_and_password(emulator):
    client = make_client(emulator, V2)
    user = client.create_user(email="compta@example.com", password="s3cret-pass")

    assert user.email == "compta@example.com"
    assert emulator.user(user.uuid)["password"] == "s3cret-pass"
    with pytest.raises(BridgeConflictError):
        client.create_user(email="compta@example.com", password="other-pass")


def test_v3_has_no_password_users(emulator):
    client = make_client(emulator, V3)

    with pytest.raises(ValueError):
        client.create_user(email="compta@example.com", password="s3cret-pass")
    with pytest.raises(ValueError):
        client.authenticate(email="compta@example.com", password="s3cret-pass")
    assert emulator.counters() == {}


def test_authenticate_by_uuid_and_external_id(client, emulator):
    user = emulator.add_user(external_user_id="ext-7")

    by_uuid = client.authenticate(user_uuid=user["uuid"])
    by_external = client.authenticate(external_user_id="ext-7")

    for token in (by_uuid, by_external):
        assert isinstance(token, UserToken)
        assert token.access_token
        assert emulator.state.user_for_token(token.access_token) == user["uuid"]
        # Bridge's tokens live 2 hours.
        life = token.expires_at - emulator.now()
        assert timedelta(hours=1, minutes=59) < life <= timedelta(hours=2)
    assert by_uuid.user_uuid == user["uuid"]
    assert by_uuid.access_token != by_external.access_token


def test_v2_authenticate_with_email_and_password(emulator):
    client = make_client(emulator, V2)
    user = emulator.add_user(email="a@example.com", password="p4ssword")

    token = client.authenticate(email="a@example.com", password="p4ssword")

    assert token.user_uuid == user["uuid"]


def test_authenticate_needs_exactly_one_identity(client):
    with pytest.raises(ValueError):
        client.authenticate()
    with pytest.raises(ValueError):
        client.authenticate(user_uuid="u", external_user_id="e")


def test_connect_session(client, emulator, version):
    user = emulator.add_user(external_user_id="ext-c")
    token = client.authenticate(user_uuid=user["uuid"])

    session = client.create_connect_session(
        token,
        email="signatory@example.com",
        callback_url="https://erp.example.com/bridge/callback",
    )

    assert isinstance(session, ConnectSession)
    assert session.url.startswith(f"{emulator.url}/connect/session/")
    session_id = session.url.rsplit("/", 1)[1]
    stored = emulator.state.session(session_id)
    assert stored["user_uuid"] == user["uuid"]
    assert stored["email"] == "signatory@example.com"
    assert stored["callback_url"] == "https://erp.example.com/bridge/callback"
    # v3 answers the session id, v2 only the URL.
    assert session.id == (session_id if version == V3 else None)


def test_items(client, emulator, version):
    user = emulator.add_user()
    first = emulator.add_item(user["uuid"], bank_id=6, accounts=1)
    second = emulator.add_item(user["uuid"], bank_id=179, accounts=1, status=1010)
    other_user = emulator.add_user()
    foreign = emulator.add_item(other_user["uuid"], accounts=1)
    token = client.authenticate(user_uuid=user["uuid"])

    items = client.list_items(token)

    assert items == [
        Item(first["id"], 0, "OK", None, 6),
        Item(second["id"], 1010, None, None, 179),
    ]
    assert client.get_item(token, second["id"]).status == 1010
    with pytest.raises(BridgeNotFoundError):
        client.get_item(token, foreign["id"])


def test_refresh_item_v2(emulator, receiver):
    client = make_client(emulator, V2)
    user = emulator.add_user()
    item = emulator.add_item(user["uuid"], accounts=2)
    token = client.authenticate(user_uuid=user["uuid"])

    client.refresh_item(token, item["id"])

    deliveries = emulator.wait_for_webhooks()
    assert [d.event_type for d in deliveries] == [
        "item.refreshed",
        "item.account.updated",
        "item.account.updated",
    ]
    assert deliveries[0].payload["content"]["refresh_trigger"] == "api"


def test_refresh_item_is_not_in_v3(emulator):
    client = make_client(emulator, V3)

    with pytest.raises(BridgeUnsupportedError):
        client.refresh_item("some-token", 1)
    assert emulator.counters() == {}


def test_delete_item(client, emulator, version):
    user = emulator.add_user()
    item = emulator.add_item(user["uuid"], accounts=2)
    token = client.authenticate(user_uuid=user["uuid"])

    client.delete_item(token, item["id"])

    assert client.list_items(token) == []
    assert client.list_accounts(token) == []
    assert emulator.wait_for_webhooks()[-1].event_type == "item.deleted"


def test_get_account(client, emulator, version):
    user = emulator.add_user()
    item = emulator.add_item(
        user["uuid"],
        bank_id=210,
        accounts=[
            {
                "iban": "fr76 3000 4000 0100 0000 0000 330",
                "name": "Compte courant",
                "balance": "1234.56",
                "currency_code": "EUR",
                "type": "checking",
            }
        ],
    )
    token = client.authenticate(user_uuid=user["uuid"])

    account = client.get_account(token, item["account_ids"][0])

    assert account == Account(
        id=item["account_ids"][0],
        item_id=item["id"],
        bank_id=210,
        iban="FR7630004000010000000000330",
        name="Compte courant",
        currency="EUR",
        type="checking",
        balance=Decimal("1234.56"),
    )


def test_account_without_iban(client, emulator, version):
    user = emulator.add_user()
    item = emulator.add_item(user["uuid"], accounts=[{"iban": None}])
    token = client.authenticate(user_uuid=user["uuid"])

    account = client.get_account(token, item["account_ids"][0])

    assert account.iban is None
    assert account.bank_id == 574


def test_list_accounts_follows_pagination(emulator, version):
    client = make_client(emulator, version, page_size=3)
    user = emulator.add_user()
    item = emulator.add_item(user["uuid"], accounts=7)
    emulator.add_item(user["uuid"], accounts=2)  # another item, not listed
    token = client.authenticate(user_uuid=user["uuid"])

    accounts = client.list_accounts(token, item["id"])

    assert [account.id for account in accounts] == item["account_ids"]
    assert [account.iban for account in accounts] == [
        account["iban"] for account in item["accounts"]
    ]
    assert emulator.count(endpoint(version, "list_accounts")) == 3
    assert len(client.list_accounts(token)) == 9


def test_list_banks(emulator, version):
    client = make_client(emulator, version, page_size=4)

    banks = client.list_banks("fr")

    expected = sorted(emulator.banks("fr"), key=lambda bank: bank["id"])
    assert [bank.id for bank in banks] == [bank["id"] for bank in expected]
    assert all(isinstance(bank, Bank) for bank in banks)
    bnp = next(bank for bank in banks if bank.id == 6)
    assert (bnp.name, bnp.country_code, bnp.group_name) == (
        "BNP Paribas",
        "fr",
        "BNP Paribas",
    )
    assert emulator.count(endpoint(version, "list_banks")) == 3
    assert [bank.id for bank in client.list_banks("de")] == [1001]


def test_delete_user(client, emulator, version):
    user = emulator.add_user(external_user_id="leaving")
    emulator.add_item(user["uuid"], accounts=1)

    client.delete_user(user["uuid"])

    assert emulator.user(user["uuid"]) is None
    assert emulator.state.items == {}
    with pytest.raises(BridgeNotFoundError):
        client.delete_user(user["uuid"])


def test_token_expiry_is_read(client, emulator):
    user = emulator.add_user()
    emulator.set_clock(datetime(2030, 1, 1, 8, 0, tzinfo=timezone.utc))

    token = client.authenticate(user_uuid=user["uuid"])

    expected = datetime(2030, 1, 1, 10, 0, tzinfo=timezone.utc)
    assert expected <= token.expires_at < expected + timedelta(seconds=30)


def test_same_shape_in_both_versions(emulator):
    user = emulator.add_user()
    item = emulator.add_item(user["uuid"], bank_id=152, accounts=2)
    answers = []
    for version in VERSIONS:
        client = make_client(emulator, version)
        token = client.authenticate(user_uuid=user["uuid"])
        answers.append(
            (
                client.list_items(token),
                client.list_accounts(token, item["id"]),
                client.get_account(token, item["account_ids"][1]),
            )
        )

    assert answers[0] == answers[1]
    assert answers[0][1][0].bank_id == 152
