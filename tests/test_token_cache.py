"""The user token cache: reuse until shortly before expiry, one fetch at a time."""

import threading
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from openbanking_bridge.bridge import TokenCache, UserToken

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


class Fetcher:
    """Authenticates by handing out numbered tokens that live 2 hours."""

    def __init__(self, gate=None):
        self.calls = 0
        self.gate = gate
        self.lock = threading.Lock()

    def __call__(self):
        if self.gate is not None:
            self.gate.wait(5)
        with self.lock:
            self.calls += 1
            number = self.calls
        now = datetime.now(timezone.utc)
        return UserToken(f"token-{number}", now + timedelta(hours=2), "user")


@freeze_time(NOON)
def test_token_reused_until_the_margin_before_expiry():
    cache = TokenCache(margin_seconds=300)
    fetch = Fetcher()

    first = cache.get_or_fetch("key", fetch)
    with freeze_time(NOON + timedelta(hours=1, minutes=54)):
        assert cache.get_or_fetch("key", fetch) is first
    with freeze_time(NOON + timedelta(hours=1, minutes=55, seconds=1)):
        second = cache.get_or_fetch("key", fetch)

    assert (first.access_token, second.access_token) == ("token-1", "token-2")
    assert fetch.calls == 2


@freeze_time(NOON)
def test_keys_are_separate_and_invalidate_forgets():
    cache = TokenCache()
    fetch = Fetcher()

    cache.get_or_fetch("alice", fetch)
    cache.get_or_fetch("bob", fetch)
    cache.get_or_fetch("alice", fetch)
    cache.invalidate("alice")
    cache.get_or_fetch("alice", fetch)

    assert fetch.calls == 3
    assert cache.get("bob").access_token == "token-2"


def test_a_failed_fetch_caches_nothing():
    cache = TokenCache()

    def fail():
        raise RuntimeError("Bridge is down")

    with pytest.raises(RuntimeError):
        cache.get_or_fetch("key", fail)
    assert cache.get("key") is None


def test_concurrent_callers_fetch_once():
    cache = TokenCache()
    gate = threading.Event()
    fetch = Fetcher(gate)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_fetch("k", fetch)))
        for _index in range(20)
    ]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join()

    assert fetch.calls == 1
    assert {token.access_token for token in results} == {"token-1"}
    assert len(results) == 20


def test_clock_is_injectable():
    now = [NOON]
    cache = TokenCache(margin_seconds=60, clock=lambda: now[0])
    cache.put("key", UserToken("t", NOON + timedelta(minutes=2)))

    assert cache.get("key").access_token == "t"
    now[0] = NOON + timedelta(minutes=1, seconds=1)
    assert cache.get("key") is None


def test_token_repr_hides_the_token():
    token = UserToken("very-secret-access-token", NOON, "user")

    assert "very-secret-access-token" not in repr(token)
