# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A thread-safe cache of user access tokens.

Bridge allows 10 authentications per user per 60 seconds and a token lives 2 hours:
a token is reused until ``margin`` seconds before it expires. Concurrent callers
asking for the same user's token wait for one authentication instead of each
making their own; callers for other users are not held up.
"""

import threading
from datetime import datetime, timezone

DEFAULT_MARGIN_SECONDS = 5 * 60


def utc_now():
    return datetime.now(timezone.utc)


class TokenCache:
    """Map a key (e.g. base URL, client id, user) to a ``UserToken``."""

    def __init__(self, margin_seconds=DEFAULT_MARGIN_SECONDS, clock=None):
        self.margin_seconds = margin_seconds
        self._clock = clock or utc_now
        self._tokens = {}
        self._key_locks = {}
        self._lock = threading.Lock()

    def get(self, key):
        """Return the cached token for ``key`` if still fresh, else None."""
        with self._lock:
            token = self._tokens.get(key)
        if token is None or token.expires_within(self.margin_seconds, self._clock()):
            return None
        return token

    def put(self, key, token):
        with self._lock:
            self._tokens[key] = token

    def invalidate(self, key):
        """Forget ``key``'s token, e.g. after Bridge refused it with a 401."""
        with self._lock:
            self._tokens.pop(key, None)

    def clear(self):
        with self._lock:
            self._tokens.clear()

    def get_or_fetch(self, key, fetch):
        """Return a fresh token for ``key``, calling ``fetch()`` only when needed.

        ``fetch`` authenticates and returns a ``UserToken``; an exception it raises
        reaches the caller and nothing is cached.
        """
        token = self.get(key)
        if token is not None:
            return token
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            # Another thread may have authenticated while this one waited.
            token = self.get(key)
            if token is None:
                token = fetch()
                self.put(key, token)
        return token
