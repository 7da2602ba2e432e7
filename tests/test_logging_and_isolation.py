"""Nothing secret is ever logged; the Bridge code stands apart from Odoo and the
emulator apart from the client."""

import logging
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO, VERSIONS, make_client

from bridge_emulator import BridgeEmulator
from openbanking_bridge.bridge import (
    BridgeAuthenticationError,
    BridgeError,
    format_iban,
    is_valid_iban,
    normalize_iban,
    validate_iban,
)

V2, V3 = VERSIONS
CLIENT_SECRET = "client-secret-Zq81xT"
PASSWORD = "user-password-Kd72pM"
WEBHOOK_SECRET = "webhook-secret-Pw55rV"


def test_no_secret_token_or_password_is_logged(caplog, receiver):
    caplog.set_level(logging.DEBUG)
    tokens = []
    errors = []
    with BridgeEmulator(
        client_id="client-id",
        client_secret=CLIENT_SECRET,
        webhook_url=receiver.url,
        webhook_secret=WEBHOOK_SECRET,
    ) as emu:
        client = make_client(emu, V2)
        user = client.create_user(email="signatory@example.com", password=PASSWORD)
        token = client.get_user_token(email="signatory@example.com", password=PASSWORD)
        tokens.append(token.access_token)
        session = client.create_connect_session(token, email="signatory@example.com")
        item = emu.complete_connect(session.url.rsplit("/", 1)[1], 574, 2)
        emu.wait_for_webhooks()
        client.list_accounts(token, item["id"])
        emu.inject_fault("GET /v2/items", status=500)
        client.list_items(token)  # retried after the 500
        try:
            client.authenticate(email="signatory@example.com", password=PASSWORD + "x")
        except BridgeAuthenticationError as error:
            errors.append(error)
        client_v3 = make_client(emu, V3)
        token_v3 = client_v3.authenticate(user_uuid=user.uuid)
        tokens.append(token_v3.access_token)
        emu.advance_clock(3 * 3600)
        try:
            client_v3.list_items(token_v3)
        except BridgeAuthenticationError as error:
            errors.append(error)
        client_v3.delete_user(user.uuid)

    logged = caplog.text
    assert "POST /v2/authenticate -> 200 in" in logged
    assert "GET /v2/items -> 500 in" in logged
    assert "GET /v3/aggregation/items -> 401 in" in logged
    assert len(errors) == 2
    shown = " ".join([logged, *map(str, errors), *map(repr, errors), repr(client)])
    for secret in (CLIENT_SECRET, PASSWORD, WEBHOOK_SECRET, *tokens):
        assert secret not in shown


def run_python(code):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bridge_package_imports_nothing_from_odoo():
    result = run_python(
        """
        import sys, types
        stub = types.ModuleType("openbanking_bridge")
        stub.__path__ = ["openbanking_bridge"]
        sys.modules["openbanking_bridge"] = stub
        import openbanking_bridge.bridge, openbanking_bridge.const
        print(sorted(name for name in sys.modules if name.split(".")[0] == "odoo"))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_emulator_shares_no_code_with_the_client():
    result = run_python(
        """
        import sys
        import bridge_emulator
        from bridge_emulator import BridgeEmulator
        print(sorted(n for n in sys.modules if n.startswith(("openbanking", "odoo"))))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("value", "compact", "valid"),
    [
        ("fr76 3000 4000 0100 0000 0000 330", "FR7630004000010000000000330", True),
        ("FR7630004000010000000000331", "FR7630004000010000000000331", False),
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000", True),
        ("  ", None, False),
        ("", None, False),
        (None, None, False),
    ],
)
def test_iban_helpers(value, compact, valid):
    assert normalize_iban(value) == compact
    assert is_valid_iban(value) is valid
    if valid:
        assert validate_iban(value) == compact
        assert format_iban(value).replace(" ", "") == compact
    else:
        with pytest.raises(ValueError):
            validate_iban(value)


def test_error_str_is_short_and_plain():
    error = BridgeError(404, "not_found", "Item not found", "item_id")

    assert str(error) == "Bridge error 404 (not_found): Item not found [item_id]"
