"""A local emulator of Bridge's API (bridgeapi.io), both versions, for tests and demos.

Standard library only, and no code shared with ``openbanking_bridge.bridge``: an
emulator that shared the client's code would hide the client's bugs.
See README.md beside this file.
"""

from .api import ENDPOINTS, V2, V3
from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, BridgeEmulator
from .webhooks import SIGNATURE_HEADER, WebhookDelivery

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "ENDPOINTS",
    "SIGNATURE_HEADER",
    "V2",
    "V3",
    "BridgeEmulator",
    "WebhookDelivery",
]
