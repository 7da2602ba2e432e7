# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Facts of Bridge's API (bridgeapi.io) that the addon codes to.

Plain Python, no ``odoo`` import: used by the models and by ``bridge/``.
Source: ``bridge-api.md`` (Bridge's public documentation, its e-commerce plugins).
"""

DEFAULT_BASE_URL = "https://api.bridgeapi.io"

# The `Bridge-Version` header. v2 is deprecated on 31/12/2027.
API_VERSION_V2 = "2021-06-01"
API_VERSION_V3 = "2025-01-15"
API_VERSIONS = (API_VERSION_V2, API_VERSION_V3)
DEFAULT_API_VERSION = API_VERSION_V3

# Paths relative to the host, per API version and per call. A call that a version does
# not document is absent from that version's table.
ENDPOINTS = {
    API_VERSION_V2: {
        "create_user": ("POST", "/v2/users"),
        "authenticate": ("POST", "/v2/authenticate"),
        "connect_session": ("POST", "/v2/connect/items/add"),
        "list_items": ("GET", "/v2/items"),
        "get_item": ("GET", "/v2/items/{item_id}"),
        "refresh_item": ("POST", "/v2/items/{item_id}/refresh"),
        "delete_item": ("DELETE", "/v2/items/{item_id}"),
        "list_accounts": ("GET", "/v2/accounts"),
        "get_account": ("GET", "/v2/accounts/{account_id}"),
        "list_banks": ("GET", "/v2/banks"),
        "delete_user": ("POST", "/v2/users/{user_uuid}/delete"),
    },
    API_VERSION_V3: {
        "create_user": ("POST", "/v3/aggregation/users"),
        "authenticate": ("POST", "/v3/aggregation/authorization/token"),
        "connect_session": ("POST", "/v3/aggregation/connect-sessions"),
        "list_items": ("GET", "/v3/aggregation/items"),
        "get_item": ("GET", "/v3/aggregation/items/{item_id}"),
        "delete_item": ("DELETE", "/v3/aggregation/items/{item_id}"),
        "list_accounts": ("GET", "/v3/aggregation/accounts"),
        "get_account": ("GET", "/v3/aggregation/accounts/{account_id}"),
        "list_banks": ("GET", "/v3/providers"),
        "delete_user": ("DELETE", "/v3/aggregation/users/{user_uuid}"),
    },
}

# Page size asked for on paginated lists (Bridge documents `limit=500` for banks).
PAGE_LIMIT = 500

# User access tokens live 2 hours (`expires_at` in the answer).
USER_TOKEN_LIFETIME_SECONDS = 2 * 60 * 60

# Documented rate limits, per window in seconds; over a limit Bridge answers 429.
RATE_LIMIT_AUTHENTICATIONS_PER_USER = (10, 60)
RATE_LIMIT_REQUESTS_PER_USER = (60, 60)
RATE_LIMIT_REQUESTS_PER_APPLICATION = (2000, 300)

# Webhooks
WEBHOOK_SIGNATURE_HEADER = "BridgeApi-Signature"
WEBHOOK_SIGNATURE_SCHEME = "v1"
# During a secret rotation, two secrets are valid for 24 hours.
WEBHOOK_MAX_SECRETS = 2
WEBHOOK_SOURCE_IPS = ("63.32.31.5", "52.215.247.62", "34.249.92.209")

EVENT_ITEM_CREATED = "item.created"
EVENT_ITEM_REFRESHED = "item.refreshed"
EVENT_ITEM_DELETED = "item.deleted"
EVENT_ACCOUNT_CREATED = "item.account.created"
EVENT_ACCOUNT_UPDATED = "item.account.updated"
EVENT_ACCOUNT_DELETED = "item.account.deleted"
EVENT_USER_DELETED = "user.deleted"
EVENT_TEST = "TEST_EVENT"
HANDLED_WEBHOOK_EVENTS = (
    EVENT_ITEM_CREATED,
    EVENT_ITEM_REFRESHED,
    EVENT_ITEM_DELETED,
    EVENT_ACCOUNT_CREATED,
    EVENT_ACCOUNT_UPDATED,
    EVENT_ACCOUNT_DELETED,
    EVENT_USER_DELETED,
    EVENT_TEST,
)

# Item status codes (item `status`, webhook `status_code`).
ITEM_STATUS_OK = 0
ITEM_STATUS_SCA_REQUIRED = 1010
ITEM_STATUS_CODES = {
    0: "OK",
    -2: "Just added, refresh pending",
    -3: "Credentials edited, refresh pending",
    402: "Wrong credentials",
    429: "Action needed in the online bank",
    1003: "Temporary failure, retry later",
    1005: "Not supported",
    1007: "Refresh disabled",
    1009: "Incomplete",
    1010: "Strong authentication (SCA/OTP) needed: send the user back to the webview",
    1099: "Migrating",
    1100: "Pro account needs validation",
}
# Codes after which the user must go back through Bridge's webview.
ITEM_STATUS_USER_ACTION_NEEDED = (402, 429, 1010, 1100)
