"""Run the emulator: ``python -m bridge_emulator --port 3010 --webhook-url URL``."""

import argparse
import logging
import signal
import threading

from .server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_HOST,
    BridgeEmulator,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bridge_emulator",
        description="A local emulator of Bridge's API (2021-06-01 and 2025-01-15).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="default: %(default)s")
    parser.add_argument("--port", type=int, default=3010, help="default: %(default)s")
    parser.add_argument("--webhook-url", help="where to POST signed webhooks")
    parser.add_argument(
        "--webhook-secret",
        action="append",
        default=[],
        help="webhook secret; give it twice to emulate a rotation",
    )
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument(
        "--any-client",
        action="store_true",
        help="accept any Client-Id and Client-Secret",
    )
    parser.add_argument(
        "--public-url", help="base URL of the Connect links, if not http://host:port"
    )
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="never answer 429"
    )
    parser.add_argument(
        "--no-password-users",
        action="store_true",
        help="refuse v2 email and password users, as for applications after 2023",
    )
    parser.add_argument("--verbose", "-v", action="store_true")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    emulator = BridgeEmulator(
        args.host,
        args.port,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret or None,
        client_id=None if args.any_client else args.client_id,
        client_secret=None if args.any_client else args.client_secret,
        page_size=args.page_size,
        rate_limits=not args.no_rate_limits,
        allow_password_users=not args.no_password_users,
        public_url=args.public_url,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_args: done.set())
    with emulator:
        print(f"Bridge emulator on {emulator.url} (Ctrl-C to stop)", flush=True)
        try:
            done.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
