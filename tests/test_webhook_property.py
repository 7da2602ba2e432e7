"""Property: parsing any JSON value raises nothing but ``WebhookPayloadError``."""

import json

import pytest

pytest.importorskip("hypothesis")

from hypothesis import given, settings
from hypothesis import strategies as st

from openbanking_bridge import const
from openbanking_bridge.bridge import WebhookEvent, WebhookPayloadError
from openbanking_bridge.bridge.webhook import parse_event

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**10, max_value=10**16)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["", "12", "1732620000000", "2025-01-15T10:00:00Z", "-3"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = (
    "account_id",
    "item_id",
    "user_uuid",
    "balance",
    "status_code",
    "status_code_info",
    "full_refresh",
    "refresh_trigger",
    "account_types",
    "authentication_expires_at",
    "nb_new_transactions",
    "nb_updated_transactions",
    "nb_deleted_transactions",
)
# Bodies shaped like events, so that the content parsers are reached too.
EVENT_LIKE = st.fixed_dictionaries(
    {
        "type": st.sampled_from(const.HANDLED_WEBHOOK_EVENTS) | st.text(max_size=12),
        "timestamp": SCALARS,
        "content": st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=8)
        | JSON_VALUES,
    }
)


def check(payload):
    try:
        event = parse_event(payload)
    except WebhookPayloadError as error:
        assert error.field
        return
    assert isinstance(event, WebhookEvent)
    assert event.timestamp.tzinfo is not None


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES | EVENT_LIKE)
def test_any_json_value(value):
    check(json.dumps(value).encode())
    check(value if isinstance(value, dict) else json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes(body):
    check(body)
