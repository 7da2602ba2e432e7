"""Bridge's documented API, both versions, answered from ``EmulatorState``.

Each handler takes a ``Call`` (version, body, query, path parameters, headers) and
returns ``(status, json_body)``; refusals raise ``ApiError``.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from .state import MAX_PAGE_SIZE, ApiError, decode_cursor, encode_cursor, iso

V2 = "2021-06-01"
V3 = "2025-01-15"
VERSION_BY_PREFIX = {"v2": V2, "v3": V3}


@dataclass
class Call:
    emulator: object
    version: str
    method: str
    path: str
    params: dict
    query: dict
    body: dict
    headers: object

    @property
    def state(self):
        return self.emulator.state

    @property
    def v2(self):
        return self.version == V2

    def user_uuid(self):
        """The user of the Bearer token; counts towards the per-user rate limit."""
        header = self.headers.get("Authorization") or ""
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "Missing access token")
        user_uuid = self.state.user_for_token(token.strip())
        self.state.check_request_rate(user_uuid)
        return user_uuid

    def int_param(self, name):
        value = self.params[name]
        if not value.isdigit():
            raise ApiError(404, "not_found", f"Unknown {name}")
        return int(value)


def omit_none(data):
    """v3 omits null fields."""
    return {key: value for key, value in data.items() if value is not None}


# ----------------------------------------------------------------------
# Serializers
# ----------------------------------------------------------------------


def item_json(item, version):
    data = {
        "id": item["id"],
        "status": item["status"],
        "status_code_info": item["status_code_info"],
        "status_code_description": item["status_code_description"],
    }
    if version == V2:
        data["bank_id"] = item["bank_id"]
        return data
    data["provider_id"] = item["bank_id"]
    return omit_none(data)


def account_json(account, version):
    data = {
        "id": account["id"],
        "name": account["name"],
        "balance": float(account["balance"]),
        "type": account["type"],
        "currency_code": account["currency_code"],
        "item_id": account["item_id"],
        "iban": account["iban"],
        "updated_at": iso(account["updated_at"]),
    }
    if version == V2:
        data.update(status=0, bank_id=account["bank_id"], is_pro=account["is_pro"])
        return data
    data["provider_id"] = account["bank_id"]
    return omit_none(data)


def bank_json(bank, version):
    data = {
        "id": bank["id"],
        "name": bank["name"],
        "country_code": bank["country_code"],
        "logo_url": bank["logo_url"],
        "capabilities": bank["capabilities"],
    }
    if version == V2:
        data["parent_name"] = bank["group_name"]
        return data
    data["group_name"] = bank["group_name"]
    # The shape of `health_status` is not documented [?].
    data["health_status"] = {"aggregation": {"status": "healthy"}}
    return data


def user_json(user, version):
    data = {
        "uuid": user["uuid"],
        "email": user["email"],
        "external_user_id": user["external_user_id"],
    }
    return data if version == V2 else omit_none(data)


def paginate(call, records, serialize):
    """One page of ``records`` (sorted by id) and the ``next_uri`` of the next."""
    raw_limit = call.query.get("limit")
    if raw_limit is None:
        limit = call.state.page_size
    elif raw_limit.isdigit() and int(raw_limit) > 0:
        limit = int(raw_limit)
    else:
        raise ApiError(400, "invalid_request", "Invalid limit", "limit")
    limit = min(limit, call.state.max_page_size, MAX_PAGE_SIZE)
    after = call.query.get("after")
    if after:
        last_id = decode_cursor(after)
        records = [record for record in records if record["id"] > last_id]
    page, rest = records[:limit], records[limit:]
    next_uri = None
    if rest:
        query = {k: v for k, v in call.query.items() if k not in ("after", "limit")}
        query.update(after=encode_cursor(page[-1]["id"]), limit=limit)
        next_uri = f"{call.path}?{urlencode(query)}"
    return 200, {
        "resources": [serialize(record, call.version) for record in page],
        "pagination": {"next_uri": next_uri},
    }


# ----------------------------------------------------------------------
# Handlers
# ----------------------------------------------------------------------


def _string(body, name):
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise ApiError(400, "invalid_request", f"Invalid {name}", name)
    return value


def create_user(call):
    email = _string(call.body, "email")
    password = call.body.get("password")
    external_user_id = _string(call.body, "external_user_id")
    if email is not None or password is not None:
        if not call.v2:
            raise ApiError(400, "invalid_request", "Unknown property", "email")
        if not call.state.allow_password_users:
            raise ApiError(403, "forbidden", "Email and password users are not allowed")
        if email is None:
            raise ApiError(400, "invalid_request", "Missing email", "email")
    user = call.state.create_user(
        email=email, password=password, external_user_id=external_user_id
    )
    return 201, user_json(user, call.version)


def _user_to_authenticate(call):
    """The user a token is asked for, after the per-user authentication limit."""
    body = call.body
    email = _string(body, "email")
    user_uuid = _string(body, "user_uuid")
    external_user_id = _string(body, "external_user_id")
    if email is not None and call.v2:
        user = call.state.find_user(email=email)
        call.state.check_auth_rate(user["uuid"] if user else f"email:{email.lower()}")
        if user is None or user["password"] != body.get("password"):
            raise ApiError(401, "invalid_credentials", "Wrong email or password")
        return user
    if user_uuid is not None:
        user = call.state.find_user(user_uuid=user_uuid)
        key = user_uuid
    elif external_user_id is not None:
        user = call.state.find_user(external_user_id=external_user_id)
        key = user["uuid"] if user else f"external:{external_user_id}"
    else:
        raise ApiError(400, "invalid_request", "Missing user_uuid", "user_uuid")
    call.state.check_auth_rate(key)
    if user is None:
        raise ApiError(404, "not_found", "User not found")
    return user


def authenticate(call):
    user = _user_to_authenticate(call)
    token = call.state.issue_token(user["uuid"])
    data = {
        "access_token": token["access_token"],
        "expires_at": iso(token["expires_at"]),
    }
    if call.v2:
        data["user"] = {"uuid": user["uuid"], "email": user["email"]}
        return 200, data
    return 201, data


def connect_session(call):
    user_uuid = call.user_uuid()
    if call.v2:
        email = _string(call.body, "prefill_email")
        callback_url = _string(call.body, "redirect_url")
        country = _string(call.body, "country") or "fr"
    else:
        email = _string(call.body, "user_email")
        if not email:
            raise ApiError(400, "invalid_request", "Missing user_email", "user_email")
        callback_url = _string(call.body, "callback_url")
        country = "fr"
    session = call.emulator.create_connect_session(
        user_uuid, email=email, callback_url=callback_url, country=country
    )
    if call.v2:
        return 200, {"redirect_url": session["url"]}
    return 200, {"id": session["id"], "url": session["url"]}


def list_items(call):
    return paginate(call, call.state.user_items(call.user_uuid()), item_json)


def get_item(call):
    item = call.state.user_item(call.user_uuid(), call.int_param("item_id"))
    return 200, item_json(item, call.version)


def refresh_item(call):
    item = call.state.user_item(call.user_uuid(), call.int_param("item_id"))
    call.emulator.send_refresh_webhooks(item["id"])
    return 202, None


def delete_item(call):
    user_uuid = call.user_uuid()
    item_id = call.int_param("item_id")
    call.state.delete_item(user_uuid, item_id)
    call.emulator.send_webhooks(
        [("item.deleted", {"item_id": item_id, "user_uuid": user_uuid})]
    )
    return 204, None


def list_accounts(call):
    user_uuid = call.user_uuid()
    item_id = call.query.get("item_id")
    if item_id is not None and not item_id.isdigit():
        raise ApiError(400, "invalid_request", "Invalid item_id", "item_id")
    if item_id is not None:
        call.state.user_item(user_uuid, int(item_id))
    accounts = call.state.user_accounts(
        user_uuid, int(item_id) if item_id is not None else None
    )
    return paginate(call, accounts, account_json)


def get_account(call):
    account = call.state.user_account(call.user_uuid(), call.int_param("account_id"))
    return 200, account_json(account, call.version)


def list_banks(call):
    country = call.query.get("countries" if call.v2 else "country_code")
    countries = {c.strip().lower() for c in country.split(",")} if country else None
    banks = sorted(
        (
            bank
            for bank in call.state.banks.values()
            if countries is None or bank["country_code"] in countries
        ),
        key=lambda bank: bank["id"],
    )
    return paginate(call, banks, bank_json)


def delete_user(call):
    user_uuid = call.params["user_uuid"]
    user = call.state.find_user(user_uuid=user_uuid)
    password = call.body.get("password")
    # Whether v2 wants the password of an email user is not documented [?]: a wrong
    # one is refused, none is accepted.
    if user and password is not None and user["password"] != password:
        raise ApiError(401, "invalid_credentials", "Wrong password", "password")
    call.state.delete_user(user_uuid)
    call.emulator.send_webhooks([("user.deleted", {"user_uuid": user_uuid})])
    return 204, None


ROUTES = (
    ("POST", "/v2/users", create_user),
    ("POST", "/v2/authenticate", authenticate),
    ("POST", "/v2/connect/items/add", connect_session),
    ("GET", "/v2/items", list_items),
    ("GET", "/v2/items/{item_id}", get_item),
    ("POST", "/v2/items/{item_id}/refresh", refresh_item),
    ("DELETE", "/v2/items/{item_id}", delete_item),
    ("GET", "/v2/accounts", list_accounts),
    ("GET", "/v2/accounts/{account_id}", get_account),
    ("GET", "/v2/banks", list_banks),
    ("POST", "/v2/users/{user_uuid}/delete", delete_user),
    ("POST", "/v3/aggregation/users", create_user),
    ("POST", "/v3/aggregation/authorization/token", authenticate),
    ("POST", "/v3/aggregation/connect-sessions", connect_session),
    ("GET", "/v3/aggregation/items", list_items),
    ("GET", "/v3/aggregation/items/{item_id}", get_item),
    ("DELETE", "/v3/aggregation/items/{item_id}", delete_item),
    ("GET", "/v3/aggregation/accounts", list_accounts),
    ("GET", "/v3/aggregation/accounts/{account_id}", get_account),
    ("GET", "/v3/providers", list_banks),
    ("DELETE", "/v3/aggregation/users/{user_uuid}", delete_user),
)

ENDPOINTS = tuple(f"{method} {template}" for method, template, _handler in ROUTES)


def _compile(template):
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{pattern}$")


_COMPILED = tuple(
    (method, _compile(template), f"{method} {template}", handler)
    for method, template, handler in ROUTES
)


def match(method, path):
    """Return ``(endpoint, handler, params)``; endpoint None when nothing matches.

    A path that exists with another method gives the handler None (405).
    """
    path_found = False
    for route_method, pattern, endpoint, handler in _COMPILED:
        found = pattern.match(path)
        if found:
            if route_method == method:
                return endpoint, handler, found.groupdict()
            path_found = True
    if path_found:
        return None, False, {}
    return None, None, {}


def error_json(version, error):
    """Bridge's error body: v2 ``type``/``message``, v3 ``code``/``property``."""
    if version == V2:
        return {
            "type": error.code,
            "message": error.message,
            "documentation_url": None,
        }
    return omit_none(
        {"code": error.code, "property": error.property, "message": error.message}
    )
