# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
from contextlib import contextmanager

from odoo.tests import new_test_user, tagged
from odoo.tools import config

from .common import USER_GROUP
from .webhook_common import EMULATOR_BANK_ID, WebhookCase

# the loggers whose levels are lowered for the capture (and their children)
CAPTURED = (
    "odoo",
    "werkzeug",
    "urllib3",
    "requests",
    "bridge_emulator",
    "openbanking_bridge",
)


class CapturingHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        # the message and the traceback, as any log handler would write them
        self.lines.append(self.format(record))


@tagged("post_install", "-at_install")
class TestNothingSecretLogged(WebhookCase):
    """The whole flow, logged at DEBUG by every logger of Odoo, the HTTP
    layers and the emulator: the webview with a typed password (2021-06-01,
    email and password), Bridge Connect completed, the webhooks posted and
    processed, the linking, then the actions on the linked account. No
    secret, password, token or encryption key is in any line."""

    PASSWORD = "Lg-s3cret-pass-91"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.service.api_mode = "v2_password"
        cls.flow_user = new_test_user(
            cls.env,
            login="ob_log_user",
            name="Lou Log",
            email="lou.log@example.com",
            groups=USER_GROUP,
        )
        cls.flow_signatory = cls.env["openbanking.signatory"].create(
            {"bank_id": cls.bank.id, "user_id": cls.flow_user.id}
        )
        cls.env["openbanking.authorization"].create(
            {
                "bank_account_id": cls.account_1.id,
                "user_id": cls.flow_user.id,
                "right": "manage",
            }
        )

    @contextmanager
    def capture_logs(self):
        """Every log record at DEBUG and above, formatted, in a list."""
        handler = CapturingHandler()
        handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        root = logging.getLogger()
        loggers = [root] + [
            logger
            for name, logger in logging.root.manager.loggerDict.items()
            if isinstance(logger, logging.Logger)
            and name.split(".")[0] in CAPTURED
            and logger.level != logging.NOTSET
        ]
        levels = [(logger, logger.level) for logger in loggers]
        # the test runner's own handlers keep their usual level: no flood
        handler_levels = [(h, h.level) for h in root.handlers]
        for other, level in handler_levels:
            other.setLevel(max(level, logging.INFO))
        for logger in loggers:
            logger.setLevel(logging.DEBUG)
        root.addHandler(handler)
        try:
            yield handler.lines
        finally:
            root.removeHandler(handler)
            for logger, level in levels:
                logger.setLevel(level)
            for other, level in handler_levels:
                other.setLevel(level)

    def test_whole_flow(self):
        account = self.account_1.with_user(self.flow_user)
        with self.capture_logs() as lines:
            # the webview: the password typed twice
            action = self.bank.with_user(self.flow_user).action_open_webview()
            wizard = (
                self.env[action["res_model"]]
                .with_user(self.flow_user)
                .with_context(**action["context"])
                .create(
                    {"password": self.PASSWORD, "password_confirmation": self.PASSWORD}
                )
            )
            action = wizard.action_open_webview()
            session_id = action["url"].rsplit("/", 1)[1]
            # Bridge Connect completed: the webhooks reach the route
            item = self.emu.complete_connect(
                session_id,
                EMULATOR_BANK_ID,
                [{"iban": self.iban_1, "name": "Compte courant"}],
                sync=True,
            )
            self.assertEqual(self.url_open(item["redirect_url"]).status_code, 200)
            # a delivery signed with another secret, refused
            self.post({"type": "TEST_EVENT", "timestamp": 1}, secret="not-it")
            # the processing: the IBAN linked
            self.process()
            self.assertTrue(account.openbanking_linked)
            # the actions on the linked account
            account.action_openbanking_details()
            account.action_openbanking_refresh()
            self.emu.wait_for_webhooks()
            self.process()
            account.action_openbanking_open_webview()
            account.action_openbanking_unlink()
        tokens = list(self.emu.state.tokens)
        self.assertTrue(tokens)
        secrets = {
            "client secret": self.emu.client_secret,
            "webhook secret": self.secret,
            "password": self.PASSWORD,
            "encryption key": config["openbanking_bridge_keys"],
            **{f"token {index}": token for index, token in enumerate(tokens)},
        }
        # the capture saw the flow
        log = "\n".join(lines)
        for seen in (
            "POST /v2/users",
            "POST /v2/authenticate",
            "/openbanking/bridge/webhook",
            "Webhook refused",
            "POST /v2/items/{item_id}/refresh".replace("{item_id}", str(item["id"])),
            "openbanking_signatory",  # SQL at DEBUG
        ):
            self.assertIn(seen, log)
        for name, secret in secrets.items():
            with self.subTest(secret=name):
                self.assertTrue(secret)
                # the lines at fault, if any (not the whole log)
                self.assertFalse([line[:300] for line in lines if secret in line])
