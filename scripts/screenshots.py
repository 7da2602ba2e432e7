"""Take the README's screenshots of the demo, in headless Chromium.

Run it while ``scripts/run`` serves the demo, before anyone went through the
flow (each start of ``scripts/run`` begins it afresh), with Odoo's Python, which
holds ``websocket-client`` (``scripts/test`` installs it there)::

    /opt/odoo18/venv/bin/python scripts/screenshots.py

It drives Chromium through the DevTools protocol as a user would: logs in as
admin, opens the demo bank, clicks Open webview, types a password twice,
confirms, follows the Connect page in the tab Odoo opens, submits it, waits for
Odoo's cron to link the accounts, and opens a linked one. It writes four
1280x800 PNGs to ``docs/screenshots/``. Afterwards the demo holds what the flow
did (restart ``scripts/run`` to begin again).
"""

import argparse
import base64
import contextlib
import itertools
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

REPO = pathlib.Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1280, 800
PASSWORD = "demo-Bridge-2024"
BANK = "Banque Démo Bridge"
ACCOUNT = "FR76 3000 4000 0100 0000 0000 136"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-popup-blocking",
    "--hide-scrollbars",
    f"--window-size={WIDTH},{HEIGHT}",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


class Tab:
    """One page of Chromium, spoken to over its DevTools websocket."""

    def __init__(self, websocket_url):
        self.ws = websocket.create_connection(
            websocket_url, timeout=30, suppress_origin=True
        )
        self.ids = itertools.count(1)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )

    def call(self, method, **params):
        request_id = next(self.ids)
        self.ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == request_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression):
        """The value of ``expression`` (awaited), run as a user gesture."""
        answer = self.call(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
            userGesture=True,
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait(self, expression, timeout=20, what=None):
        """Wait until ``expression`` is true, across page loads."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(RuntimeError):
                if self.evaluate(expression) is True:
                    return
            time.sleep(0.2)
        failed = pathlib.Path(tempfile.gettempdir(), "screenshots-failed.png")
        with contextlib.suppress(RuntimeError, websocket.WebSocketException):
            self.screenshot(failed)
        sys.exit(f"Gave up waiting for {what or expression} (see {failed})")

    def navigate(self, url):
        self.call("Page.navigate", url=url)

    def click(self, selector):
        self.evaluate(
            f"setTimeout(() => document.querySelector({json.dumps(selector)}).click())"
        )

    def type_into(self, selector, text):
        """Focus a field and type into it, as the keyboard does."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def screenshot(self, path):
        # let the last rendering and transitions settle
        time.sleep(0.8)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        print(f"wrote {path}")


def shown(selector, text=None):
    """JavaScript: an element matching ``selector`` (holding ``text``) is shown."""
    check = "(el) => el.offsetParent !== null"
    if text:
        check += f" && el.textContent.includes({json.dumps(text)})"
    return f"[...document.querySelectorAll({json.dumps(selector)})].some({check})"


@contextlib.contextmanager
def chromium():
    """A headless Chromium with a fresh profile; yields its DevTools port."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        sys.exit("No chromium on the PATH (Debian: apt-get install chromium).")
    profile = tempfile.mkdtemp(prefix="obb-screenshots-")
    process = subprocess.Popen(
        [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = pathlib.Path(profile, "DevToolsActivePort")
        for _attempt in range(100):
            if port_file.is_file() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        else:
            sys.exit("Chromium did not open its DevTools port.")
        yield int(port_file.read_text().split()[0])
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def page_targets(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as f:
        return [target for target in json.load(f) if target["type"] == "page"]


def wait_for_target(port, url_prefix, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for target in page_targets(port):
            if target["url"].startswith(url_prefix):
                return target
        time.sleep(0.2)
    sys.exit(f"No tab opened on {url_prefix}")


def count_linked_accounts(tab):
    """How many bank accounts carry a Bridge id, asked as the logged-in user."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "model": "res.partner.bank",
                "method": "search_count",
                "args": [[["bridge_account_ref", "!=", False]]],
                "kwargs": {},
            },
        }
    )
    return tab.evaluate(
        "fetch('/web/dataset/call_kw/res.partner.bank/search_count', {method: 'POST', "
        f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(body)}}})"
        ".then((r) => r.json()).then((r) => r.result)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--odoo-url", default="http://127.0.0.1:8069")
    parser.add_argument("--emulator-url", default="http://127.0.0.1:3010")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument(
        "--output", type=pathlib.Path, default=REPO / "docs" / "screenshots"
    )
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)

    with chromium() as port:
        odoo = Tab(page_targets(port)[0]["webSocketDebuggerUrl"])
        odoo.navigate(f"{args.odoo_url}/web/login")
        odoo.wait(shown("input[name=login]"), what="the login page")
        odoo.type_into("input[name=login]", args.login)
        odoo.type_into("input[name=password]", args.password)
        odoo.click(".oe_login_form button[type=submit]")
        odoo.wait(shown(".o_main_navbar"), what="the web client after the login")

        # Open Banking > Banks > the demo bank
        odoo.navigate(f"{args.odoo_url}/odoo/action-openbanking_bridge.res_bank_action")
        odoo.wait(shown(".o_data_row td", BANK), what="the banks")
        odoo.evaluate(
            "[...document.querySelectorAll('.o_data_row td')]"
            f".find((td) => td.textContent.includes({json.dumps(BANK)})).click()"
        )
        webview_button = ".o_form_view button[name='action_open_webview']"
        odoo.wait(shown(webview_button), what="the bank's form")
        odoo.screenshot(args.output / "1-bank-form.png")

        # Open webview: the password, twice
        odoo.click(webview_button)
        password = ".modal .o_field_widget[name='password'] input"
        confirmation = ".modal .o_field_widget[name='password_confirmation'] input"
        odoo.wait(
            shown(password),
            what="the password fields of the webview dialog (restart scripts/run "
            "if the flow was already gone through)",
        )
        odoo.type_into(password, PASSWORD)
        odoo.type_into(confirmation, PASSWORD)
        odoo.screenshot(args.output / "2-webview-dialog.png")
        odoo.click(".modal-footer button[name='action_open_webview']")

        # the Connect page, in the tab Odoo opened
        target = wait_for_target(port, f"{args.emulator_url}/connect/session/")
        connect = Tab(target["webSocketDebuggerUrl"])
        connect.wait(shown("#connect-submit"), what="the Connect page")
        connect.screenshot(args.output / "3-connect-page.png")
        connect.click("#connect-submit")
        connect.wait(shown("#connect-success"), what="Odoo's page after Connect")
        # "You can close this window": back to Odoo's tab, which renders again
        connect.call("Page.close")
        odoo.call("Page.bringToFront")

        # the webhooks, processed by Odoo's cron thread
        deadline = time.monotonic() + 60
        while count_linked_accounts(odoo) < 2:
            if time.monotonic() > deadline:
                sys.exit("No account linked within 60 s: see var/odoo-run.log.")
            time.sleep(0.5)

        # Open Banking > Bank Accounts > the first account
        odoo.navigate(
            f"{args.odoo_url}/odoo/action-openbanking_bridge.res_partner_bank_action"
        )
        odoo.wait(shown(".o_data_row td", ACCOUNT), what="the bank accounts")
        odoo.evaluate(
            "[...document.querySelectorAll('.o_data_row td')]"
            f".find((td) => td.textContent.includes({json.dumps(ACCOUNT)})).click()"
        )
        odoo.wait(
            f"{shown('.o_breadcrumb .active', ACCOUNT)}"
            f" && {shown('.o_form_view .o_form_sheet')}",
            what="the bank account's form",
        )
        odoo.screenshot(args.output / "4-linked-bank-account.png")


if __name__ == "__main__":
    main()
