# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Bridge API client: one small method per call, one way out (``_request``).

Both API versions are spoken, chosen by the ``Bridge-Version`` value given to the
client: ``2021-06-01`` (v2) and ``2025-01-15`` (v3). Answers come back as the
dataclasses of ``types``, the same whatever the version.
"""

import json
import logging
import random
import threading
import time
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import quote, urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from .. import const
from .errors import (
    BridgeError,
    BridgeResponseError,
    BridgeTimeoutError,
    BridgeUnavailableError,
    BridgeUnsupportedError,
    error_class_for_status,
)
from .token_cache import TokenCache, utc_now
from .types import Account, Bank, ConnectSession, Item, User, UserToken, parse_datetime

_logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (5, 30)
DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF_FACTOR = 0.5
DEFAULT_BACKOFF_MAX = 30.0
# Methods that can be sent twice without changing the outcome.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# A guard against a `next_uri` that never ends.
MAX_PAGES = 1000


class BridgeClient:
    """A client of Bridge's API for one application (client id and secret).

    :param base_url: scheme and host, e.g. ``https://api.bridgeapi.io``; every path
        starts with its version prefix (``/v2``, ``/v3``).
    :param version: ``const.API_VERSION_V2`` or ``const.API_VERSION_V3``.
    :param timeout: ``(connect, read)`` seconds, for every HTTP call.
    :param max_retries: retries of a call that is safe to repeat, after a 429, a 5xx,
        a connection error or a timeout; a request that may have been applied by
        Bridge (a POST that got no answer or a 5xx) is never repeated.
    :param backoff_factor: first retry delay in seconds, doubled at each retry,
        capped at ``backoff_max``, with random jitter.
    :param session: a ``requests.Session`` to use (keep-alive); one is made if None.
    :param token_cache: a ``TokenCache``, shared between clients if wanted.
    :param clock: a callable returning the aware current datetime.
    """

    def __init__(
        self,
        base_url=const.DEFAULT_BASE_URL,
        client_id="",
        client_secret="",
        version=const.DEFAULT_API_VERSION,
        *,
        timeout=DEFAULT_TIMEOUT,
        max_retries=DEFAULT_MAX_RETRIES,
        backoff_factor=DEFAULT_BACKOFF_FACTOR,
        backoff_max=DEFAULT_BACKOFF_MAX,
        page_size=const.PAGE_LIMIT,
        language=None,
        session=None,
        token_cache=None,
        clock=None,
        sleep=time.sleep,
    ):
        if version not in const.API_VERSIONS:
            raise ValueError(f"Unknown Bridge API version {version!r}")
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.version = version
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.page_size = page_size
        self.language = language
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()
        self._clock = clock or utc_now
        self.token_cache = token_cache or TokenCache(clock=self._clock)
        self._sleep = sleep
        self._random = random.Random()
        self._random_lock = threading.Lock()

    def __repr__(self):
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, "
            f"client_id={self.client_id!r}, version={self.version!r})"
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Close the HTTP session if this client made it."""
        if self._own_session:
            self.session.close()

    @property
    def is_v2(self):
        return self.version == const.API_VERSION_V2

    # ------------------------------------------------------------------
    # Users and tokens
    # ------------------------------------------------------------------

    def create_user(self, *, email=None, password=None, external_user_id=None):
        """Create a Bridge user and return it as a ``User``.

        v2 only: ``email`` and ``password`` (legacy, refused for applications created
        after 23/10/2023). Both versions: ``external_user_id``, or nothing at all.
        A user with the same email raises ``BridgeConflictError``.
        """
        payload = self._user_identity(
            email=email, password=password, external_user_id=external_user_id
        )
        # A repeated POST could create a second user: never retried (see _request).
        data = self._call("create_user", payload=payload)
        user = User.from_api(data)
        if user.email is None and email:
            user = User(user.uuid, email, user.external_user_id)
        if user.external_user_id is None and external_user_id:
            user = User(user.uuid, user.email, external_user_id)
        return user

    def authenticate(
        self, *, user_uuid=None, external_user_id=None, email=None, password=None
    ):
        """Authenticate a user and return a new ``UserToken``, bypassing the cache.

        Give one of ``user_uuid``, ``external_user_id``, or (v2 only) ``email`` with
        ``password``. v2 calls ``/v2/authenticate``, v3 ``authorization/token``.
        """
        payload = self._user_identity(
            user_uuid=user_uuid,
            external_user_id=external_user_id,
            email=email,
            password=password,
            required=True,
        )
        # Authenticating twice only issues a second token: safe to repeat.
        data = self._expect_object(
            self._call("authenticate", payload=payload, retry_safe=True)
        )
        access_token = data.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise BridgeResponseError(
                code="invalid_response", message="missing 'access_token'"
            )
        expires_at = parse_datetime(data.get("expires_at"))
        if expires_at is None:
            # `expires_at` is documented; should it be missing or unreadable, assume
            # the documented 2-hour life rather than fail.
            expires_at = self._clock() + timedelta(
                seconds=const.USER_TOKEN_LIFETIME_SECONDS
            )
        answer_user = data.get("user")
        answer_uuid = (
            answer_user.get("uuid") if isinstance(answer_user, dict) else None
        ) or data.get("user_uuid")
        if not isinstance(answer_uuid, str):
            answer_uuid = None
        return UserToken(access_token, expires_at, answer_uuid or user_uuid)

    def get_user_token(
        self, *, user_uuid=None, external_user_id=None, email=None, password=None
    ):
        """Return the user's token from the cache, authenticating only when needed.

        A cached token is reused until shortly before it expires; concurrent calls
        for the same user authenticate once.
        """
        key = self._token_key(user_uuid, external_user_id, email)
        return self.token_cache.get_or_fetch(
            key,
            lambda: self.authenticate(
                user_uuid=user_uuid,
                external_user_id=external_user_id,
                email=email,
                password=password,
            ),
        )

    def invalidate_user_token(
        self, *, user_uuid=None, external_user_id=None, email=None
    ):
        """Drop the user's cached token, e.g. after a 401 on a call that used it."""
        self.token_cache.invalidate(self._token_key(user_uuid, external_user_id, email))

    def delete_user(self, user_uuid, *, password=None):
        """Delete a Bridge user and all its data.

        v2 is ``POST /v2/users/{uuid}/delete``; whether Bridge wants the password of
        a legacy email user in the body is not documented [?]: it is sent when given.
        """
        payload = {"password": password} if password and self.is_v2 else None
        self._call("delete_user", path_args={"user_uuid": user_uuid}, payload=payload)

    # ------------------------------------------------------------------
    # Connect (webview)
    # ------------------------------------------------------------------

    def create_connect_session(
        self, token, *, email=None, country="fr", callback_url=None, context=None
    ):
        """Open a Bridge Connect session; return its URL for the user's browser.

        ``callback_url`` is where Bridge sends the browser afterwards, with
        ``user_uuid``, ``item_id`` and ``success`` (v2 calls it ``redirect_url``).
        v3 requires ``email``; its country field is not documented [?]: not sent.
        """
        if self.is_v2:
            payload = {"country": country}
            if email:
                payload["prefill_email"] = email
            if callback_url:
                payload["redirect_url"] = callback_url
        else:
            if not email:
                raise ValueError("Bridge 2025-01-15 needs the user's email")
            payload = {"user_email": email}
            if callback_url:
                payload["callback_url"] = callback_url
        if context:
            payload["context"] = context
        data = self._expect_object(
            self._call("connect_session", token=token, payload=payload)
        )
        url = data.get("url") or data.get("redirect_url")
        if not isinstance(url, str) or not url:
            raise BridgeResponseError(code="invalid_response", message="missing 'url'")
        session_id = data.get("id")
        return ConnectSession(url, str(session_id) if session_id is not None else None)

    # ------------------------------------------------------------------
    # Items, accounts, banks
    # ------------------------------------------------------------------

    def list_items(self, token):
        """Return all the user's items (following pagination)."""
        return self._list("list_items", Item.from_api, token=token)

    def get_item(self, token, item_id):
        data = self._call("get_item", token=token, path_args={"item_id": item_id})
        return Item.from_api(data)

    def refresh_item(self, token, item_id):
        """Ask Bridge to refresh an item (v2 only; v3 documents no such call)."""
        # A refresh asked twice costs a second refresh at the bank: not retried.
        self._call("refresh_item", token=token, path_args={"item_id": item_id})

    def delete_item(self, token, item_id):
        self._call("delete_item", token=token, path_args={"item_id": item_id})

    def get_account(self, token, account_id):
        data = self._call(
            "get_account", token=token, path_args={"account_id": account_id}
        )
        return Account.from_api(data)

    def list_accounts(self, token, item_id=None):
        """Return the user's accounts, of one item if given (following pagination)."""
        params = {"item_id": item_id} if item_id is not None else {}
        return self._list("list_accounts", Account.from_api, token=token, params=params)

    def list_banks(self, country="fr"):
        """Return the banks (v2) or providers (v3) of a country."""
        # v2 documents `countries=fr`; the v3 filter's name is not documented [?]:
        # `country_code`, the name of the field it filters on.
        key = "countries" if self.is_v2 else "country_code"
        params = {key: country} if country else {}
        return self._list("list_banks", Bank.from_api, params=params)

    # ------------------------------------------------------------------
    # Plumbing
    # ------------------------------------------------------------------

    def _endpoint(self, name):
        try:
            return const.ENDPOINTS[self.version][name]
        except KeyError:
            raise BridgeUnsupportedError(
                code="unsupported",
                message=f"'{name}' does not exist in Bridge API {self.version}",
            ) from None

    def _call(self, name, *, path_args=None, **kwargs):
        method, path = self._endpoint(name)
        if path_args:
            path = path.format(
                **{key: quote(str(value), safe="") for key, value in path_args.items()}
            )
        return self._request(method, path, **kwargs)

    def _list(self, name, parse, *, token=None, params=None):
        method, path = self._endpoint(name)
        params = dict(params or {}, limit=self.page_size)
        data = self._request(method, path, token=token, params=params)
        results = []
        seen = set()
        for _page in range(MAX_PAGES):
            resources, next_uri = self._read_page(data)
            results.extend(parse(resource) for resource in resources)
            if not next_uri:
                return results
            next_path = self._same_origin_path(next_uri)
            if next_path in seen:
                raise BridgeResponseError(
                    code="invalid_response", message="pagination goes round in circles"
                )
            seen.add(next_path)
            data = self._request(method, next_path, token=token)
        raise BridgeResponseError(code="invalid_response", message="too many pages")

    @staticmethod
    def _read_page(data):
        if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
            raise BridgeResponseError(
                code="invalid_response", message="missing 'resources'"
            )
        pagination = data.get("pagination")
        next_uri = pagination.get("next_uri") if isinstance(pagination, dict) else None
        return data["resources"], next_uri if isinstance(next_uri, str) else None

    def _same_origin_path(self, next_uri):
        """Return ``next_uri`` as a path; refuse one that leads to another host.

        Bridge documents a path relative to the host; an absolute URL is accepted only
        on the configured host, so that credentials never go elsewhere.
        """
        parts = urlsplit(next_uri)
        if parts.scheme or parts.netloc:
            base = urlsplit(self.base_url)
            if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
                raise BridgeResponseError(
                    code="invalid_response", message="next_uri leads to another host"
                )
        if not parts.path.startswith("/"):
            raise BridgeResponseError(
                code="invalid_response", message="next_uri is not a path"
            )
        return parts.path + (f"?{parts.query}" if parts.query else "")

    @staticmethod
    def _expect_object(data):
        if not isinstance(data, dict):
            raise BridgeResponseError(
                code="invalid_response", message="answer is not a JSON object"
            )
        return data

    def _user_identity(
        self,
        *,
        user_uuid=None,
        external_user_id=None,
        email=None,
        password=None,
        required=False,
    ):
        """Return the body naming a user; check that exactly one way is used."""
        if (email is None) != (password is None):
            raise ValueError("email and password go together")
        if email is not None and not self.is_v2:
            raise ValueError("Bridge 2025-01-15 has no email and password users")
        given = [
            (key, value)
            for key, value in (
                ("user_uuid", user_uuid),
                ("external_user_id", external_user_id),
                ("email", email),
            )
            if value is not None
        ]
        if len(given) > 1 or (required and not given):
            raise ValueError(
                "give one of user_uuid, external_user_id or email and password"
            )
        payload = dict(given)
        if password is not None:
            payload["password"] = password
        return payload

    def _token_key(self, user_uuid, external_user_id, email):
        if user_uuid:
            user_key = ("user_uuid", user_uuid)
        elif external_user_id:
            user_key = ("external_user_id", external_user_id)
        elif email:
            user_key = ("email", email.strip().lower())
        else:
            raise ValueError("give one of user_uuid, external_user_id or email")
        return (self.base_url, self.client_id, self.version, user_key)

    def _headers(self, token):
        headers = {
            "Client-Id": self.client_id,
            "Client-Secret": self._client_secret,
            "Bridge-Version": self.version,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if token is not None:
            if isinstance(token, UserToken):
                token = token.access_token
            if not isinstance(token, str) or not token:
                raise TypeError("token must be a UserToken or a non-empty string")
            headers["Authorization"] = f"Bearer {token}"
        if self.language:
            headers["Accept-Language"] = self.language
        return headers

    def _request(
        self, method, path, *, params=None, payload=None, token=None, retry_safe=None
    ):
        """Send one call to Bridge; return the decoded JSON answer (None if empty).

        Every call goes through here: headers, timeout, retries, error mapping and
        logging. ``retry_safe`` says whether the call may be repeated after an
        answer or a failure that leaves unknown whether Bridge applied it; it
        defaults to True for idempotent methods. Whatever it is, a 429 and a
        connection that could not even be opened are retried, since Bridge
        applied nothing then.

        Logged: method, path (without the query string), status and duration.
        Never logged: headers (credentials, token), bodies, query strings.
        """
        if retry_safe is None:
            retry_safe = method in IDEMPOTENT_METHODS
        headers = self._headers(token)
        url = self.base_url + path
        log_path = path.split("?", 1)[0]
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=json.dumps(payload) if payload is not None else None,
                    headers=headers,
                    timeout=self.timeout,
                    # A redirect would carry the credentials headers elsewhere.
                    allow_redirects=False,
                )
            except requests.exceptions.RequestException as exc:
                error = self._transport_error(exc)
                _logger.warning(
                    "%s %s -> %s in %d ms",
                    method,
                    log_path,
                    error.code,
                    (time.monotonic() - started) * 1000,
                )
                if attempt < self.max_retries and (retry_safe or _never_sent(exc)):
                    self._backoff(attempt)
                    attempt += 1
                    continue
                raise error from exc
            elapsed_ms = (time.monotonic() - started) * 1000
            status = response.status_code
            log = _logger.info if status < 400 else _logger.warning
            log("%s %s -> %s in %d ms", method, log_path, status, elapsed_ms)
            if status < 300:
                return self._decode(response)
            error = self._http_error(response)
            retryable = status == 429 or (status >= 500 and retry_safe)
            if attempt < self.max_retries and retryable:
                self._backoff(attempt, _retry_after(response))
                attempt += 1
                continue
            raise error

    @staticmethod
    def _decode(response):
        if response.status_code == 204 or not response.content:
            return None
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError):
            raise BridgeResponseError(
                response.status_code, "invalid_response", "answer is not JSON"
            ) from None

    @staticmethod
    def _http_error(response):
        """Map an error answer to its typed exception.

        v2 errors are ``{"type", "message"}``, v3 ``{"code", "property",
        "message"}``; whether v3 wraps them in a list (or an ``errors`` list) is not
        documented [?]: all these shapes are read.
        """
        status = response.status_code
        try:
            body = json.loads(response.content) if response.content else None
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            body = body["errors"]
        if isinstance(body, list):
            body = body[0] if body else None
        code = message = prop = None
        if isinstance(body, dict):
            code = body.get("type") or body.get("code")
            message = body.get("message")
            prop = body.get("property")
        if not isinstance(message, str) or not message:
            try:
                message = HTTPStatus(status).phrase
            except ValueError:
                message = "HTTP error"
        return error_class_for_status(status)(
            status,
            code if isinstance(code, str) else None,
            message,
            prop if isinstance(prop, str) else None,
        )

    @staticmethod
    def _transport_error(exc):
        if isinstance(exc, requests.exceptions.Timeout):
            return BridgeTimeoutError(None, "timeout", "Bridge did not answer in time")
        if isinstance(exc, requests.exceptions.ConnectionError):
            return BridgeUnavailableError(
                None, "connection_error", "could not talk to Bridge"
            )
        return BridgeError(None, "request_error", type(exc).__name__)

    def _backoff(self, attempt, retry_after=None):
        delay = min(self.backoff_max, self.backoff_factor * (2**attempt))
        with self._random_lock:
            # "Equal jitter": between half and all of the exponential delay.
            delay = delay / 2 + self._random.uniform(0, delay / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max))
        self._sleep(delay)


def _retry_after(response):
    """Seconds from a ``Retry-After`` header; Bridge documents none [?]."""
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _never_sent(exc):
    """Whether the request surely never reached Bridge (the connection failed)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    # urllib3 wraps it in MaxRetryError: refused, unreachable, name not resolved.
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError)
