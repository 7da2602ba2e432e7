# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Everything that speaks Bridge, in plain Python: no ``odoo`` import here.

Used by the addon and tested on its own (repo-level ``tests/``).
"""

from .client import BridgeClient
from .errors import (
    BridgeAuthenticationError,
    BridgeConflictError,
    BridgeError,
    BridgeInvalidRequestError,
    BridgeNotFoundError,
    BridgeRateLimitError,
    BridgeResponseError,
    BridgeTimeoutError,
    BridgeUnavailableError,
    BridgeUnsupportedError,
)
from .iban import format_iban, is_valid_iban, normalize_iban, validate_iban
from .token_cache import TokenCache
from .types import Account, Bank, ConnectSession, Item, User, UserToken
from .webhook import (
    AccountEventContent,
    AccountUpdatedContent,
    ItemEventContent,
    ItemRefreshedContent,
    TestEventContent,
    UserDeletedContent,
    WebhookEvent,
    WebhookPayloadError,
    compute_signature,
    parse_event,
    verify_signature,
)

__all__ = [
    "Account",
    "AccountEventContent",
    "AccountUpdatedContent",
    "Bank",
    "BridgeAuthenticationError",
    "BridgeClient",
    "BridgeConflictError",
    "BridgeError",
    "BridgeInvalidRequestError",
    "BridgeNotFoundError",
    "BridgeRateLimitError",
    "BridgeResponseError",
    "BridgeTimeoutError",
    "BridgeUnavailableError",
    "BridgeUnsupportedError",
    "ConnectSession",
    "Item",
    "ItemEventContent",
    "ItemRefreshedContent",
    "TestEventContent",
    "TokenCache",
    "User",
    "UserDeletedContent",
    "UserToken",
    "WebhookEvent",
    "WebhookPayloadError",
    "compute_signature",
    "format_iban",
    "is_valid_iban",
    "normalize_iban",
    "parse_event",
    "validate_iban",
    "verify_signature",
]
