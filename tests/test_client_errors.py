"""Errors, retries, timeouts and the one-authentication-per-user token cache."""

import socket
import threading
import time

import pytest
from conftest import VERSIONS, make_client

from openbanking_bridge import const
from openbanking_bridge.bridge import (
    BridgeAuthenticationError,
    BridgeClient,
    BridgeConflictError,
    BridgeError,
    BridgeInvalidRequestError,
    BridgeNotFoundError,
    BridgeRateLimitError,
    BridgeResponseError,
    BridgeTimeoutError,
    BridgeUnavailableError,
)

V2, V3 = VERSIONS


def endpoint(version, name):
    method, path = const.ENDPOINTS[version][name]
    return f"{method} {path}"


class Sleeps(list):
    """Records the back-off delays instead of sleeping them."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def user_token(client, emulator):
    user = emulator.add_user()
    item = emulator.add_item(user["uuid"], accounts=1)
    return client.authenticate(user_uuid=user["uuid"]), item


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BridgeInvalidRequestError),
        (401, BridgeAuthenticationError),
        (403, BridgeAuthenticationError),
        (404, BridgeNotFoundError),
        (409, BridgeConflictError),
        (415, BridgeInvalidRequestError),
        (422, BridgeInvalidRequestError),
        (429, BridgeRateLimitError),
        (500, BridgeUnavailableError),
        (503, BridgeUnavailableError),
    ],
)
def test_status_maps_to_its_exception(emulator, version, status, error_class):
    client = make_client(emulator, version, max_retries=0)
    user = emulator.add_user()
    token = emulator.issue_token(user["uuid"])
    emulator.inject_fault(endpoint(version, "list_items"), status=status)

    with pytest.raises(error_class) as caught:
        client.list_items(token)

    error = caught.value
    assert error.status == status
    assert error.code  # Bridge's `type` (v2) or `code` (v3)
    assert error.message == "Injected fault"
    assert str(status) in str(error)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "invalid_request", "message": "v2 shape", "documentation_url": None},
        {"code": "invalid_request", "property": "item_id", "message": "v3 shape"},
        [{"code": "invalid_request", "property": "item_id", "message": "in a list"}],
        {"errors": [{"code": "invalid_request", "message": "in errors"}]},
    ],
    ids=["v2", "v3", "v3-list", "v3-errors"],
)
def test_error_shapes_are_read(emulator, body):
    client = make_client(emulator, V3, max_retries=0)
    user = emulator.add_user()
    emulator.inject_fault(endpoint(V3, "list_items"), status=400, body=body)

    with pytest.raises(BridgeInvalidRequestError) as caught:
        client.list_items(emulator.issue_token(user["uuid"]))

    assert caught.value.code == "invalid_request"
    expected = body[0] if isinstance(body, list) else body.get("errors", [body])[0]
    assert caught.value.message == expected["message"]
    assert caught.value.property == expected.get("property")


def test_real_refusals(client, emulator, version):
    with pytest.raises(BridgeNotFoundError):
        client.authenticate(user_uuid="00000000-0000-0000-0000-000000000000")
    with pytest.raises(BridgeAuthenticationError) as caught:
        client.list_items("not-a-token")
    assert caught.value.status == 401
    wrong = make_client(emulator, version)
    wrong._client_secret = "wrong-secret"
    with pytest.raises(BridgeAuthenticationError):
        wrong.list_banks()


def test_v2_wrong_password(emulator):
    client = make_client(emulator, V2)
    emulator.add_user(email="a@example.com", password="right-pass")

    with pytest.raises(BridgeAuthenticationError):
        client.authenticate(email="a@example.com", password="wrong-pass")


def test_expired_token_is_refused_then_renewed(client, emulator):
    user = emulator.add_user()
    token = client.get_user_token(user_uuid=user["uuid"])
    emulator.advance_clock(2 * 60 * 60 + 1)

    with pytest.raises(BridgeAuthenticationError):
        client.list_items(token)
    client.invalidate_user_token(user_uuid=user["uuid"])
    assert client.list_items(client.get_user_token(user_uuid=user["uuid"])) == []


def test_429_then_success_is_retried(emulator, version, user_token):
    sleeps = Sleeps()
    client = make_client(
        emulator, version, sleep=sleeps, backoff_factor=0.5, backoff_max=5
    )
    token, item = user_token
    emulator.inject_fault(endpoint(version, "get_item"), status=429)

    assert client.get_item(token, item["id"]).id == item["id"]

    assert emulator.count(endpoint(version, "get_item")) == 2
    # One back-off, with jitter: between half and all of the first delay.
    assert len(sleeps) == 1
    assert 0.25 <= sleeps[0] <= 0.5


def test_backoff_grows_exponentially_and_gives_up(emulator, version, user_token):
    sleeps = Sleeps()
    client = make_client(
        emulator, version, sleep=sleeps, max_retries=3, backoff_factor=1, backoff_max=60
    )
    token, item = user_token
    emulator.inject_fault(endpoint(version, "get_item"), status=503, times=None)

    with pytest.raises(BridgeUnavailableError) as caught:
        client.get_item(token, item["id"])

    assert caught.value.status == 503
    assert emulator.count(endpoint(version, "get_item")) == 4
    for attempt, delay in enumerate(sleeps):
        assert 2**attempt / 2 <= delay <= 2**attempt
    assert len(sleeps) == 3


def test_400_is_not_retried(emulator, version, user_token):
    client = make_client(emulator, version)
    token, item = user_token
    emulator.inject_fault(endpoint(version, "get_item"), status=400)

    with pytest.raises(BridgeInvalidRequestError):
        client.get_item(token, item["id"])

    assert emulator.count(endpoint(version, "get_item")) == 1


def test_5xx_on_a_post_is_not_retried(emulator, version):
    client = make_client(emulator, version)
    emulator.inject_fault(endpoint(version, "create_user"), status=500)

    with pytest.raises(BridgeUnavailableError):
        client.create_user(external_user_id="once")

    assert emulator.count(endpoint(version, "create_user")) == 1


def test_429_on_a_post_is_retried(emulator, version):
    # A 429 means Bridge applied nothing: repeating the POST is safe.
    client = make_client(emulator, version)
    emulator.inject_fault(endpoint(version, "create_user"), status=429)

    user = client.create_user(external_user_id="after-429")

    assert emulator.user(user.uuid) is not None
    assert emulator.count(endpoint(version, "create_user")) == 2


def test_dropped_connection_retried_on_get_not_on_post(emulator, version, user_token):
    client = make_client(emulator, version)
    token, item = user_token
    emulator.inject_fault(endpoint(version, "get_item"), drop=True)
    emulator.inject_fault(endpoint(version, "create_user"), drop=True)

    assert client.get_item(token, item["id"]).id == item["id"]
    with pytest.raises(BridgeUnavailableError) as caught:
        client.create_user(external_user_id="maybe-created")

    assert caught.value.status is None
    assert emulator.count(endpoint(version, "get_item")) == 2
    assert emulator.count(endpoint(version, "create_user")) == 1


def test_refused_connection_is_unavailable_and_retried(version):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on `port` any more: the connection is refused.
    sleeps = Sleeps()
    client = BridgeClient(
        f"http://127.0.0.1:{port}", "id", "secret", version, sleep=sleeps, max_retries=2
    )
    client.session.trust_env = False

    with pytest.raises(BridgeUnavailableError) as caught:
        client.create_user()

    assert caught.value.code == "connection_error"
    # Never sent, so even a POST is tried again.
    assert len(sleeps) == 2


def test_read_timeout_raises_within_the_configured_time(emulator, version, user_token):
    token, item = user_token
    client = make_client(emulator, version, timeout=(1, 0.3), max_retries=0)
    emulator.inject_fault(endpoint(version, "get_item"), latency=5)

    started = time.monotonic()
    with pytest.raises(BridgeTimeoutError) as caught:
        client.get_item(token, item["id"])
    elapsed = time.monotonic() - started

    assert isinstance(caught.value, BridgeUnavailableError)
    # Configured: 0.3 s; generous slack for a loaded machine.
    assert elapsed < 2.5


@pytest.mark.parametrize("body", [b"<html>not json</html>", ["a", "list"]])
def test_unreadable_answer(emulator, version, user_token, body):
    client = make_client(emulator, version)
    token, item = user_token
    emulator.inject_fault(endpoint(version, "get_item"), status=200, body=body)

    with pytest.raises(BridgeResponseError) as caught:
        client.get_item(token, item["id"])

    assert caught.value.code == "invalid_response"


def test_next_uri_to_another_host_is_refused(emulator, version, user_token):
    client = make_client(emulator, version)
    token, _item = user_token
    page = {
        "resources": [],
        "pagination": {"next_uri": "https://attacker.example/v2/items?after=x"},
    }
    emulator.inject_fault(endpoint(version, "list_items"), status=200, body=page)

    with pytest.raises(BridgeResponseError):
        client.list_items(token)

    assert emulator.count(endpoint(version, "list_items")) == 1


def test_n_calls_for_one_user_authenticate_once(emulator, version):
    client = make_client(emulator, version)
    user = emulator.add_user(external_user_id="busy")
    emulator.add_item(user["uuid"], accounts=1)

    for _index in range(15):
        client.list_items(client.get_user_token(user_uuid=user["uuid"]))
    errors = []

    def work():
        try:
            token = client.get_user_token(external_user_id="busy")
            client.list_accounts(token)
        except BridgeError as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _index in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    # One for the uuid key, one for the external id key, whatever the concurrency.
    assert emulator.count(endpoint(version, "authenticate")) == 2
