# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Bridge webhooks: signature check and event parsing.

``verify_signature`` returns a bool and raises nothing for any header or body.
``parse_event`` returns a ``WebhookEvent``; a malformed payload raises
``WebhookPayloadError``, and nothing else, naming the field at fault.
"""

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType

from .. import const
from .types import parse_amount, parse_datetime

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Timestamps at or above this are milliseconds: 1e11 seconds is the year 5138,
# 1e11 milliseconds is March 1973.
MILLISECONDS_THRESHOLD = 100_000_000_000


class WebhookPayloadError(ValueError):
    """The webhook body is not a Bridge event; ``field`` names the part at fault."""

    def __init__(self, field, reason):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


# ----------------------------------------------------------------------
# Signature
# ----------------------------------------------------------------------


def compute_signature(body, secret):
    """Return the upper-case hex HMAC-SHA256 of ``body`` keyed with ``secret``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest().upper()


def verify_signature(body, header, secrets):
    """Return whether the ``BridgeApi-Signature`` header signs the raw ``body``.

    :param body: the raw request body (bytes; a str is encoded as UTF-8).
    :param header: the header's value: comma-separated ``<scheme>=<hex>`` entries.
        Only ``v1`` entries count, their hex in either case; other schemes are
        ignored. A missing or empty header is invalid.
    :param secrets: the webhook secret, or a sequence of up to two (during a secret
        rotation both are valid for 24 hours); empty ones are skipped. With no
        secret at all, nothing is valid.
    :return: True when any ``v1`` entry matches any secret. An empty body is never
        valid: Bridge always sends a JSON object.
    """
    if isinstance(secrets, str | bytes):
        secrets = [secrets]
    secrets = [secret for secret in (secrets or ()) if secret]
    if len(secrets) > const.WEBHOOK_MAX_SECRETS:
        raise ValueError(
            f"at most {const.WEBHOOK_MAX_SECRETS} webhook secrets can be valid at once"
        )
    if isinstance(body, str):
        body = body.encode("utf-8")
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    if not secrets or not body or not header or not isinstance(header, str):
        return False
    received = []
    for entry in header.split(","):
        scheme, _sep, value = entry.strip().partition("=")
        if scheme.strip().lower() == const.WEBHOOK_SIGNATURE_SCHEME and value.strip():
            received.append(value.strip().lower().encode("utf-8", "replace"))
    expected = [
        hmac.new(
            secret if isinstance(secret, bytes) else secret.encode("utf-8"),
            body,
            hashlib.sha256,
        )
        .hexdigest()
        .encode("ascii")
        for secret in secrets
    ]
    valid = False
    # No early exit: every comparison is made, each in constant time.
    for signature in received:
        for digest in expected:
            valid |= hmac.compare_digest(signature, digest)
    return valid


# ----------------------------------------------------------------------
# Event contents
# ----------------------------------------------------------------------


@dataclass(frozen=True)
class ItemEventContent:
    """``item.created``, ``item.deleted``."""

    item_id: int
    user_uuid: str


@dataclass(frozen=True)
class ItemRefreshedContent:
    """``item.refreshed``: the item's status after a refresh."""

    item_id: int
    user_uuid: str
    status_code: int | None = None
    status_code_info: str | None = None
    full_refresh: bool | None = None
    refresh_trigger: str | None = None
    account_types: str | tuple | None = None
    authentication_expires_at: datetime | None = None


@dataclass(frozen=True)
class AccountEventContent:
    """``item.account.created`` and ``item.account.deleted``.

    No IBAN and no bank id: the account must be fetched from the API for them.
    """

    account_id: int
    item_id: int
    user_uuid: str
    balance: Decimal | None = None


@dataclass(frozen=True)
class AccountUpdatedContent(AccountEventContent):
    """``item.account.updated``: counts of the transactions the refresh changed."""

    nb_new_transactions: int | None = None
    nb_updated_transactions: int | None = None
    nb_deleted_transactions: int | None = None


@dataclass(frozen=True)
class UserDeletedContent:
    """``user.deleted``."""

    user_uuid: str


@dataclass(frozen=True)
class TestEventContent:
    """``TEST_EVENT`` sent from Bridge's dashboard; its content is not documented."""

    __test__ = False  # not a pytest test class

    data: Mapping = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class WebhookEvent:
    """A Bridge webhook event.

    ``content`` is one of the ``*Content`` classes above for the handled types, and a
    read-only mapping of the raw content for any other type (``is_known`` False).
    """

    type: str
    timestamp: datetime
    content: object
    raw: Mapping = field(repr=False, compare=False, default=None)

    @property
    def is_known(self):
        return self.type in const.HANDLED_WEBHOOK_EVENTS


# ----------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------


def _read_int(content, name, required=False):
    value = content.get(name)
    if value is None:
        if required:
            raise WebhookPayloadError(f"content.{name}", "missing")
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        # Identifiers are JSON integers; a numeric string is accepted, defensively.
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WebhookPayloadError(f"content.{name}", "not an integer")
    return value


def _read_str(content, name, required=False):
    value = content.get(name)
    if value is None:
        if required:
            raise WebhookPayloadError(f"content.{name}", "missing")
        return None
    if not isinstance(value, str) or (required and not value):
        raise WebhookPayloadError(f"content.{name}", "not a non-empty string")
    return value


def _read_bool(content, name):
    value = content.get(name)
    if value is not None and not isinstance(value, bool):
        raise WebhookPayloadError(f"content.{name}", "not a boolean")
    return value


def _read_amount(content, name):
    value = content.get(name)
    if value is None:
        return None
    amount = parse_amount(value)
    if amount is None:
        raise WebhookPayloadError(f"content.{name}", "not a number")
    return amount


def _read_datetime(content, name):
    value = content.get(name)
    if value is None:
        return None
    moment = parse_datetime(value)
    if moment is None:
        raise WebhookPayloadError(f"content.{name}", "not an ISO 8601 date")
    return moment


def _read_account_types(content):
    # Documented by name only [?]: a string ("payment", "all") or a list of them.
    value = content.get("account_types")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise WebhookPayloadError("content.account_types", "not a string or list")


def _item_content(content):
    return ItemEventContent(
        item_id=_read_int(content, "item_id", required=True),
        user_uuid=_read_str(content, "user_uuid", required=True),
    )


def _item_refreshed_content(content):
    return ItemRefreshedContent(
        item_id=_read_int(content, "item_id", required=True),
        user_uuid=_read_str(content, "user_uuid", required=True),
        status_code=_read_int(content, "status_code"),
        status_code_info=_read_str(content, "status_code_info"),
        full_refresh=_read_bool(content, "full_refresh"),
        refresh_trigger=_read_str(content, "refresh_trigger"),
        account_types=_read_account_types(content),
        authentication_expires_at=_read_datetime(content, "authentication_expires_at"),
    )


def _account_content(content):
    return AccountEventContent(
        account_id=_read_int(content, "account_id", required=True),
        item_id=_read_int(content, "item_id", required=True),
        user_uuid=_read_str(content, "user_uuid", required=True),
        balance=_read_amount(content, "balance"),
    )


def _account_updated_content(content):
    return AccountUpdatedContent(
        account_id=_read_int(content, "account_id", required=True),
        item_id=_read_int(content, "item_id", required=True),
        user_uuid=_read_str(content, "user_uuid", required=True),
        balance=_read_amount(content, "balance"),
        nb_new_transactions=_read_int(content, "nb_new_transactions"),
        nb_updated_transactions=_read_int(content, "nb_updated_transactions"),
        nb_deleted_transactions=_read_int(content, "nb_deleted_transactions"),
    )


def _user_deleted_content(content):
    return UserDeletedContent(user_uuid=_read_str(content, "user_uuid", required=True))


def _test_content(content):
    return TestEventContent(MappingProxyType(dict(content)))


CONTENT_PARSERS = {
    const.EVENT_ITEM_CREATED: _item_content,
    const.EVENT_ITEM_REFRESHED: _item_refreshed_content,
    const.EVENT_ITEM_DELETED: _item_content,
    const.EVENT_ACCOUNT_CREATED: _account_content,
    const.EVENT_ACCOUNT_UPDATED: _account_updated_content,
    # Its content is not documented [?]; taken to be that of item.account.created.
    const.EVENT_ACCOUNT_DELETED: _account_content,
    const.EVENT_USER_DELETED: _user_deleted_content,
    const.EVENT_TEST: _test_content,
}


def parse_timestamp(value):
    """Return an aware UTC datetime from epoch milliseconds or seconds.

    Real events carry milliseconds, the dashboard's test event seconds.
    """
    if isinstance(value, str):
        try:
            value = int(value) if value.isascii() and value.isdigit() else float(value)
        except ValueError:
            raise WebhookPayloadError("timestamp", "not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WebhookPayloadError("timestamp", "not a number")
    if not math.isfinite(value) or value < 0:
        raise WebhookPayloadError("timestamp", "not a positive finite number")
    try:
        if value >= MILLISECONDS_THRESHOLD:
            if isinstance(value, int):
                return EPOCH + timedelta(milliseconds=value)
            return EPOCH + timedelta(seconds=value / 1000)
        return EPOCH + timedelta(seconds=value)
    except OverflowError:
        raise WebhookPayloadError("timestamp", "out of range") from None


def _load(payload):
    if isinstance(payload, Mapping):
        return dict(payload)
    if isinstance(payload, bytes | bytearray):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookPayloadError("body", "not UTF-8") from None
    if not isinstance(payload, str):
        raise WebhookPayloadError("body", "not bytes, text or a mapping")
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        raise WebhookPayloadError("body", "not JSON") from None


def parse_event(payload):
    """Return the ``WebhookEvent`` of a webhook body.

    :param payload: the raw body (bytes or str), or its already decoded mapping.
    :raise WebhookPayloadError: the only error raised, for anything malformed.
    """
    data = _load(payload)
    if not isinstance(data, dict):
        raise WebhookPayloadError("body", "not a JSON object")
    event_type = data.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise WebhookPayloadError("type", "missing or not a string")
    if "timestamp" not in data:
        raise WebhookPayloadError("timestamp", "missing")
    timestamp = parse_timestamp(data["timestamp"])
    content = data.get("content")
    parser = CONTENT_PARSERS.get(event_type)
    if content is None and (parser is None or event_type == const.EVENT_TEST):
        # Unknown events and the dashboard's test event may come without content.
        content = {}
    if not isinstance(content, dict):
        raise WebhookPayloadError("content", "missing or not an object")
    typed = parser(content) if parser else MappingProxyType(dict(content))
    return WebhookEvent(event_type, timestamp, typed, MappingProxyType(data))
