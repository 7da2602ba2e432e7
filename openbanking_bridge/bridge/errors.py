# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Typed exceptions raised by the Bridge client.

Every exception carries the HTTP status (None when no answer came back), Bridge's
error ``type`` (v2) or ``code`` (v3), and Bridge's message. ``str()`` is a short plain
message that never holds a secret: the client builds it only from the status, the
error code and Bridge's own message, never from what it sent.
"""

MAX_MESSAGE_LENGTH = 300


class BridgeError(Exception):
    """Base class of every error the Bridge client raises."""

    def __init__(self, status=None, code=None, message="", prop=None):
        self.status = status
        self.code = code
        self.message = (message or "")[:MAX_MESSAGE_LENGTH]
        # v3 errors name the faulty `property` of the request.
        self.property = prop
        super().__init__(self.status, self.code, self.message)

    def __str__(self):
        head = "Bridge error"
        if self.status is not None:
            head = f"{head} {self.status}"
        if self.code:
            head = f"{head} ({self.code})"
        detail = self.message
        if self.property:
            detail = f"{detail} [{self.property}]" if detail else f"[{self.property}]"
        return f"{head}: {detail}" if detail else head

    def __repr__(self):
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r})"
        )


class BridgeAuthenticationError(BridgeError):
    """401 / 403: wrong client credentials, wrong user credentials, expired token."""


class BridgeNotFoundError(BridgeError):
    """404: no such user, item or account (for this user)."""


class BridgeConflictError(BridgeError):
    """409: the resource already exists (e.g. a user with this email)."""


class BridgeRateLimitError(BridgeError):
    """429: over one of Bridge's rate limits, still so after the retries."""


class BridgeInvalidRequestError(BridgeError):
    """400, 415, 422: Bridge refused the request as it was written."""


class BridgeUnavailableError(BridgeError):
    """5xx, a connection error or a timeout: Bridge could not be reached or failed."""


class BridgeTimeoutError(BridgeUnavailableError):
    """No answer within the configured connect or read timeout."""


class BridgeUnsupportedError(BridgeError):
    """The call does not exist in the configured API version (no request was sent)."""


class BridgeResponseError(BridgeError):
    """Bridge answered with a success status but a body the client cannot read."""


STATUS_ERRORS = {
    400: BridgeInvalidRequestError,
    401: BridgeAuthenticationError,
    403: BridgeAuthenticationError,
    404: BridgeNotFoundError,
    409: BridgeConflictError,
    415: BridgeInvalidRequestError,
    422: BridgeInvalidRequestError,
    429: BridgeRateLimitError,
}


def error_class_for_status(status):
    """Return the exception class for an HTTP error status."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return BridgeUnavailableError
    return BridgeError
