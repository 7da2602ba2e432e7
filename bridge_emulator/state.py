"""The emulator's state: users, tokens, items, accounts, Connect sessions, banks.

Everything here is guarded by one re-entrant lock and reads time from one settable
clock. Operations that Bridge would refuse raise ``ApiError``, which the HTTP layer
writes in the error shape of the API version called.
"""

import base64
import re
import secrets
import threading
import uuid as uuid_module
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from . import banks as banks_module

TOKEN_LIFETIME = timedelta(hours=2)
AUTH_LIMIT = (10, 60)  # authentications per user per 60 s
REQUEST_LIMIT = (60, 60)  # requests per user per 60 s
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FIRST_ITEM_ID = 9_000_001
FIRST_ACCOUNT_ID = 40_000_001


class ApiError(Exception):
    """An error answer: HTTP status, Bridge error type/code, message, property."""

    def __init__(self, status, code, message, prop=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.property = prop


def utc_now():
    return datetime.now(timezone.utc)


def iso(moment):
    """Bridge's date-time format: UTC, milliseconds, ``Z``."""
    text = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-3] + "Z"


class Clock:
    """The emulator's clock: real time plus a settable offset."""

    def __init__(self):
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self):
        with self._lock:
            return utc_now() + self._offset

    def set(self, moment):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        with self._lock:
            self._offset = moment - utc_now()

    def advance(self, seconds):
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def reset(self):
        with self._lock:
            self._offset = timedelta(0)


@dataclass
class Fault:
    """A fault injected on an endpoint, for ``times`` calls (None: until cleared)."""

    status: int | None = None
    latency: float = 0.0
    drop: bool = False
    times: int | None = 1
    body: object = None

    def as_dict(self):
        return {
            "status": self.status,
            "latency": self.latency,
            "drop": self.drop,
            "times": self.times,
            "body": self.body,
        }


class EmulatorState:
    """All that the emulator remembers."""

    def __init__(
        self,
        *,
        page_size=DEFAULT_PAGE_SIZE,
        max_page_size=MAX_PAGE_SIZE,
        rate_limits=True,
        allow_password_users=True,
    ):
        self.lock = threading.RLock()
        self.clock = Clock()
        # Page size without `limit`, and the most a `limit` can ask for.
        self.page_size = min(page_size, max_page_size)
        self.max_page_size = max_page_size
        self.rate_limits = rate_limits
        self.allow_password_users = allow_password_users
        self.reset()

    def reset(self):
        """Forget everything: data, tokens, counters, faults; the clock is real."""
        with self.lock:
            self.users = {}
            self.tokens = {}
            self.items = {}
            self.accounts = {}
            self.sessions = {}
            self.banks = {bank["id"]: bank for bank in banks_module.bank_records()}
            self.counters = Counter()
            self.faults = {}
            self._windows = {}
            self._next_item_id = FIRST_ITEM_ID
            self._next_account_id = FIRST_ACCOUNT_ID
            self._next_serial = 1
            self.clock.reset()

    # ------------------------------------------------------------------
    # Counters, faults, rate limits
    # ------------------------------------------------------------------

    def count(self, endpoint):
        with self.lock:
            self.counters[endpoint] += 1

    def add_fault(self, endpoint, fault):
        with self.lock:
            self.faults.setdefault(endpoint, []).append(fault)

    def take_fault(self, endpoint):
        """Return the fault to apply to this call of ``endpoint`` (or of ``*``)."""
        with self.lock:
            for key in (endpoint, "*"):
                queue = self.faults.get(key)
                if not queue:
                    continue
                fault = queue[0]
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.pop(0)
                return fault
            return None

    def _hit(self, key, limit):
        """Record a hit on a sliding window; False when over the limit."""
        if not self.rate_limits:
            return True
        count, window = limit
        now = self.clock.now()
        with self.lock:
            hits = self._windows.setdefault(key, deque())
            while hits and (now - hits[0]).total_seconds() >= window:
                hits.popleft()
            if len(hits) >= count:
                return False
            hits.append(now)
            return True

    def check_auth_rate(self, user_key):
        if not self._hit(("auth", user_key), AUTH_LIMIT):
            raise ApiError(
                429, "too_many_requests", "Too many authentications for this user"
            )

    def check_request_rate(self, user_uuid):
        if not self._hit(("request", user_uuid), REQUEST_LIMIT):
            raise ApiError(429, "too_many_requests", "Too many requests for this user")

    # ------------------------------------------------------------------
    # Users and tokens
    # ------------------------------------------------------------------

    def create_user(
        self, *, email=None, password=None, external_user_id=None, uuid=None
    ):
        with self.lock:
            if email is not None:
                if not isinstance(email, str) or not EMAIL_RE.match(email):
                    raise ApiError(400, "invalid_request", "Invalid email", "email")
                if not isinstance(password, str) or not 6 <= len(password) <= 72:
                    raise ApiError(
                        400,
                        "invalid_request",
                        "Password must be 6 to 72 characters",
                        "password",
                    )
                if self.find_user(email=email):
                    raise ApiError(409, "conflict", "User already exists", "email")
            if external_user_id is not None:
                if not isinstance(external_user_id, str) or not external_user_id:
                    raise ApiError(
                        400,
                        "invalid_request",
                        "Invalid external_user_id",
                        "external_user_id",
                    )
                if self.find_user(external_user_id=external_user_id):
                    raise ApiError(
                        409, "conflict", "User already exists", "external_user_id"
                    )
            user_uuid = uuid or str(uuid_module.uuid4())
            if user_uuid in self.users:
                raise ApiError(409, "conflict", "User already exists", "uuid")
            user = {
                "uuid": user_uuid,
                "email": email,
                "password": password,
                "external_user_id": external_user_id,
            }
            self.users[user_uuid] = user
            return dict(user)

    def find_user(self, *, user_uuid=None, external_user_id=None, email=None):
        with self.lock:
            if user_uuid is not None:
                return self.users.get(user_uuid)
            for user in self.users.values():
                if external_user_id is not None:
                    if user["external_user_id"] == external_user_id:
                        return user
                elif (
                    email is not None
                    and user["email"]
                    and user["email"].lower() == email.lower()
                ):
                    return user
            return None

    def delete_user(self, user_uuid):
        with self.lock:
            if self.users.pop(user_uuid, None) is None:
                raise ApiError(404, "not_found", "User not found")
            for item_id in [
                i for i, it in self.items.items() if it["user"] == user_uuid
            ]:
                self._drop_item(item_id)
            self.tokens = {
                token: record
                for token, record in self.tokens.items()
                if record["user_uuid"] != user_uuid
            }

    def issue_token(self, user_uuid):
        """Return a new access token record for the user: 2 hours of life."""
        with self.lock:
            if user_uuid not in self.users:
                raise ApiError(404, "not_found", "User not found")
            token = f"{uuid_module.uuid4()}-{secrets.token_hex(16)}"
            record = {
                "access_token": token,
                "user_uuid": user_uuid,
                "expires_at": self.clock.now() + TOKEN_LIFETIME,
            }
            self.tokens[token] = record
            return dict(record)

    def user_for_token(self, token):
        with self.lock:
            record = self.tokens.get(token) if token else None
            if record is None:
                raise ApiError(401, "unauthorized", "Invalid access token")
            if record["expires_at"] <= self.clock.now():
                raise ApiError(401, "unauthorized", "Access token expired")
            return record["user_uuid"]

    # ------------------------------------------------------------------
    # Items and accounts
    # ------------------------------------------------------------------

    def next_serial(self):
        with self.lock:
            serial = self._next_serial
            self._next_serial += 1
            return serial

    def proposed_accounts(self, bank_id):
        """Accounts the Connect page proposes for a bank, with fresh valid IBANs."""
        bank = self.banks[bank_id]
        return [
            {
                "name": name,
                "type": account_type,
                "balance": balance,
                "iban": banks_module.make_iban(bank, self.next_serial()),
            }
            for name, account_type, balance in banks_module.DEFAULT_ACCOUNTS
        ]

    def add_item(self, user_uuid, bank_id, accounts, *, status=0):
        """Create an item and its accounts; return the item with ``account_ids``.

        ``accounts``: a number of default accounts, or dicts with ``iban`` (None for
        an account without IBAN), and optional ``name``, ``balance``,
        ``currency_code``, ``type``, ``is_pro``.
        """
        with self.lock:
            if user_uuid not in self.users:
                raise ApiError(404, "not_found", "User not found")
            if bank_id not in self.banks:
                raise ApiError(400, "invalid_request", "Unknown bank", "bank_id")
            if isinstance(accounts, int):
                bank = self.banks[bank_id]
                accounts = [
                    {"iban": banks_module.make_iban(bank, self.next_serial())}
                    for _index in range(accounts)
                ]
            item_id = self._next_item_id
            self._next_item_id += 1
            item = {
                "id": item_id,
                "user": user_uuid,
                "bank_id": bank_id,
                "status": status,
                "status_code_info": "OK" if status == 0 else None,
                "status_code_description": None,
                "account_ids": [],
            }
            self.items[item_id] = item
            for index, spec in enumerate(accounts, start=1):
                self._add_account(item, index, spec)
            return self.item_view(item_id)

    def _add_account(self, item, index, spec):
        account_id = self._next_account_id
        self._next_account_id += 1
        bank = self.banks[item["bank_id"]]
        iban = spec.get("iban")
        iban = "".join(iban.split()).upper() if iban else None
        self.accounts[account_id] = {
            "id": account_id,
            "item_id": item["id"],
            "user": item["user"],
            "bank_id": item["bank_id"],
            "name": spec.get("name") or f"Compte {index} {bank['name']}",
            "iban": iban,
            "balance": Decimal(str(spec.get("balance", "1000.00"))),
            "currency_code": spec.get("currency_code", "EUR"),
            "type": spec.get("type", "checking"),
            "is_pro": bool(spec.get("is_pro", False)),
            "updated_at": self.clock.now(),
        }
        item["account_ids"].append(account_id)

    def item_view(self, item_id):
        """A copy of an item with its accounts, for Python callers."""
        with self.lock:
            item = dict(self.items[item_id])
            item["user_uuid"] = item.pop("user")
            item["account_ids"] = list(item["account_ids"])
            item["accounts"] = [
                self.account_view(account_id) for account_id in item["account_ids"]
            ]
            return item

    def account_view(self, account_id):
        with self.lock:
            account = dict(self.accounts[account_id])
            account["user_uuid"] = account.pop("user")
            return account

    def user_items(self, user_uuid):
        with self.lock:
            return sorted(
                (item for item in self.items.values() if item["user"] == user_uuid),
                key=lambda item: item["id"],
            )

    def user_item(self, user_uuid, item_id):
        with self.lock:
            item = self.items.get(item_id)
            if item is None or item["user"] != user_uuid:
                raise ApiError(404, "not_found", "Item not found")
            return item

    def user_accounts(self, user_uuid, item_id=None):
        with self.lock:
            return sorted(
                (
                    account
                    for account in self.accounts.values()
                    if account["user"] == user_uuid
                    and (item_id is None or account["item_id"] == item_id)
                ),
                key=lambda account: account["id"],
            )

    def user_account(self, user_uuid, account_id):
        with self.lock:
            account = self.accounts.get(account_id)
            if account is None or account["user"] != user_uuid:
                raise ApiError(404, "not_found", "Account not found")
            return account

    def delete_item(self, user_uuid, item_id):
        with self.lock:
            self.user_item(user_uuid, item_id)
            self._drop_item(item_id)

    def _drop_item(self, item_id):
        item = self.items.pop(item_id)
        for account_id in item["account_ids"]:
            self.accounts.pop(account_id, None)

    # ------------------------------------------------------------------
    # Connect sessions
    # ------------------------------------------------------------------

    def create_session(self, user_uuid, *, email=None, callback_url=None, country="fr"):
        with self.lock:
            session_id = str(uuid_module.uuid4())
            self.sessions[session_id] = {
                "id": session_id,
                "user_uuid": user_uuid,
                "email": email,
                "callback_url": callback_url,
                "country": country or "fr",
                "item_id": None,
                "created_at": self.clock.now(),
            }
            return dict(self.sessions[session_id])

    def session(self, session_id):
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                raise ApiError(404, "not_found", "Unknown Connect session")
            return session


def encode_cursor(last_id):
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_request", "Invalid cursor", "after") from None
