"""Webhook signature check and event parsing."""

import hashlib
import hmac
import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from openbanking_bridge.bridge import (
    AccountEventContent,
    AccountUpdatedContent,
    ItemEventContent,
    ItemRefreshedContent,
    TestEventContent,
    UserDeletedContent,
    WebhookPayloadError,
    parse_event,
    verify_signature,
)

SECRET = "whsec-current-6b1f"
OLD_SECRET = "whsec-previous-93ac"
BODY = (
    b'{"type":"item.account.created","timestamp":1732620000000,'
    b'"content":{"account_id":40000001,"item_id":9000001,'
    b'"user_uuid":"3f6b3c1e-5d1c-4f0e-9d7a-1d2b3c4d5e6f","balance":1520.35}}'
)


def hex_signature(body, secret):
    # Computed here, not with the code under test.
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event(event_type, content):
    return json.dumps({"type": event_type, "timestamp": 1, "content": content}).encode()


def changed_one_byte(body):
    position = body.index(b"1520")
    return body[:position] + b"9" + body[position + 1 :]


@pytest.mark.parametrize(
    ("body", "header", "secrets", "valid"),
    [
        (BODY, f"v1={hex_signature(BODY, SECRET).upper()}", [SECRET], True),
        (BODY, f"v1={hex_signature(BODY, SECRET).lower()}", [SECRET], True),
        (BODY, f"v1={hex_signature(BODY, OLD_SECRET)}", [SECRET, OLD_SECRET], True),
        (
            BODY,
            f"v1={hex_signature(BODY, 'unknown')},v1={hex_signature(BODY, SECRET)}",
            [SECRET],
            True,
        ),
        (BODY, f" v0=abc , v1={hex_signature(BODY, SECRET).upper()} ", SECRET, True),
        (BODY, f"v1={hex_signature(BODY, 'wrong-secret')}", [SECRET], False),
        (BODY, f"v1={hex_signature(BODY, OLD_SECRET)}", [SECRET], False),
        (BODY, f"v0={hex_signature(BODY, SECRET)}", [SECRET], False),
        (BODY, None, [SECRET], False),
        (BODY, "", [SECRET], False),
        (BODY, "v1=", [SECRET], False),
        (BODY, "v1=é", [SECRET], False),
        (changed_one_byte(BODY), f"v1={hex_signature(BODY, SECRET)}", [SECRET], False),
        (b"", f"v1={hex_signature(b'', SECRET)}", [SECRET], False),
        (BODY, f"v1={hex_signature(BODY, SECRET)}", [], False),
    ],
    ids=[
        "valid-upper-case",
        "valid-lower-case",
        "second-secret-during-rotation",
        "second-entry-matches",
        "other-scheme-ignored",
        "wrong-secret",
        "old-secret-after-rotation",
        "only-v0-entry",
        "no-header",
        "empty-header",
        "empty-v1",
        "non-ascii",
        "one-body-byte-changed",
        "empty-body",
        "no-secret-configured",
    ],
)
def test_signature(body, header, secrets, valid):
    assert verify_signature(body, header, secrets) is valid


def test_signature_takes_at_most_two_secrets():
    with pytest.raises(ValueError):
        verify_signature(BODY, "v1=00", ["a", "b", "c"])


def test_account_created():
    event = parse_event(BODY)

    assert event.type == "item.account.created"
    assert event.is_known
    assert event.timestamp == datetime(2024, 11, 26, 11, 20, tzinfo=timezone.utc)
    assert event.content == AccountEventContent(
        account_id=40000001,
        item_id=9000001,
        user_uuid="3f6b3c1e-5d1c-4f0e-9d7a-1d2b3c4d5e6f",
        balance=Decimal("1520.35"),
    )


@pytest.mark.parametrize(
    "timestamp",
    [1732620000, 1732620000000, 1732620000.0, "1732620000000"],
    ids=["seconds", "milliseconds", "float-seconds", "string"],
)
def test_timestamp_in_seconds_or_milliseconds(timestamp):
    event = parse_event(
        {"type": "TEST_EVENT", "timestamp": timestamp, "content": {"any": 1}}
    )

    assert event.timestamp == datetime(2024, 11, 26, 11, 20, tzinfo=timezone.utc)
    assert event.timestamp.tzinfo is not None
    assert event.content == TestEventContent({"any": 1})


@pytest.mark.parametrize(
    ("event_type", "content", "expected"),
    [
        (
            "item.created",
            {"item_id": 9, "user_uuid": "u-1"},
            ItemEventContent(9, "u-1"),
        ),
        (
            "item.deleted",
            {"item_id": "9", "user_uuid": "u-1"},
            ItemEventContent(9, "u-1"),
        ),
        (
            "item.refreshed",
            {
                "item_id": 9,
                "user_uuid": "u-1",
                "status_code": 1010,
                "status_code_info": "SCA required",
                "full_refresh": False,
                "refresh_trigger": "scheduler",
                "account_types": "payment",
                "authentication_expires_at": "2025-05-01T10:00:00.000Z",
            },
            ItemRefreshedContent(
                9,
                "u-1",
                1010,
                "SCA required",
                False,
                "scheduler",
                "payment",
                datetime(2025, 5, 1, 10, tzinfo=timezone.utc),
            ),
        ),
        (
            "item.account.updated",
            {
                "account_id": 4,
                "item_id": 9,
                "user_uuid": "u-1",
                "balance": -12.5,
                "nb_new_transactions": 3,
                "nb_updated_transactions": 0,
                "nb_deleted_transactions": 1,
            },
            AccountUpdatedContent(4, 9, "u-1", Decimal("-12.5"), 3, 0, 1),
        ),
        (
            "item.account.deleted",
            {"account_id": 4, "item_id": 9, "user_uuid": "u-1"},
            AccountEventContent(4, 9, "u-1"),
        ),
        ("user.deleted", {"user_uuid": "u-1"}, UserDeletedContent("u-1")),
    ],
)
def test_typed_contents(event_type, content, expected):
    body = json.dumps({"type": event_type, "timestamp": 1, "content": content})

    assert parse_event(body).content == expected


def test_unknown_type_gives_a_generic_event():
    event = parse_event(
        b'{"type":"payment.transaction.updated","timestamp":1,"content":{"a":[1]}}'
    )

    assert not event.is_known
    assert event.type == "payment.transaction.updated"
    assert dict(event.content) == {"a": [1]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"\xff\xfe", "body"),
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b"null", "body"),
        (b'{"timestamp": 1}', "type"),
        (b'{"type": 3, "timestamp": 1}', "type"),
        (b'{"type": "user.deleted"}', "timestamp"),
        (b'{"type": "user.deleted", "timestamp": true}', "timestamp"),
        (b'{"type": "user.deleted", "timestamp": -5}', "timestamp"),
        (b'{"type": "user.deleted", "timestamp": 1e300}', "timestamp"),
        (b'{"type": "user.deleted", "timestamp": NaN}', "timestamp"),
        (b'{"type": "user.deleted", "timestamp": "soon"}', "timestamp"),
        (b'{"type": "user.deleted", "timestamp": 1}', "content"),
        (b'{"type": "user.deleted", "timestamp": 1, "content": []}', "content"),
        (event("user.deleted", {}), "content.user_uuid"),
        (event("item.created", {"item_id": True, "user_uuid": "u"}), "content.item_id"),
        (
            event(
                "item.account.created",
                {"account_id": 1, "item_id": 2, "user_uuid": "u", "balance": "lots"},
            ),
            "content.balance",
        ),
        (
            event(
                "item.refreshed", {"item_id": 2, "user_uuid": "u", "full_refresh": "y"}
            ),
            "content.full_refresh",
        ),
    ],
)
def test_malformed_payload_names_the_field(body, field):
    with pytest.raises(WebhookPayloadError) as caught:
        parse_event(body)

    assert caught.value.field == field
    assert field in str(caught.value)


def test_deeply_nested_json_is_a_payload_error():
    with pytest.raises(WebhookPayloadError):
        parse_event(b"[" * 100_000 + b"]" * 100_000)
