# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Typed answers of Bridge's API, the same shape whatever the API version.

Each ``from_api`` reads one resource as Bridge returns it, in v2 (2021-06-01) or v3
(2025-01-15): v3 omits null fields and renames ``bank_id`` to ``provider_id`` and
``parent_name`` to ``group_name``. A resource without its identifier raises
``BridgeResponseError``; other fields are read defensively (absent or of an unexpected
type gives None), since Bridge adds and drops optional fields between versions.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from .errors import BridgeResponseError
from .iban import normalize_iban


def parse_datetime(value):
    """Return an aware datetime from an ISO 8601 string, None if unreadable.

    Bridge writes UTC with a ``Z`` suffix; a naive value is taken as UTC.
    """
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def parse_amount(value):
    """Return a Decimal from a JSON number (or numeric string), None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float | str):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None
        return amount if amount.is_finite() else None
    return None


def _require(data, name, kind):
    if not isinstance(data, dict):
        raise BridgeResponseError(code="invalid_response", message="not a JSON object")
    value = data.get(name)
    if kind is int and isinstance(value, str) and value.isascii() and value.isdigit():
        # Identifiers are integers; a numeric string is read as one, defensively.
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, kind) or value == "":
        raise BridgeResponseError(
            code="invalid_response", message=f"missing or invalid '{name}'"
        )
    return value


def _optional(data, name, kind):
    value = data.get(name)
    if isinstance(value, bool) and kind is not bool:
        return None
    return value if isinstance(value, kind) else None


def _optional_int(data, *names):
    for name in names:
        value = data.get(name)
        digits = value.removeprefix("-") if isinstance(value, str) else ""
        if digits.isascii() and digits.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _lower(value):
    return value.lower() if isinstance(value, str) else None


@dataclass(frozen=True)
class User:
    """A Bridge user. ``uuid`` is the identifier kept for every later call."""

    uuid: str
    email: str | None = None
    external_user_id: str | None = None

    @classmethod
    def from_api(cls, data):
        return cls(
            uuid=_require(data, "uuid", str),
            email=_optional(data, "email", str),
            external_user_id=_optional(data, "external_user_id", str),
        )


@dataclass(frozen=True)
class UserToken:
    """A user access token; ``repr`` never shows it."""

    access_token: str = field(repr=False)
    expires_at: datetime
    user_uuid: str | None = None

    def expires_within(self, seconds, now):
        """Return whether the token expires less than ``seconds`` after ``now``."""
        return (self.expires_at - now).total_seconds() < seconds


@dataclass(frozen=True)
class ConnectSession:
    """A Bridge Connect (webview) session: the URL to send the user to.

    v2 answers only ``redirect_url``: ``id`` is None there.
    """

    url: str
    id: str | None = None


@dataclass(frozen=True)
class Item:
    """A connection between a Bridge user and a bank (an "item")."""

    id: int
    status: int | None = None
    status_code_info: str | None = None
    status_code_description: str | None = None
    bank_id: int | None = None

    @classmethod
    def from_api(cls, data):
        return cls(
            id=_require(data, "id", int),
            status=_optional_int(data, "status"),
            status_code_info=_optional(data, "status_code_info", str),
            status_code_description=_optional(data, "status_code_description", str),
            bank_id=_optional_int(data, "bank_id", "provider_id"),
        )


@dataclass(frozen=True)
class Account:
    """A bank account as Bridge sees it. ``iban`` is compact, or None if unknown."""

    id: int
    item_id: int | None = None
    bank_id: int | None = None
    iban: str | None = None
    name: str | None = None
    currency: str | None = None
    type: str | None = None
    balance: Decimal | None = None

    @classmethod
    def from_api(cls, data):
        iban = _optional(data, "iban", str)
        currency = _optional(data, "currency_code", str)
        return cls(
            id=_require(data, "id", int),
            item_id=_optional_int(data, "item_id"),
            bank_id=_optional_int(data, "bank_id", "provider_id"),
            iban=normalize_iban(iban),
            name=_optional(data, "name", str),
            currency=currency.upper() if currency else None,
            # v3 enum values are lower case; v2 ones are made so too.
            type=_lower(_optional(data, "type", str)),
            balance=parse_amount(data.get("balance")),
        )


@dataclass(frozen=True)
class Bank:
    """A bank (v2 ``/banks``) or provider (v3 ``/providers``)."""

    id: int
    name: str | None = None
    country_code: str | None = None
    group_name: str | None = None
    logo_url: str | None = None
    capabilities: tuple = ()

    @classmethod
    def from_api(cls, data):
        country = _optional(data, "country_code", str)
        capabilities = data.get("capabilities")
        return cls(
            id=_require(data, "id", int),
            name=_optional(data, "name", str),
            country_code=country.lower() if country else None,
            group_name=_optional(data, "group_name", str)
            or _optional(data, "parent_name", str),
            logo_url=_optional(data, "logo_url", str),
            capabilities=tuple(
                str(capability)
                for capability in (
                    capabilities if isinstance(capabilities, list) else ()
                )
            ),
        )
