# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib
import time
from urllib.parse import parse_qsl

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import (
    TEST_CURSOR_COOKIE_NAME,
    ChromeBrowser,
    ChromeBrowserException,
)

from odoo.addons.openbanking_bridge.models.openbanking_web_service import (
    CONNECT_CALLBACK_ROUTE,
    WEBHOOK_ROUTE,
)

from bridge_emulator.banks import french_iban

from .common import USER_GROUP, BridgeEmulatorMixin

TOUR = "openbanking_bridge_e2e_tour"
# what the tour types (openbanking_bridge_e2e_tour.js)
PASSWORD = "e2e-Bridge-pass"
# The Connect page of a fresh emulator proposes the accounts 1 and 2 of its first
# bank, "Demo Bank" (574, bank code 30004, branch 00001).
EMULATOR_BANK_ID = 574


def emulator_iban(serial):
    return french_iban("30004", "00001", f"{serial:011d}")


@tagged("post_install", "-at_install", "is_tour")
class TestEndToEnd(BridgeEmulatorMixin, HttpCase):
    """The whole flow in Chromium, against a Bridge emulator that sends its
    webhooks to this Odoo: a signatory opens the webview from the bank, types a
    password twice; on the emulator's Connect page two accounts are ticked and
    submitted; the webhooks are processed; the two bank accounts carry their
    Bridge ids, the bank its Bridge id, the third account nothing."""

    webhook_secret = "whsec-e2e-7d21"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_bridge_emulator(
            webhook_url=f"{cls.base_url()}{WEBHOOK_ROUTE}",
            webhook_secret=cls.webhook_secret,
        )
        cls.user = new_test_user(
            cls.env,
            login="ob_e2e_signatory",
            name="Sacha Signatory",
            email="sacha.signatory@example.com",
            groups=USER_GROUP,
        )
        # whatever the database holds (demo data), one active web service
        cls.env["openbanking.web.service"].search([]).action_archive()
        cls.bank = cls.env["res.bank"].create(
            {
                "name": "Banque E2E Bridge",
                "country": cls.env.ref("base.fr").id,
                "openbanking_type": "open_banking",
            }
        )
        cls.env["openbanking.web.service"].create(
            {
                "name": "Bridge E2E",
                "bank_id": cls.bank.id,
                "api_url": cls.emu.url,
                "api_mode": "v2_password",
                "client_id": cls.emu.client_id,
                "client_secret": cls.emu.client_secret,
                "webhook_secret": cls.webhook_secret,
            }
        )
        cls.signatory = cls.env["openbanking.signatory"].create(
            {"bank_id": cls.bank.id, "user_id": cls.user.id}
        )
        ibans = [emulator_iban(serial) for serial in (1, 2, 3)]
        # whatever the database holds (demo data), no other active account has
        # these IBANs; the archived ones keep theirs, so the accounts of the test
        # belong to an address of the company, whose accounts are linked too
        cls.env["res.partner.bank"].search(
            [("sanitized_acc_number", "in", ibans)]
        ).action_archive()
        address = cls.env["res.partner"].create(
            {
                "name": "Siège E2E",
                "parent_id": cls.env.company.partner_id.id,
                "type": "invoice",
            }
        )
        cls.accounts = cls.env["res.partner.bank"].create(
            [
                {"acc_number": iban, "partner_id": address.id, "bank_id": cls.bank.id}
                for iban in ibans
            ]
        )

    def test_webview_connect_webhooks_link(self):
        with self._browser(self.user.login) as browser:
            # 1. in Odoo, as the signatory
            browser.navigate_to(
                f"{self.base_url()}/odoo/action-openbanking_bridge.res_bank_action"
            )
            self.assertTrue(browser._wait_ready(f"odoo.isTourReady({TOUR!r})"))
            browser._wait_code_ok(f"odoo.startTour({TOUR!r})", timeout=30)
            connect_url = self._evaluate(
                browser, "document.body.dataset.openbankingConnectUrl"
            )
            session_prefix = f"{self.emu.url}/connect/session/"
            self.assertTrue(connect_url.startswith(session_prefix), connect_url)

            # 2. on the emulator's Connect page, in the same Chromium
            browser.navigate_to(connect_url, wait_stop=True)
            # Odoo's page is left: its last requests (the dialog closing, the
            # form reloaded) are over before this thread reads the database,
            # whose test cursor they share
            self._wait_remaining_requests()
            # the Bridge user registered with the signatory's email and password
            signatory_sudo = self.signatory.sudo()
            self.assertEqual(signatory_sudo.state, "registered")
            bridge_user = self.emu.user(signatory_sudo.bridge_user_uuid)
            self.assertEqual(bridge_user["email"], self.user.email)
            self.assertEqual(signatory_sudo._openbanking_get_password(), PASSWORD)
            self._wait_until(browser, "!!document.getElementById('connect-submit')")
            self.assertEqual(
                self._evaluate(
                    browser,
                    "[...document.querySelectorAll('input[id$=\"-iban\"]')]"
                    ".map((input) => input.value).filter(Boolean)",
                ),
                [emulator_iban(1), emulator_iban(2)],
                "the Connect page proposes the IBANs of two of the accounts",
            )
            self.assertTrue(
                self._evaluate(
                    browser,
                    f"document.getElementById('bank-{EMULATOR_BANK_ID}').checked",
                )
            )
            # untick what the page ticks for you, then tick the two accounts
            self._evaluate(
                browser,
                """
                for (const box of document.querySelectorAll("input[type=checkbox]")) {
                    if (box.checked) { box.click(); }
                }
                document.getElementById("account-0-selected").click();
                document.getElementById("account-1-selected").click();
                """,
            )
            self.assertEqual(
                self._evaluate(
                    browser,
                    "[...document.querySelectorAll('input[type=checkbox]')]"
                    ".map((box) => box.checked)",
                ),
                [True, True, False, False],
            )
            # the click navigates: run it after this evaluation returns
            self._evaluate(
                browser,
                "setTimeout(() => document.getElementById('connect-submit').click())",
            )
            # Connect sends the browser back to Odoo's callback page
            self._wait_until(
                browser,
                f"location.pathname === {CONNECT_CALLBACK_ROUTE!r}"
                " && !!document.getElementById('connect-success')",
            )
            callback = dict(
                parse_qsl(self._evaluate(browser, "location.search").lstrip("?"))
            )
        self.assertEqual(callback["success"], "true")
        self.assertEqual(callback["user_uuid"], bridge_user["uuid"])
        item = self.emu.item(int(callback["item_id"]))

        # 3. the webhooks Connect sent, received by the route; the cron's work
        deliveries = self.emu.wait_for_webhooks()
        self.assertEqual(
            [delivery.event_type for delivery in deliveries],
            [
                "item.created",
                "item.account.created",
                "item.account.created",
                "item.refreshed",
            ],
        )
        self.assertEqual({delivery.status for delivery in deliveries}, {200})
        Event = self.env["openbanking.webhook.event"]
        while Event._cron_process_events():
            pass
        self.assertEqual(len(item["accounts"]), 2)
        self.assertEqual(self.bank.bridge_bank_ref, str(EMULATOR_BANK_ID))
        self.assertEqual(self.bank.bridge_bank_ref, str(item["bank_id"]))
        for account, bridge_account in zip(
            self.accounts[:2], item["accounts"], strict=True
        ):
            self.assertEqual(account.sanitized_acc_number, bridge_account["iban"])
            self.assertEqual(account.bridge_account_ref, str(bridge_account["id"]))
            self.assertEqual(account.bridge_item_ref, str(item["id"]))
            self.assertTrue(account.bridge_link_date)
        self.assertRecordValues(
            self.accounts[2],
            [{"bridge_account_ref": False, "bridge_item_ref": False}],
        )
        self.assertFalse(self.accounts[2].bridge_link_date)
        self.assertEqual(self.signatory.state, "connected")

    # ------------------------------------------------------------------
    # Chromium, driven through Odoo's test browser
    # ------------------------------------------------------------------

    @contextlib.contextmanager
    def _browser(self, login):
        """Odoo's headless Chromium, logged in as ``login``, kept open across
        pages of several origins (``browser_js`` closes it after one script):
        the same set-up as ``browser_js``, then its clean-up."""
        browser = ChromeBrowser(self, success_signal="tour succeeded")
        try:
            self.http_request_key = self.canonical_tag + "_browser_js"
            self.authenticate(login, login, browser=browser)
            self.cr.flush()
            self.cr.clear()
            yield browser
        finally:
            browser.stop()
            self._wait_remaining_requests()
            self.http_request_key = self.canonical_tag
            self.opener.cookies[TEST_CURSOR_COOKIE_NAME] = self.http_request_key

    def _evaluate(self, browser, expression):
        """The value of a JavaScript expression in the browser's page."""
        answer = browser._websocket_request(
            "Runtime.evaluate",
            params={"expression": expression, "returnByValue": True},
        )
        if "exceptionDetails" in answer:
            self.fail(f"{expression} failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def _wait_until(self, browser, expression, timeout=15):
        """Wait until ``expression`` is true in the page, across navigations."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # during a navigation, the page's context may be gone
            with contextlib.suppress(ChromeBrowserException, TimeoutError):
                answer = browser._websocket_request(
                    "Runtime.evaluate",
                    params={"expression": expression, "returnByValue": True},
                    timeout=2,
                )
                if answer["result"].get("value") is True:
                    return
            time.sleep(0.1)
        browser.take_screenshot(prefix="sc_e2e_failed_")
        self.fail(f"Still false after {timeout} s in the browser: {expression}")
