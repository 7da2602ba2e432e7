"""The emulator's HTTP server and its Python face, ``BridgeEmulator``.

Standard library only (``http.server``). Three families of paths:

- Bridge's API, ``/v2/...`` and ``/v3/...`` (see ``api.py``);
- the Connect (webview) pages, ``/connect/session/<id>`` (see ``connect.py``);
- control endpoints, under ``/_emulator/`` (see ``control.py``), not counted, never
  faulted, never rate limited.
"""

import json
import logging
import socket
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from . import api, connect, control
from .banks import is_valid_iban
from .state import ApiError, EmulatorState, iso
from .webhooks import WebhookSender

_logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_CLIENT_ID = "emulator-client-id"
DEFAULT_CLIENT_SECRET = "emulator-client-secret"
CONNECT_PREFIX = "/connect/session/"
CONTROL_PREFIX = "/_emulator"
MAX_BODY = 1024 * 1024
MAX_FORM_ROWS = 50
FAULT_ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "too_many_requests",
}


def to_json(data):
    def default(value):
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, datetime):
            return iso(value)
        raise TypeError(type(value).__name__)

    return json.dumps(data, default=default).encode("utf-8")


def with_query(url, params):
    """``url`` with ``params`` added to its query string."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class BridgeEmulator:
    """A stateful local Bridge, both API versions, in a background thread.

    ::

        with BridgeEmulator(webhook_url=url, webhook_secret="s3cret") as emu:
            client = BridgeClient(emu.url, emu.client_id, emu.client_secret, ...)

    :param port: 0 picks a free port (read ``emu.port`` / ``emu.url`` after start).
    :param webhook_secret: a secret, or a list of two during a rotation.
    :param client_id, client_secret: the application's credentials; None accepts any.
    :param page_size: page size when a list call gives no ``limit``;
        ``max_page_size`` caps any ``limit``.
    :param rate_limits: enforce 10 authentications and 60 requests per user per 60 s.
    :param allow_password_users: accept v2 email and password users.
    :param public_url: the base URL handed out in Connect links, when the address
        browsers use differs from the bound one.
    """

    def __init__(
        self,
        host=DEFAULT_HOST,
        port=0,
        *,
        webhook_url=None,
        webhook_secret=None,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        page_size=50,
        max_page_size=500,
        rate_limits=True,
        allow_password_users=True,
        public_url=None,
    ):
        self.host = host
        self.port = port
        self.client_id = client_id
        self.client_secret = client_secret
        self.public_url = public_url.rstrip("/") if public_url else None
        self.state = EmulatorState(
            page_size=page_size,
            max_page_size=max_page_size,
            rate_limits=rate_limits,
            allow_password_users=allow_password_users,
        )
        self.clock = self.state.clock
        self.webhook_url = None
        self.webhook_secrets = []
        self.configure(webhook_url=webhook_url, webhook_secret=webhook_secret)
        self.webhooks = WebhookSender(self)
        self.stopping = threading.Event()
        self._server = None
        self._thread = None

    # ------------------------------------------------------------------
    # Life cycle
    # ------------------------------------------------------------------

    def start(self):
        server = ThreadingHTTPServer((self.host, self.port), RequestHandler)
        server.daemon_threads = True
        server.emulator = self
        self._server = server
        self.port = server.server_address[1]
        self.stopping.clear()
        self.webhooks.start()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="bridge-emulator",
            daemon=True,
        )
        self._thread.start()
        _logger.info("Bridge emulator listening on %s", self.url)
        return self

    def stop(self):
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None
        self.webhooks.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def url(self):
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # ------------------------------------------------------------------
    # Configuration, clock, faults, counters
    # ------------------------------------------------------------------

    def configure(self, *, webhook_url=None, webhook_secret=None):
        """Set where webhooks go and the secret(s) they are signed with."""
        if webhook_url is not None:
            self.webhook_url = webhook_url or None
        if webhook_secret is not None:
            secrets = (
                [webhook_secret] if isinstance(webhook_secret, str) else webhook_secret
            )
            self.webhook_secrets = [secret for secret in secrets if secret]

    def reset(self):
        """Back to a fresh start: no users, items, faults, counters, deliveries."""
        self.webhooks.wait()
        self.state.reset()
        self.webhooks.clear()

    def now(self):
        return self.clock.now()

    def set_clock(self, moment):
        """Set the emulator's current time (time goes on from there)."""
        self.clock.set(moment)

    def advance_clock(self, seconds):
        """Move the emulator's time forward (a number of seconds or a timedelta)."""
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        self.clock.advance(seconds)

    def reset_clock(self):
        self.clock.reset()

    def inject_fault(
        self, endpoint, *, status=None, latency=0.0, drop=False, times=1, body=None
    ):
        """Make the next ``times`` calls of ``endpoint`` fail (None: until cleared).

        ``endpoint`` is e.g. ``"GET /v2/accounts/{account_id}"`` (see
        ``ENDPOINTS``), or ``"*"`` for every API endpoint. ``latency`` seconds are
        waited first; then ``drop`` closes the connection with no answer, or
        ``status`` answers with Bridge's error shape, or ``body`` if given (JSON, or
        bytes sent as they are).
        """
        if endpoint != "*" and endpoint not in api.ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        self.state.add_fault(
            endpoint,
            control.make_fault(
                status=status, latency=latency, drop=drop, times=times, body=body
            ),
        )

    def clear_faults(self):
        with self.state.lock:
            self.state.faults.clear()

    def counters(self):
        """Calls received per endpoint, e.g. ``{"POST /v2/authenticate": 1}``."""
        with self.state.lock:
            return dict(self.state.counters)

    def count(self, endpoint):
        with self.state.lock:
            return self.state.counters[endpoint]

    def reset_counters(self):
        with self.state.lock:
            self.state.counters.clear()

    # ------------------------------------------------------------------
    # Seeding state directly
    # ------------------------------------------------------------------

    def add_user(self, *, email=None, password=None, external_user_id=None, uuid=None):
        """Create a user (as POST /users would) and return it as a dict."""
        return self.state.create_user(
            email=email, password=password, external_user_id=external_user_id, uuid=uuid
        )

    def issue_token(self, user_uuid):
        """Return a fresh access token for the user, without an API call."""
        return self.state.issue_token(user_uuid)["access_token"]

    def add_item(
        self, user_uuid, bank_id=574, accounts=2, *, status=0, send_webhooks=False
    ):
        """Create an item with accounts; return it (with ``accounts``) as a dict.

        ``accounts``: a number of accounts with generated valid IBANs, or a list of
        dicts with ``iban`` (None: no IBAN) and optional ``name``, ``balance``,
        ``currency_code``, ``type``, ``is_pro``. ``send_webhooks`` sends what
        Connect sends, synchronously.
        """
        item = self.state.add_item(user_uuid, bank_id, accounts, status=status)
        if send_webhooks:
            self.send_connect_webhooks(item["id"], sync=True)
        return item

    def item(self, item_id):
        return self.state.item_view(item_id)

    def account(self, account_id):
        return self.state.account_view(account_id)

    def user(self, user_uuid):
        user = self.state.find_user(user_uuid=user_uuid)
        return dict(user) if user else None

    def banks(self, country=None):
        return [
            dict(bank)
            for bank in self.state.banks.values()
            if country is None or bank["country_code"] == country
        ]

    # ------------------------------------------------------------------
    # Connect and webhooks
    # ------------------------------------------------------------------

    def create_connect_session(
        self, user_uuid, *, email=None, callback_url=None, country="fr"
    ):
        """Open a Connect session (as the API call does); return it with its ``url``."""
        session = self.state.create_session(
            user_uuid, email=email, callback_url=callback_url, country=country
        )
        first_bank = next((bank["id"] for bank in self.banks(session["country"])), 574)
        proposals = self.state.proposed_accounts(first_bank)
        with self.state.lock:
            self.state.sessions[session["id"]]["proposals"] = proposals
        session["proposals"] = proposals
        session["url"] = f"{self.url}{CONNECT_PREFIX}{session['id']}"
        return session

    def complete_connect(self, session_id, bank_id, accounts, *, sync=False):
        """Do exactly what submitting the Connect form does.

        Create the item and its accounts for the session's user, then send the
        webhooks item.created, item.account.created (one per account) and
        item.refreshed: from the background thread (``wait_for_webhooks``), or in
        this thread if ``sync``. Return the item dict, with ``redirect_url``: where
        the browser goes next (None without a callback URL).
        """
        with self.state.lock:
            session = self.state.session(session_id)
            if session["item_id"] is not None:
                raise ApiError(409, "conflict", "This Connect session is already used")
            item = self.state.add_item(session["user_uuid"], bank_id, accounts)
            session["item_id"] = item["id"]
        self.send_connect_webhooks(item["id"], sync=sync)
        item["redirect_url"] = self._callback(
            session, success="true", item_id=item["id"]
        )
        return item

    def cancel_connect(self, session_id):
        """What the Connect page's Cancel button does; return the redirect URL."""
        session = self.state.session(session_id)
        return self._callback(session, success="false", step="bank_selection")

    def _callback(self, session, **params):
        if not session["callback_url"]:
            return None
        return with_query(
            session["callback_url"], {"user_uuid": session["user_uuid"], **params}
        )

    def connect_events(self, item_id, trigger="connect"):
        item = self.state.item_view(item_id)
        user_uuid = item["user_uuid"]
        events = [("item.created", {"item_id": item_id, "user_uuid": user_uuid})]
        events += [
            (
                "item.account.created",
                {
                    "account_id": account["id"],
                    "item_id": item_id,
                    "user_uuid": user_uuid,
                    "balance": float(account["balance"]),
                },
            )
            for account in item["accounts"]
        ]
        events.append(("item.refreshed", self._refreshed_content(item, trigger)))
        return events

    def _refreshed_content(self, item, trigger):
        return {
            "item_id": item["id"],
            "user_uuid": item["user_uuid"],
            "status_code": item["status"],
            "status_code_info": item["status_code_info"],
            "full_refresh": trigger == "connect",
            "refresh_trigger": trigger,
            "account_types": "payment",
            "authentication_expires_at": iso(self.clock.now() + timedelta(days=180)),
        }

    def send_connect_webhooks(self, item_id, *, sync=False):
        """Send the webhooks Connect sends for a new item; deliveries if ``sync``."""
        return self.send_webhooks(self.connect_events(item_id), sync=sync)

    def send_refresh_webhooks(self, item_id, *, sync=False):
        """item.refreshed (trigger "api") and item.account.updated per account."""
        item = self.state.item_view(item_id)
        events = [("item.refreshed", self._refreshed_content(item, "api"))]
        events += [
            (
                "item.account.updated",
                {
                    "account_id": account["id"],
                    "item_id": item_id,
                    "user_uuid": item["user_uuid"],
                    "balance": float(account["balance"]),
                    "nb_new_transactions": 0,
                    "nb_updated_transactions": 0,
                    "nb_deleted_transactions": 0,
                },
            )
            for account in item["accounts"]
        ]
        return self.send_webhooks(events, sync=sync)

    def send_webhooks(self, events, *, sync=False):
        """Send ``(type, content)`` events, signed, to the configured URL."""
        if sync:
            return self.webhooks.send_now(events)
        self.webhooks.enqueue(events)
        return []

    def wait_for_webhooks(self, timeout=10):
        """Wait until all queued webhooks are delivered; return every delivery.

        Raise ``TimeoutError`` if some are still pending after ``timeout`` seconds.
        """
        if not self.webhooks.wait(timeout):
            raise TimeoutError("webhooks still pending")
        return self.webhook_deliveries

    @property
    def webhook_deliveries(self):
        """Every ``WebhookDelivery`` so far: type, url, body, status or error."""
        return list(self.webhooks.deliveries)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BridgeEmulator/1.0"

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def log_message(self, format, *args):
        _logger.debug("%s - %s", self.address_string(), format % args)

    def setup(self):
        super().setup()
        # Headers and body go in two writes: without this, Nagle's algorithm and
        # the client's delayed ACK add 40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def emulator(self):
        return self.server.emulator

    def _handle(self, method):
        raw = self._read_body()
        if raw is None:
            return
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            if parts.path == CONTROL_PREFIX or parts.path.startswith(
                CONTROL_PREFIX + "/"
            ):
                status, data = control.handle(self.emulator, method, parts.path, raw)
                self.send_json(status, data)
            elif parts.path.startswith(CONNECT_PREFIX):
                self._connect(method, parts.path[len(CONNECT_PREFIX) :], raw)
            else:
                self._api(method, parts.path, query, raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            _logger.exception("Bridge emulator failed on %s %s", method, parts.path)
            self.send_json(500, {"type": "internal_error", "message": "Emulator error"})

    def _read_body(self):
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True
            self.send_json(400, {"type": "invalid_request", "message": "Bad length"})
            return None
        return self.rfile.read(int(length)) if int(length) else b""

    # ------------------------------------------------------------------
    # API
    # ------------------------------------------------------------------

    def _api(self, method, path, query, raw):
        endpoint, handler, params = api.match(method, path)
        version = api.V2 if path.startswith("/v2/") else api.V3
        self.emulator.state.count(endpoint or f"{method} {path}")
        if endpoint and self._apply_fault(endpoint, version):
            return
        try:
            if not handler:
                if handler is False:
                    raise ApiError(405, "method_not_allowed", "Method not allowed")
                raise ApiError(404, "not_found", "No such endpoint")
            self._check_headers(version)
            call = api.Call(
                emulator=self.emulator,
                version=version,
                method=method,
                path=path,
                params=params,
                query=query,
                body=self._json_body(raw),
                headers=self.headers,
            )
            status, data = handler(call)
        except ApiError as error:
            status, data = error.status, api.error_json(version, error)
        self.send_json(status, data)

    def _apply_fault(self, endpoint, version):
        """Apply an injected fault; True when it answered (or dropped) the call."""
        fault = self.emulator.state.take_fault(endpoint)
        if fault is None:
            return False
        if fault.latency:
            self.emulator.stopping.wait(fault.latency)
        if fault.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        if fault.status:
            body = fault.body
            if body is None:
                code = FAULT_ERROR_CODES.get(fault.status, "internal_server_error")
                body = api.error_json(
                    version, ApiError(fault.status, code, "Injected fault")
                )
            if isinstance(body, bytes):
                self._send(fault.status, body, "application/octet-stream")
            else:
                self.send_json(fault.status, body)
            return True
        return False

    def _check_headers(self, version):
        client_id = self.emulator.client_id
        if client_id is not None and (
            self.headers.get("Client-Id") != client_id
            or self.headers.get("Client-Secret") != self.emulator.client_secret
        ):
            raise ApiError(401, "invalid_client", "Invalid client credentials")
        asked = self.headers.get("Bridge-Version")
        if not asked:
            raise ApiError(400, "invalid_request", "Missing Bridge-Version header")
        if asked != version:
            raise ApiError(
                400,
                "invalid_request",
                f"Bridge-Version {asked} does not serve this path",
            )

    def _json_body(self, raw):
        if not raw:
            return {}
        content_type = self.headers.get("Content-Type") or ""
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise ApiError(415, "unsupported_media_type", "Send application/json")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise ApiError(400, "invalid_request", "Invalid JSON body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request", "The body must be a JSON object")
        return body

    # ------------------------------------------------------------------
    # Connect pages
    # ------------------------------------------------------------------

    def _connect(self, method, session_id, raw):
        self.emulator.state.count(f"{method} {CONNECT_PREFIX}{{session_id}}")
        try:
            session = dict(self.emulator.state.session(session_id))
        except ApiError:
            self.send_html(404, connect.message_page("Not found", "Unknown session."))
            return
        if session["item_id"] is not None:
            self.send_html(
                409, connect.message_page("Already done", "This session is used.")
            )
            return
        if method == "GET":
            self.send_html(200, self._form(session))
        elif method == "POST":
            self._connect_submit(
                session, dict(parse_qsl(raw.decode("utf-8", "replace")))
            )
        else:
            self.send_html(405, connect.message_page("Not allowed", "GET or POST."))

    def _form(self, session, **kwargs):
        return connect.connect_form(
            session,
            self.emulator.banks(session["country"]),
            session.get("proposals") or [],
            **kwargs,
        )

    def _connect_submit(self, session, form):
        if form.get("action") == "cancel":
            self._finish_connect(self.emulator.cancel_connect(session["id"]), False)
            return
        bank_id, rows, error = read_connect_form(
            form, {bank["id"] for bank in self.emulator.banks(session["country"])}
        )
        if error:
            page = self._form(session, selected_bank=bank_id, rows=rows, error=error)
            self.send_html(400, page)
            return
        accounts = [
            {"name": row["name"] or None, "iban": row["iban"] or None}
            for row in rows
            if row["selected"]
        ]
        item = self.emulator.complete_connect(session["id"], bank_id, accounts)
        self._finish_connect(item["redirect_url"], True, item["id"])

    def _finish_connect(self, redirect_url, success, item_id=None):
        if redirect_url:
            self.send_response(303)
            self.send_header("Location", redirect_url)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_html(200, connect.done_page(success, item_id))

    # ------------------------------------------------------------------
    # Answers
    # ------------------------------------------------------------------

    def send_json(self, status, data):
        body = b"" if data is None else to_json(data)
        self._send(status, body, "application/json")

    def send_html(self, status, html):
        self._send(status, html.encode("utf-8"), "text/html; charset=utf-8")

    def _send(self, status, body, content_type):
        self.send_response(status)
        if status != 204:
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status != 204:
            self.wfile.write(body)


def read_connect_form(form, bank_ids):
    """Read the Connect form: ``(bank_id, rows, error)``."""
    raw_bank = form.get("bank_id", "")
    bank_id = int(raw_bank) if raw_bank.isdigit() else None
    count = form.get("rows", "0")
    count = min(int(count), MAX_FORM_ROWS) if count.isdigit() else 0
    rows = [
        {
            "selected": bool(form.get(f"account-{index}-selected")),
            "name": form.get(f"account-{index}-name", "").strip(),
            "iban": "".join(form.get(f"account-{index}-iban", "").split()).upper(),
        }
        for index in range(count)
    ]
    error = None
    if bank_id not in bank_ids:
        error = "Choose a bank."
    elif not any(row["selected"] for row in rows):
        error = "Tick at least one account."
    else:
        for index, row in enumerate(rows):
            if row["selected"] and row["iban"] and not is_valid_iban(row["iban"]):
                error = f"The IBAN of account {index + 1} is not valid."
                break
    return bank_id, rows, error
