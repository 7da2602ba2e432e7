# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from lxml import etree

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .common import OpenbankingCase


@tagged("post_install", "-at_install")
class TestResBank(OpenbankingCase):
    def test_timeout_positive_for_open_banking(self):
        Bank = self.env["res.bank"].with_user(self.manager)
        for timeout in (0, -5):
            with self.assertRaisesMessage(
                ValidationError,
                "The connection timeout of the Open Banking bank Banque Zéro must be "
                "a positive number of minutes.",
            ):
                Bank.create(
                    {
                        "name": "Banque Zéro",
                        "openbanking_type": "open_banking",
                        "openbanking_timeout": timeout,
                    }
                )
        with self.assertRaisesMessage(ValidationError, "must be a positive number"):
            self.bank.with_user(self.manager).openbanking_timeout = 0
        standard = Bank.create({"name": "Banque Standard", "openbanking_timeout": 0})
        self.assertEqual(standard.openbanking_type, "standard")
        with self.assertRaisesMessage(ValidationError, "must be a positive number"):
            standard.openbanking_type = "open_banking"

    def test_timeout_required_in_form_for_open_banking(self):
        form = Form(self.env["res.bank"].with_user(self.manager))
        form.name = "Banque Formulaire"
        form.openbanking_type = "open_banking"
        form.openbanking_timeout = 0
        # an integer is never empty for the form: the constraint does the work
        with self.assertRaisesMessage(ValidationError, "must be a positive number"):
            form.save()

    def test_action_open_signatories(self):
        action = self.bank.with_user(self.user).action_open_signatories()
        self.assertEqual(action["type"], "ir.actions.act_window")
        self.assertEqual(action["res_model"], "openbanking.signatory")
        self.assertEqual(action["domain"], [("bank_id", "=", self.bank.id)])
        self.assertEqual(action["context"], {"default_bank_id": self.bank.id})
        self.assertEqual(
            action["name"], "Signatories of Banque Test Bridge - BTSTFRPPXXX"
        )
        # a new signatory is pre-filled with the bank, the user and their email
        form = Form(
            self.env["openbanking.signatory"]
            .with_user(self.user)
            .with_context(**action["context"])
        )
        self.assertEqual(form.bank_id, self.bank)
        self.assertEqual(form.user_id, self.user)
        self.assertEqual(form.email, "olivia.user@example.com")
        signatory = form.save()
        self.assertEqual(signatory.state, "not_registered")
        self.assertEqual(self.bank.openbanking_signatory_count, 1)

    def test_action_open_webview(self):
        # only a signatory of the bank may (see test_webview)
        self.env["openbanking.signatory"].create(
            {"bank_id": self.bank.id, "user_id": self.user.id}
        )
        action = self.bank.with_user(self.user).action_open_webview()
        self.assertEqual(action["type"], "ir.actions.act_window")
        self.assertEqual(action["res_model"], "res.bank.webview")
        self.assertEqual(action["target"], "new")
        self.assertEqual(action["context"], {"default_bank_id": self.bank.id})
        wizard = (
            self.env[action["res_model"]]
            .with_user(self.user)
            .with_context(**action["context"])
            .create({})
        )
        self.assertEqual(wizard.bank_id, self.bank)

    def test_action_open_webview_needs_open_banking_and_service(self):
        with self.assertRaisesMessage(UserError, "not an Open Banking bank with an"):
            self.bank_2.with_user(self.user).action_open_webview()
        self.service.action_archive()
        with self.assertRaisesMessage(UserError, "not an Open Banking bank with an"):
            self.bank.with_user(self.user).action_open_webview()

    def _button_invisible(self, bank, button):
        arch = bank.get_views([(False, "form")])["views"]["form"]["arch"]
        node = etree.fromstring(arch).xpath(f"//button[@name='{button}']")[0]
        return safe_eval(
            node.get("invisible"),
            {
                "openbanking_type": bank.openbanking_type,
                "openbanking_service_id": bank.openbanking_service_id.id,
            },
        )

    def test_buttons_visibility(self):
        """The form hides Open webview unless the bank is Open Banking with an
        active web service, and Signatories unless it is Open Banking."""
        bank = self.bank.with_user(self.user)
        self.assertFalse(self._button_invisible(bank, "action_open_webview"))
        self.assertFalse(self._button_invisible(bank, "action_open_signatories"))
        bank_2 = self.bank_2.with_user(self.user)
        self.assertTrue(self._button_invisible(bank_2, "action_open_webview"))
        self.assertFalse(self._button_invisible(bank_2, "action_open_signatories"))
        standard = self.env["res.bank"].create({"name": "Banque Standard"})
        standard = standard.with_user(self.user)
        self.assertTrue(self._button_invisible(standard, "action_open_webview"))
        self.assertTrue(self._button_invisible(standard, "action_open_signatories"))
