"""Signed webhook POSTs, as Bridge sends them.

Body: ``{"type", "timestamp" (epoch milliseconds), "content"}``; header
``BridgeApi-Signature: v1=<HEX>``, the upper-case hex HMAC-SHA256 of the raw body
with the configured secret (one ``v1`` entry per secret during a rotation).
Delivered in order by one background thread, or synchronously on demand.
"""

import hashlib
import hmac
import http.client
import json
import logging
import queue
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "BridgeApi-Signature"
DELIVERY_TIMEOUT = 10


def sign(body, secret):
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest().upper()


def signature_header(body, secrets):
    return ",".join(f"v1={sign(body, secret)}" for secret in secrets if secret)


def post(url, body, headers):
    """POST ``body`` to ``url``; return the HTTP status.

    ``http.client`` rather than ``urllib.request``: it keeps the header names as
    written (``BridgeApi-Signature``) and ignores proxy settings.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if parts.scheme == "https":
        connection_class = http.client.HTTPSConnection
    else:
        connection_class = http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=DELIVERY_TIMEOUT)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@dataclass
class WebhookDelivery:
    """One webhook POST and its outcome (``status`` None if no answer came)."""

    event_type: str
    url: str
    body: bytes = field(repr=False)
    signature: str = field(repr=False)
    status: int | None = None
    error: str | None = None

    @property
    def payload(self):
        return json.loads(self.body)

    def as_dict(self):
        return {
            "type": self.event_type,
            "url": self.url,
            "status": self.status,
            "error": self.error,
            "payload": self.payload,
        }


class WebhookSender:
    """Send events to the configured URL; record every delivery."""

    def __init__(self, config):
        # `config` has `webhook_url`, `webhook_secrets` and `clock`, read at send time.
        self._config = config
        self._queue = queue.Queue()
        self._pending = 0
        self._condition = threading.Condition()
        self.deliveries = []
        self._thread = None

    def start(self):
        self._thread = threading.Thread(
            target=self._work, name="bridge-emulator-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self):
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=DELIVERY_TIMEOUT + 1)
            self._thread = None

    def clear(self):
        with self._condition:
            self.deliveries = []

    def build(self, event_type, content):
        timestamp = int(self._config.clock.now().timestamp() * 1000)
        payload = {"type": event_type, "timestamp": timestamp, "content": content}
        return json.dumps(payload, separators=(",", ":")).encode("utf-8")

    def enqueue(self, events):
        """Queue ``(type, content)`` events for the background thread."""
        bodies = [(event_type, self.build(event_type, c)) for event_type, c in events]
        if not self._config.webhook_url:
            return
        with self._condition:
            self._pending += len(bodies)
        for job in bodies:
            self._queue.put(job)

    def send_now(self, events):
        """Send events in this thread; return their deliveries."""
        self.wait()
        return [
            self._deliver(event_type, self.build(event_type, content))
            for event_type, content in events
            if self._config.webhook_url
        ]

    def wait(self, timeout=10):
        """Wait until every queued webhook is delivered; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: self._pending == 0, timeout)

    def _work(self):
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._deliver(*job)
            finally:
                with self._condition:
                    self._pending -= 1
                    self._condition.notify_all()

    def _deliver(self, event_type, body):
        url = self._config.webhook_url
        signature = signature_header(body, self._config.webhook_secrets)
        delivery = WebhookDelivery(event_type, url, body, signature)
        headers = {"Content-Type": "application/json"}
        if signature:
            headers[SIGNATURE_HEADER] = signature
        try:
            delivery.status = post(url, body, headers)
        except (OSError, ValueError, http.client.HTTPException) as error:
            delivery.error = f"{type(error).__name__}: {error}"
        _logger.info("webhook %s -> %s", event_type, delivery.status or delivery.error)
        with self._condition:
            self.deliveries.append(delivery)
        return delivery
