# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import psycopg2

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import OpenbankingCase

SECRETS = ("client_secret", "webhook_secret", "webhook_secret_previous")


@tagged("post_install", "-at_install")
class TestWebService(OpenbankingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Service = cls.env["openbanking.web.service"].with_user(cls.manager)
        cls.service.calling_code = "b1"

    def _create_service(self, **vals):
        return self.Service.create(
            {"name": "Bridge 2", "bank_id": self.bank_2.id, "calling_code": "b2"} | vals
        )

    def test_defaults(self):
        service = self.Service.create(
            {"name": "Bridge", "bank_id": self.bank_2.id, "calling_code": "b2"}
        )
        self.assertEqual(service.provider, "bridge")
        self.assertEqual(service.api_url, "https://api.bridgeapi.io")
        self.assertEqual(service.api_mode, "v3")
        self.assertEqual(service.company_id, self.company)
        self.assertEqual(service.event_retention_days, 30)
        self.assertEqual(self.bank_2.openbanking_service_id, service)

    def test_bank_associated_once(self):
        with self.assertRaisesMessage(
            ValidationError,
            "The bank Banque Test Bridge - BTSTFRPPXXX is already associated with "
            "the web service Bridge Test: a bank can be associated only once.",
        ):
            self._create_service(bank_id=self.bank.id)
        service = self._create_service()
        with self.assertRaisesMessage(
            ValidationError, "with the web service Bridge Test"
        ):
            service.bank_id = self.bank

    def test_bank_associated_once_archived_included(self):
        self.service.with_user(self.manager).action_archive()
        with self.assertRaisesMessage(
            ValidationError,
            "already associated with the archived web service Bridge Test",
        ):
            self._create_service(bank_id=self.bank.id)

    def test_bank_unique_in_database(self):
        """The database refuses a second service on a bank even when the Python
        check is bypassed."""
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.errors.UniqueViolation),
        ):
            self.env.cr.execute(
                """INSERT INTO openbanking_web_service
                       (name, bank_id, company_id, provider, api_url, api_mode, active)
                   VALUES ('Twin', %s, %s, 'bridge', 'x', 'v3', false)""",
                (self.bank.id, self.company.id),
            )
            self.env.cr.execute("SET CONSTRAINTS ALL IMMEDIATE")

    def test_bank_must_be_open_banking(self):
        standard = self.env["res.bank"].create({"name": "Banque Standard"})
        with self.assertRaisesMessage(ValidationError, "must be an Open Banking bank"):
            self._create_service(bank_id=standard.id)
        with self.assertRaisesMessage(
            ValidationError, "associated with the web service Bridge Test"
        ):
            self.bank.with_user(self.manager).openbanking_type = "standard"

    def test_calling_code_required_with_several_services(self):
        # with a single active web service, the calling code may stay empty
        self.service.with_user(self.manager).calling_code = "  "
        self.assertFalse(self.service.calling_code)
        with self.assertRaisesMessage(
            ValidationError,
            "Several web services are active, so each needs a calling code to tell "
            "their webhooks apart. Missing on: Bridge Test.",
        ):
            self._create_service()
        self.service.with_user(self.manager).calling_code = "b1"
        self.assertEqual(self._create_service().calling_code, "b2")

    def test_calling_code_required_on_new_service(self):
        with self.assertRaisesMessage(ValidationError, "Missing on: Bridge 2."):
            self._create_service(calling_code="   ")
        archived = self._create_service(calling_code=False, active=False)
        with self.assertRaisesMessage(ValidationError, "Missing on: Bridge 2."):
            archived.action_unarchive()

    def test_calling_code_unique(self):
        self.service.with_user(self.manager).calling_code = "bank-1"
        with self.assertRaisesMessage(
            ValidationError,
            "The calling code BANK-1 is already used by the web service Bridge Test: "
            "each web service needs its own.",
        ):
            self._create_service(calling_code="BANK-1")
        # "_" is no LIKE wildcard here
        self.assertTrue(self._create_service(calling_code="bank_1"))

    def test_calling_code_normalized_and_url_safe(self):
        service = self._create_service(calling_code="  b2  ")
        self.assertEqual(service.calling_code, "b2")
        with self.assertRaisesMessage(
            ValidationError, "may only hold letters, digits, '-' and '_'"
        ):
            service.calling_code = "b/2"

    def test_webhook_url(self):
        self.env["ir.config_parameter"].set_param(
            "web.base.url", "https://erp.example.com/"
        )
        self.service.calling_code = False
        service = self.service.with_user(self.user)
        self.assertEqual(
            service.webhook_url, "https://erp.example.com/openbanking/bridge/webhook"
        )
        self.service.with_user(self.manager).calling_code = "b1"
        self.assertEqual(
            service.webhook_url,
            "https://erp.example.com/openbanking/bridge/webhook/b1",
        )

    def test_webhook_receivers(self):
        """The services a webhook URL may be for: by calling code, whatever its
        case; without one, every active service (the signature tells)."""
        Service = self.env["openbanking.web.service"]

        def receivers(code):
            return [
                receiver.id for receiver in Service._openbanking_webhook_receivers(code)
            ]

        self.service.webhook_secret = "whsec-1"
        self.assertEqual(receivers(False), [self.service.id])
        self.assertEqual(receivers("B1"), [self.service.id])
        (receiver,) = Service._openbanking_webhook_receivers("b1")
        self.assertEqual(
            (receiver.name, receiver.company_id, receiver.calling_code),
            (self.service.name, self.company.id, "b1"),
        )
        self.assertEqual(receiver.secrets, ("whsec-1", None))
        service_2 = self._create_service(webhook_secret="whsec-2")
        self.assertEqual(receivers("b2"), [service_2.id])
        self.assertEqual(
            sorted(receivers(False)), sorted((self.service | service_2).ids)
        )
        for code in ("b_", "b%", "b1/", " b1"):
            self.assertEqual(receivers(code), [], code)

    def test_webhook_receivers_follow_changes(self):
        """Cached per worker, they follow every change that matters: secrets,
        calling code, archiving, deletion."""
        Service = self.env["openbanking.web.service"]
        self.assertTrue(Service._openbanking_webhook_receivers("b1"))
        self.service.write(
            {"webhook_secret": "whsec-new", "webhook_secret_previous": "whsec-old"}
        )
        (receiver,) = Service._openbanking_webhook_receivers("b1")
        self.assertEqual(receiver.secrets, ("whsec-new", "whsec-old"))
        self.service.calling_code = "b9"
        self.assertFalse(Service._openbanking_webhook_receivers("b1"))
        self.assertTrue(Service._openbanking_webhook_receivers("b9"))
        self.service.action_archive()
        self.assertFalse(Service._openbanking_webhook_receivers("b9"))
        self.service.action_unarchive()
        self.assertTrue(Service._openbanking_webhook_receivers("b9"))
        service_2 = self._create_service()
        self.assertTrue(Service._openbanking_webhook_receivers("b2"))
        service_2.unlink()
        self.assertFalse(Service._openbanking_webhook_receivers("b2"))

    def test_secrets_hidden_from_non_system_users(self):
        for user in (self.user, self.manager):
            service = self.service.with_user(user)
            for fname in SECRETS:
                with self.assertRaises(AccessError):
                    service.read([fname])
                with self.assertRaises(AccessError):
                    service.search_read([], [fname])
                with self.assertRaises(AccessError):
                    service.search([(fname, "=", "test-client-secret")])
                with self.assertRaises(AccessError):
                    service.write({fname: "stolen"})
                with self.assertRaises(UserError):  # AccessError or no export right
                    service.export_data([fname])
                self.assertNotIn(fname, service.fields_get())
        # what a plain user may see instead
        service = self.service.with_user(self.user)
        self.assertTrue(service.client_secret_set)
        self.assertTrue(service.webhook_secret_set)
        self.assertEqual(service.read(["client_id"])[0]["client_id"], "test-client-id")

    def test_secrets_not_copied_nor_exported(self):
        service = self.service.with_user(self.admin)
        self.assertEqual(service.client_secret, "test-client-secret")
        copy = service.copy({"bank_id": self.bank_2.id, "calling_code": "copy"})
        for fname in SECRETS:
            self.assertFalse(copy[fname])
            self.assertFalse(service.fields_get([fname])[fname]["exportable"])
            with self.assertRaisesMessage(
                AccessError, "Secret fields cannot be exported"
            ):
                service.export_data(["name", fname])
        with self.assertRaisesMessage(AccessError, "Secret fields cannot be exported"):
            self.bank.with_user(self.admin).export_data(
                ["name", "openbanking_service_ids/client_secret"]
            )
        self.assertEqual(
            service.export_data(["name", "client_id"])["datas"],
            [["Bridge Test", "test-client-id"]],
        )

    def test_changes_tracked_secrets_logged_without_value(self):
        # as if the service had been created in an earlier transaction: mail does
        # not track the records created in the current one
        self.env.flush_all()
        self.env.cr.precommit.run()
        service = self.service.with_user(self.admin)
        service.write({"client_id": "new-client-id", "client_secret": "new-secret"})
        service.write({"webhook_secret": "new-webhook-secret"})
        service.write({"webhook_secret": "new-webhook-secret"})  # unchanged
        self.env.flush_all()
        self.env.cr.precommit.run()  # the tracking values are written on commit
        messages = self.env["mail.message"].search(
            [("model", "=", service._name), ("res_id", "=", service.id)]
        )
        bodies = messages.mapped("body")
        self.assertEqual(
            sorted(str(body) for body in bodies if "value changed" in str(body)),
            [
                "<p>Client Secret: value changed.</p>",
                "<p>Webhook Secret: value changed.</p>",
            ],
        )
        tracked = messages.tracking_value_ids
        self.assertIn("client_id", tracked.field_id.mapped("name"))
        self.assertFalse(set(SECRETS) & set(tracked.field_id.mapped("name")))
        all_text = " ".join(
            str(value)
            for message in messages
            for value in (
                message.body,
                *message.tracking_value_ids.mapped("new_value_char"),
            )
        )
        self.assertNotIn("new-secret", all_text)
        self.assertNotIn("new-webhook-secret", all_text)

    def test_multi_company(self):
        other_company = self.env["res.company"].create({"name": "Autre Société"})
        self.service.company_id = other_company
        self.assertFalse(
            self.env["openbanking.web.service"].with_user(self.user).search([])
        )
        self.assertFalse(self.bank.with_user(self.user).openbanking_service_id)
        self.assertEqual(self.bank.openbanking_company_id, other_company)
