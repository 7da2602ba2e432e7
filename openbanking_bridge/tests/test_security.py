# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import SQL

from odoo.addons.openbanking_bridge.models.openbanking_web_service import (
    CONNECT_CALLBACK_ROUTE,
    WEBHOOK_ROUTE,
)

from .common import MANAGER_GROUP, USER_GROUP, OpenbankingCase

EXPORT_GROUP = "base.group_allow_export"
# (model, secret fields) of every secret a non-system user must never read
SECRETS = {
    "openbanking.web.service": (
        "client_secret",
        "webhook_secret",
        "webhook_secret_previous",
    ),
    "openbanking.signatory": (
        "bridge_password",
        "bridge_access_token",
        "bridge_token_expires_at",
        "bridge_token_date",
    ),
    "res.bank.webview": ("password_encrypted", "password_confirmation_encrypted"),
}


class SecretRecordsMixin:
    """A web service, a signatory and a webview dialog of the plain user, each
    with every secret field set."""

    @classmethod
    def _create_secret_records(cls):
        cls.env["openbanking.web.service"].search([]).action_archive()
        cls.bank = cls.env["res.bank"].create(
            {"name": "Banque Secrète", "openbanking_type": "open_banking"}
        )
        cls.service = cls.env["openbanking.web.service"].create(
            {
                "name": "Bridge Secret",
                "bank_id": cls.bank.id,
                "client_id": "visible-client-id",
                "client_secret": "cs-7d1f0a9e",
                "webhook_secret": "whs-52b8c3e1",
                "webhook_secret_previous": "whs-prev-90aa41",
            }
        )
        now = fields.Datetime.now()
        cls.signatory = cls.env["openbanking.signatory"].create(
            {
                "bank_id": cls.bank.id,
                "user_id": cls.user.id,
                "bridge_password": "pw-ciphertext-3e7a",
                "bridge_access_token": "tok-ciphertext-c4d2",
                "bridge_token_expires_at": now,
                "bridge_token_date": now,
            }
        )
        cls.wizard = (
            cls.env["res.bank.webview"]
            .with_user(cls.user)
            .create({"bank_id": cls.bank.id})
        )
        cls.wizard.sudo().write(
            {
                "password_encrypted": "typed-ciphertext-81f0",
                "password_confirmation_encrypted": "typed-ciphertext-81f1",
            }
        )
        cls.records = {
            "openbanking.web.service": cls.service,
            "openbanking.signatory": cls.signatory,
            "res.bank.webview": cls.wizard,
        }

    def secret_values(self):
        """Every secret value as stored (dates as the ORM sends them)."""
        values = []
        for model, fnames in SECRETS.items():
            record_sudo = self.records[model].sudo()
            for fname in fnames:
                value = record_sudo[fname]
                if value:
                    values.append(
                        fields.Datetime.to_string(value)
                        if not isinstance(value, str)
                        else value
                    )
        return values


@tagged("post_install", "-at_install")
class TestSecretsOrm(SecretRecordsMixin, OpenbankingCase):
    """Through every ORM entry point, for a plain user and a manager."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_secret_records()
        # allowed to export: what is refused below is the field
        (cls.user | cls.manager).groups_id |= cls.env.ref(EXPORT_GROUP)

    def test_secret_fields_refused(self):
        for user in (self.user, self.manager):
            for model, fnames in SECRETS.items():
                record = self.records[model].with_user(user)
                for fname in fnames:
                    with self.subTest(user=user.login, model=model, fname=fname):
                        self.assertFieldRefused(record, fname, "stolen")
        # nothing was written
        self.assertEqual(self.service.sudo().client_secret, "cs-7d1f0a9e")

    def test_web_service_form_shows_whether_set(self):
        service = self.service.with_user(self.user)
        arch = service.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="client_secret_set"', arch)
        self.assertIn('name="webhook_secret_set"', arch)
        for fname in SECRETS["openbanking.web.service"]:
            self.assertNotIn(f'name="{fname}"', arch)
        self.assertEqual(
            service.read(["client_secret_set", "webhook_secret_set"])[0],
            {"id": service.id, "client_secret_set": True, "webhook_secret_set": True},
        )
        self.service.sudo().webhook_secret = False
        self.assertFalse(service.webhook_secret_set)
        # a system user gets the fields, as password inputs
        arch = self.service.with_user(self.admin).get_views([(False, "form")])["views"][
            "form"
        ]["arch"]
        self.assertIn('name="client_secret" password="True"', arch)

    def test_webview_dialog_of_its_user_only(self):
        with self.assertRaises(AccessError):
            self.wizard.with_user(self.other_user).read(["bank_id"])
        self.assertFalse(
            self.env["res.bank.webview"].with_user(self.other_user).search([])
        )
        self.assertEqual(self.wizard.with_user(self.user).bank_id, self.bank)


@tagged("post_install", "-at_install")
class TestSecretsJsonRpc(SecretRecordsMixin, HttpCase):
    """Over JSON-RPC, as the web client calls the ORM: refused to a plain
    user, and no secret value in any answer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(
            cls.env,
            login="ob_rpc_user",
            name="Rita RPC",
            email="rita.rpc@example.com",
            groups=f"{USER_GROUP},{EXPORT_GROUP}",
        )
        cls.manager = new_test_user(
            cls.env, login="ob_rpc_manager", groups=f"{MANAGER_GROUP},{EXPORT_GROUP}"
        )
        cls._create_secret_records()
        partner = cls.env.company.partner_id
        cls.account = cls.env["res.partner.bank"].create(
            {
                "acc_number": "FR76 9999 9000 0100 0876 5432 372",
                "partner_id": partner.id,
                "bank_id": cls.bank.id,
            }
        )
        cls.account.sudo().write(
            {
                "bridge_account_ref": "acc-ref-66102",
                "bridge_item_ref": "item-ref-66103",
                "bridge_link_date": fields.Datetime.now(),
                "bridge_signatory_id": cls.signatory.id,
            }
        )
        cls.records["res.partner.bank"] = cls.account

    def call_kw(self, model, method, args=(), kwargs=None):
        """One call of the web client's ``/web/dataset/call_kw``; return the
        decoded answer and its raw text."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {
                "model": model,
                "method": method,
                "args": list(args),
                "kwargs": kwargs or {},
            },
        }
        response = self.url_open(
            "/web/dataset/call_kw",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        return response.json(), response.text

    def test_plain_user_reads_no_secret(self):
        self.authenticate(self.user.login, self.user.login)
        # the session works: a field that is not secret is read
        answer, _text = self.call_kw(
            "openbanking.web.service",
            "read",
            [[self.service.id], ["client_id", "client_secret_set"]],
        )
        self.assertEqual(answer["result"][0]["client_id"], "visible-client-id")
        self.assertTrue(answer["result"][0]["client_secret_set"])
        secrets = self.secret_values()
        # the raw Bridge ids of a bank account too: only with the consult right,
        # through the computed fields
        raw_fields = dict(
            SECRETS,
            **{
                "res.partner.bank": (
                    "bridge_account_ref",
                    "bridge_item_ref",
                    "bridge_link_date",
                    "bridge_signatory_id",
                )
            },
        )
        secrets += ["acc-ref-66102", "item-ref-66103"]
        for model, fnames in raw_fields.items():
            record_id = self.records[model].id
            for fname in fnames:
                for method, args, kwargs in (
                    ("read", [[record_id], [fname]], {}),
                    ("search_read", [[], [fname]], {}),
                    ("web_read", [[record_id]], {"specification": {fname: {}}}),
                    (
                        "web_search_read",
                        [],
                        {"domain": [], "specification": {fname: {}}},
                    ),
                    ("search_count", [[(fname, "!=", False)]], {}),
                    (
                        "read_group",
                        [],
                        {"domain": [], "fields": ["id:count"], "groupby": [fname]},
                    ),
                    (
                        "web_read_group",
                        [],
                        {"domain": [], "fields": ["id:count"], "groupby": [fname]},
                    ),
                    ("export_data", [[record_id], [fname]], {}),
                ):
                    with self.subTest(model=model, fname=fname, method=method):
                        answer, text = self.call_kw(model, method, args, kwargs)
                        self.assertNotIn("result", answer)
                        self.assertEqual(
                            answer["error"]["data"]["name"],
                            "odoo.exceptions.AccessError",
                        )
                        for secret in secrets:
                            self.assertNotIn(secret, text)
        # what a consulting user reads instead
        answer, text = self.call_kw(
            "res.partner.bank",
            "read",
            [[self.account.id], ["openbanking_account_ref", "openbanking_linked"]],
        )
        self.assertEqual(
            answer["result"][0],
            {
                "id": self.account.id,
                "openbanking_account_ref": False,
                "openbanking_linked": False,
            },
        )
        self.env["openbanking.authorization"].create(
            {"bank_account_id": self.account.id, "user_id": self.user.id}
        )
        answer, text = self.call_kw(
            "res.partner.bank",
            "read",
            [[self.account.id], ["openbanking_account_ref"]],
        )
        self.assertEqual(
            answer["result"][0]["openbanking_account_ref"], "acc-ref-66102"
        )


@tagged("post_install", "-at_install")
class TestPublicRoutes(HttpCase):
    """The public routes answer fixed texts: no record name, id or trace, even
    when something fails inside."""

    CONTROLLER_LOGGER = "odoo.addons.openbanking_bridge.controllers"
    LEAK = "Compte de la Société Secrète (id 4242)"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["openbanking.web.service"].search([]).action_archive()
        cls.bank = cls.env["res.bank"].create(
            {"name": "Banque Publique 4243", "openbanking_type": "open_banking"}
        )
        cls.service = cls.env["openbanking.web.service"].create(
            {
                "name": "Bridge Publique 4244",
                "bank_id": cls.bank.id,
                "webhook_secret": "whs-public-1",
            }
        )

    def assertNothingExposed(self, response):
        for text in (
            "4242",
            "4243",
            "4244",
            "Société Secrète",
            "Banque Publique",
            "Bridge Publique",
            "Traceback",
            "File ",
            "odoo.",
        ):
            self.assertNotIn(text, response.text)

    def post_webhook(self, path=WEBHOOK_ROUTE):
        return self.url_open(
            path,
            data=b'{"type": "TEST_EVENT", "timestamp": 1, "content": {}}',
            headers={"Content-Type": "application/json"},
        )

    def test_webhook_answers(self):
        response = self.post_webhook()
        self.assertEqual(
            (response.status_code, response.text), (403, "Invalid signature")
        )
        self.assertNothingExposed(response)
        response = self.post_webhook(f"{WEBHOOK_ROUTE}/4244")
        self.assertEqual(
            (response.status_code, response.text), (404, "Unknown calling code")
        )
        self.assertNothingExposed(response)

    def test_webhook_error_inside(self):
        Event = type(self.env["openbanking.webhook.event"])
        for error in (
            UserError(self.LEAK),
            AccessError(self.LEAK),
            ValueError(self.LEAK),
            KeyError(self.LEAK),
        ):
            with self.subTest(error=type(error).__name__):
                with (
                    patch.object(Event, "_openbanking_receive", side_effect=error),
                    self.assertLogs(self.CONTROLLER_LOGGER, "ERROR") as logs,
                ):
                    response = self.post_webhook()
                self.assertEqual(
                    (response.status_code, response.text), (500, "Internal error")
                )
                self.assertNothingExposed(response)
                # the server log has it
                self.assertIn("Webhook delivery failed", logs.output[0])

    def test_webhook_error_while_storing(self):
        """A database error in the insert: nothing stored, a bare 500."""
        Event = type(self.env["openbanking.webhook.event"])

        def failing_insert(self_, vals):
            self_.env.cr.execute(SQL("SELECT 1/0"), log_exceptions=False)

        with (
            patch.object(Event, "_openbanking_insert_event", failing_insert),
            patch(
                "odoo.addons.openbanking_bridge.models.openbanking_webhook_event"
                ".verify_signature",
                return_value=True,
            ),
            self.assertLogs(self.CONTROLLER_LOGGER, "ERROR"),
        ):
            response = self.post_webhook()
        self.assertEqual((response.status_code, response.text), (500, "Internal error"))
        self.assertNothingExposed(response)
        self.assertFalse(self.env["openbanking.webhook.event"].search([]))

    def test_connect_callback_error_inside(self):
        QWeb = type(self.env["ir.qweb"])
        with (
            patch.object(QWeb, "_render", side_effect=UserError(self.LEAK)),
            self.assertLogs(self.CONTROLLER_LOGGER, "ERROR"),
        ):
            response = self.url_open(
                f"{CONNECT_CALLBACK_ROUTE}?user_uuid=u-4242&item_id=4242&success=true"
            )
        self.assertEqual(response.status_code, 500)
        self.assertIn("You can close this window.", response.text)
        self.assertNothingExposed(response)
        self.assertEqual(response.headers["Cache-Control"], "no-store")
