"""The Bridge emulator on its own: Connect page, webhooks, limits, shapes, control."""

import hashlib
import hmac
import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from conftest import REPO, VERSIONS, make_client
from stdnum import iban as stdnum_iban

from bridge_emulator import BridgeEmulator
from openbanking_bridge.bridge import BridgeUnavailableError, verify_signature

V2, V3 = VERSIONS
SECRET = "whsec-test-0123456789"
CALLBACK = "https://erp.example.com/bridge/callback?company=1"


@pytest.fixture
def http():
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


def api_headers(emulator, version, token=None, **extra):
    headers = {
        "Client-Id": emulator.client_id,
        "Client-Secret": emulator.client_secret,
        "Bridge-Version": version,
        "Content-Type": "application/json",
        **extra,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def form_value(html, input_id):
    found = re.search(rf'id="{input_id}"[^>]*value="([^"]*)"', html)
    return found.group(1) if found else None


def open_session(emulator, version, callback_url=CALLBACK):
    client = make_client(emulator, version)
    user = emulator.add_user(external_user_id=f"erp-{version}")
    token = client.authenticate(user_uuid=user["uuid"])
    session = client.create_connect_session(
        token, email="signatory@example.com", callback_url=callback_url
    )
    return client, user, token, session


def test_connect_page_creates_the_item_and_sends_signed_webhooks(
    emulator, receiver, version, http
):
    client, user, token, session = open_session(emulator, version)

    page = http.get(session.url)
    assert page.status_code == 200
    html = page.text
    for needed in (
        '<label for="bank-6">BNP Paribas</label>',
        'name="bank_id"',
        '<label for="account-0-iban">IBAN</label>',
        'id="connect-submit"',
    ):
        assert needed in html
    proposed = form_value(html, "account-0-iban")
    assert stdnum_iban.is_valid(proposed)
    assert proposed.startswith("FR")
    typed = "fr76 1820 6000 1100 0000 0000 177"
    form = {
        "bank_id": "6",
        "rows": "4",
        "account-0-selected": "1",
        "account-0-name": "Compte courant",
        "account-0-iban": proposed,
        "account-1-name": "Not shared",
        "account-1-iban": form_value(html, "account-1-iban"),
        "account-2-selected": "1",
        "account-2-name": "Compte typed",
        "account-2-iban": typed,
        "action": "connect",
    }

    answer = http.post(session.url, data=form, allow_redirects=False)

    assert answer.status_code == 303
    location = urlsplit(answer.headers["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "erp.example.com"
    assert query["company"] == ["1"]
    assert query["user_uuid"] == [user["uuid"]]
    assert query["success"] == ["true"]
    item_id = int(query["item_id"][0])
    accounts = client.list_accounts(token, item_id)
    assert [(a.name, a.iban, a.bank_id) for a in accounts] == [
        ("Compte courant", proposed, 6),
        ("Compte typed", "FR7618206000110000000000177", 6),
    ]

    deliveries = emulator.wait_for_webhooks()
    assert [d.event_type for d in deliveries] == [
        "item.created",
        "item.account.created",
        "item.account.created",
        "item.refreshed",
    ]
    assert [d.status for d in deliveries] == [200] * 4
    assert len(receiver.received) == 4
    for headers, body in receiver.received:
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["BridgeApi-Signature"] == f"v1={expected.upper()}"
        assert verify_signature(body, headers["BridgeApi-Signature"], SECRET)
    payloads = [json.loads(body) for _headers, body in receiver.received]
    created = [p["content"] for p in payloads if p["type"] == "item.account.created"]
    assert [c["account_id"] for c in created] == [a.id for a in accounts]
    assert {c["item_id"] for c in created} == {item_id}
    assert {c["user_uuid"] for c in created} == {user["uuid"]}
    # Real events carry the timestamp in milliseconds.
    now_ms = emulator.now().timestamp() * 1000
    assert all(abs(p["timestamp"] - now_ms) < 60_000 for p in payloads)
    assert payloads[-1]["content"]["refresh_trigger"] == "connect"

    again = http.post(session.url, data=form, allow_redirects=False)
    assert again.status_code == 409


def test_connect_form_refuses_a_bad_iban(emulator, http):
    _client, user, _token, session = open_session(emulator, V3)
    form = {
        "bank_id": "574",
        "rows": "1",
        "account-0-selected": "1",
        "account-0-iban": "FR76 3000 4000 0100 0000 0000 331",
    }

    answer = http.post(session.url, data=form, allow_redirects=False)

    assert answer.status_code == 400
    assert 'id="connect-error"' in answer.text
    # The form comes back with what was typed, compacted.
    assert 'value="FR7630004000010000000000331"' in answer.text
    assert emulator.state.user_items(user["uuid"]) == []


def test_connect_without_callback_and_cancel(emulator, http):
    _client, user, _token, session = open_session(emulator, V2, callback_url=None)
    form = {"bank_id": "574", "rows": "1", "account-0-selected": "1"}

    answer = http.post(session.url, data=form)

    assert answer.status_code == 200
    assert "You can close this window" in answer.text
    item = emulator.state.user_items(user["uuid"])[0]
    assert emulator.item(item["id"])["accounts"][0]["iban"] is None

    _client, _user, _token, other = open_session(emulator, V3)
    cancelled = http.post(other.url, data={"action": "cancel"}, allow_redirects=False)
    assert cancelled.status_code == 303
    assert parse_qs(urlsplit(cancelled.headers["Location"]).query)["success"] == [
        "false"
    ]


def test_complete_connect_does_what_the_form_does(emulator, receiver):
    _client, _user, _token, session = open_session(emulator, V3)
    session_id = session.url.rsplit("/", 1)[1]

    item = emulator.complete_connect(
        session_id, 408, [{"iban": "FR7630004000010000000000330"}], sync=True
    )

    # Synchronous: delivered before the call returned.
    assert [json.loads(body)["type"] for _h, body in receiver.received] == [
        "item.created",
        "item.account.created",
        "item.refreshed",
    ]
    assert item["bank_id"] == 408
    assert item["redirect_url"].startswith(CALLBACK)
    assert emulator.state.session(session_id)["item_id"] == item["id"]


def test_secret_rotation_signs_with_both(receiver):
    with BridgeEmulator(
        webhook_url=receiver.url, webhook_secret=["new-secret", "old-secret"]
    ) as emu:
        user = emu.add_user()
        emu.add_item(user["uuid"], accounts=1, send_webhooks=True)

    headers, body = receiver.received[0]
    entries = headers["BridgeApi-Signature"].split(",")
    assert len(entries) == 2
    assert verify_signature(body, entries[0], "new-secret")
    assert verify_signature(body, entries[1], "old-secret")


def test_failed_delivery_is_recorded(emulator, receiver):
    receiver.status = 500
    user = emulator.add_user()

    emulator.add_item(user["uuid"], accounts=1, send_webhooks=True)

    assert [d.status for d in emulator.webhook_deliveries] == [500, 500, 500]


@pytest.mark.parametrize("version", VERSIONS, ids=["v2", "v3"])
def test_authentication_rate_limit(emulator, http, version):
    user = emulator.add_user()
    url = emulator.url + (
        "/v2/authenticate" if version == V2 else "/v3/aggregation/authorization/token"
    )
    body = json.dumps({"user_uuid": user["uuid"]})
    headers = api_headers(emulator, version)

    statuses = [
        http.post(url, data=body, headers=headers).status_code for _i in range(11)
    ]

    assert statuses[:10] == [200 if version == V2 else 201] * 10
    assert statuses[10] == 429
    emulator.advance_clock(61)
    assert http.post(url, data=body, headers=headers).status_code in (200, 201)


def test_request_rate_limit(emulator, http):
    user = emulator.add_user()
    token = emulator.issue_token(user["uuid"])
    headers = api_headers(emulator, V3, token)
    url = emulator.url + "/v3/aggregation/items"

    statuses = [http.get(url, headers=headers).status_code for _i in range(61)]

    assert statuses[:60] == [200] * 60
    assert statuses[60] == 429
    assert http.get(url, headers=headers).json()["code"] == "too_many_requests"
    other = emulator.issue_token(emulator.add_user()["uuid"])
    assert http.get(url, headers=api_headers(emulator, V3, other)).status_code == 200


def test_token_lives_two_hours(emulator, http):
    user = emulator.add_user()
    emulator.set_clock(datetime(2030, 6, 1, 9, 0, tzinfo=timezone.utc))
    token = emulator.issue_token(user["uuid"])
    url = emulator.url + "/v2/items"

    emulator.advance_clock(2 * 3600 - 5)
    assert http.get(url, headers=api_headers(emulator, V2, token)).status_code == 200
    emulator.advance_clock(10)
    expired = http.get(url, headers=api_headers(emulator, V2, token))
    assert expired.status_code == 401


def test_error_shapes_and_header_checks(emulator, http):
    url_v2 = emulator.url + "/v2/banks"
    url_v3 = emulator.url + "/v3/providers"

    missing = http.get(url_v2, headers=api_headers(emulator, ""))
    assert missing.status_code == 400
    assert set(missing.json()) == {"type", "message", "documentation_url"}
    wrong_version = http.get(url_v3, headers=api_headers(emulator, V2))
    assert wrong_version.status_code == 400
    assert set(wrong_version.json()) == {"code", "message"}
    bad_client = http.get(
        url_v2, headers=api_headers(emulator, V2, **{"Client-Secret": "nope"})
    )
    assert bad_client.status_code == 401
    not_json = http.post(
        emulator.url + "/v3/aggregation/users",
        data="external_user_id=x",
        headers=api_headers(
            emulator, V3, **{"Content-Type": "application/x-www-form-urlencoded"}
        ),
    )
    assert not_json.status_code == 415
    missing_email = http.post(
        emulator.url + "/v3/aggregation/connect-sessions",
        data="{}",
        headers=api_headers(
            emulator, V3, emulator.issue_token(emulator.add_user()["uuid"])
        ),
    )
    assert missing_email.status_code == 400
    assert missing_email.json() == {
        "code": "invalid_request",
        "property": "user_email",
        "message": "Missing user_email",
    }


def test_null_fields_v2_kept_v3_omitted(emulator, http):
    user = emulator.add_user()
    item = emulator.add_item(user["uuid"], bank_id=33, accounts=[{"iban": None}])
    token = emulator.issue_token(user["uuid"])
    account_id = item["account_ids"][0]

    v2 = http.get(
        f"{emulator.url}/v2/accounts/{account_id}",
        headers=api_headers(emulator, V2, token),
    ).json()
    v3 = http.get(
        f"{emulator.url}/v3/aggregation/accounts/{account_id}",
        headers=api_headers(emulator, V3, token),
    ).json()

    assert v2["iban"] is None
    assert v2["bank_id"] == 33
    assert "iban" not in v3
    assert v3["provider_id"] == 33
    assert "bank_id" not in v3


def test_control_endpoints(emulator, http):
    control = emulator.url + "/_emulator"

    user = http.post(f"{control}/users", json={"external_user_id": "ctl"}).json()
    item = http.post(
        f"{control}/items",
        json={
            "user_uuid": user["uuid"],
            "bank_id": 213,
            "accounts": [{"iban": "FR7610278000010000000015570", "name": "Pro"}],
        },
    ).json()
    token = http.post(f"{control}/users/{user['uuid']}/token").json()["access_token"]
    client = make_client(emulator, V2, max_retries=0)
    assert client.get_account(token, item["account_ids"][0]).name == "Pro"

    fault = {"endpoint": "GET /v2/items", "status": 503, "times": 1}
    assert http.post(f"{control}/faults", json=fault).status_code == 201
    assert http.get(f"{control}/faults").json()["GET /v2/items"][0]["status"] == 503
    with pytest.raises(BridgeUnavailableError):
        client.list_items(token)
    assert client.list_items(token)[0].bank_id == 213
    counters = http.get(f"{control}/counters").json()
    assert counters["GET /v2/items"] == 2
    assert counters["GET /v2/accounts/{account_id}"] == 1

    clock = http.post(f"{control}/clock", json={"now": "2031-01-01T00:00:00Z"}).json()
    assert clock["now"].startswith("2031-01-01T00:00:0")
    assert http.post(f"{control}/clock", json={"reset": True}).status_code == 200

    config = http.post(f"{control}/config", json={"webhook_secret": ["a", "b"]}).json()
    assert config["webhook_secrets"] == 2
    sent = http.post(
        f"{control}/items/{item['id']}/webhooks", json={"sync": True}
    ).json()
    assert [d["type"] for d in sent] == [
        "item.created",
        "item.account.created",
        "item.refreshed",
    ]
    waited = http.post(f"{control}/webhooks/wait", json={"timeout": 5}).json()
    assert waited["done"] is True

    assert http.post(f"{control}/reset").status_code == 204
    assert http.get(f"{control}/state").json() == {"users": [], "items": []}
    assert http.get(f"{control}/counters").json() == {}
    assert http.post(f"{control}/faults", json={"endpoint": "nope"}).status_code == 400
    assert http.get(f"{control}/nothing").status_code == 404


def test_seeded_ibans_are_valid(emulator):
    user = emulator.add_user()
    for bank in emulator.banks():
        item = emulator.add_item(user["uuid"], bank_id=bank["id"], accounts=2)
        for account in item["accounts"]:
            assert stdnum_iban.is_valid(account["iban"]), account["iban"]


def test_binds_loopback_by_default(emulator):
    assert emulator.host == "127.0.0.1"
    assert emulator.url.startswith("http://127.0.0.1:")


def test_command_line(tmp_path, http):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridge_emulator",
            "--port",
            "0",
            "--webhook-url",
            "http://127.0.0.1:9/webhook",
            "--webhook-secret",
            "cli-secret",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        assert http.get(f"{url}/_emulator/health").json()["status"] == "ok"
        config = http.get(f"{url}/_emulator/config").json()
        assert config["webhook_url"] == "http://127.0.0.1:9/webhook"
        assert config["webhook_secrets"] == 1
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        process.stdout.close()
