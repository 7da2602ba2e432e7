"""Repo-level tests: the Bridge client and the emulator, without an Odoo server.

``openbanking_bridge/__init__.py`` imports the Odoo models. To import
``openbanking_bridge.bridge`` and ``openbanking_bridge.const`` without it, a bare
package module pointing at the addon's directory is registered first: its
``__init__.py`` never runs, whether Odoo is importable or not.
"""

import sys
import types
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parent.parent
ADDON_DIR = REPO / "openbanking_bridge"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _register_addon_stub():
    module = sys.modules.get("openbanking_bridge")
    if module is not None:
        # Already imported (e.g. by an earlier stub): it must be the addon's.
        if [str(Path(p).resolve()) for p in module.__path__] != [str(ADDON_DIR)]:
            raise RuntimeError(f"openbanking_bridge comes from {module.__path__}")
        return
    stub = types.ModuleType("openbanking_bridge")
    stub.__path__ = [str(ADDON_DIR)]
    stub.__package__ = "openbanking_bridge"
    stub.__doc__ = "Stub of the addon package: its __init__ (Odoo models) is skipped."
    sys.modules["openbanking_bridge"] = stub


_register_addon_stub()

from bridge_emulator import BridgeEmulator
from openbanking_bridge import const
from openbanking_bridge.bridge import BridgeClient

VERSIONS = (const.API_VERSION_V2, const.API_VERSION_V3)


class WebhookReceiver:
    """A loopback HTTP endpoint that records the webhooks POSTed to it."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                received.append((dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            daemon=True,
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhook"

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def emulator(receiver):
    with BridgeEmulator(
        webhook_url=receiver.url, webhook_secret="whsec-test-0123456789"
    ) as emu:
        yield emu


def make_client(emu, version, **kwargs):
    """A client of ``emu`` with small timeouts and back-off, no proxy from the env."""
    session = requests.Session()
    session.trust_env = False
    kwargs.setdefault("timeout", (2, 5))
    kwargs.setdefault("backoff_factor", 0.01)
    kwargs.setdefault("backoff_max", 0.05)
    return BridgeClient(
        emu.url, emu.client_id, emu.client_secret, version, session=session, **kwargs
    )


@pytest.fixture(params=VERSIONS, ids=["v2", "v3"])
def version(request):
    return request.param


@pytest.fixture
def client(emulator, version):
    bridge_client = make_client(emulator, version)
    yield bridge_client
    bridge_client.session.close()
