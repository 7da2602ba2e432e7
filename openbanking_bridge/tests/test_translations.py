# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from lxml import etree

from odoo.tests import tagged

from .common import OpenbankingCase


@tagged("post_install", "-at_install")
class TestFrenchLabels(OpenbankingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"]._load_module_terms(
            ["openbanking_bridge"], ["fr_FR"], overwrite=True
        )

    def _form_arch(self, model):
        views = (
            self.env[model]
            .with_user(self.user)
            .with_context(lang="fr_FR")
            .get_views([(False, "form")])
        )
        return etree.fromstring(views["views"]["form"]["arch"])

    def test_bank_form_buttons(self):
        arch = self._form_arch("res.bank")
        [signatories] = arch.xpath(
            "//button[@name='action_open_signatories']/field[@widget='statinfo']"
        )
        self.assertEqual(signatories.get("string"), "Signataires")
        [webview] = arch.xpath("//button[@name='action_open_webview']")
        self.assertEqual(webview.get("string"), "Ouvrir webview")

    def test_bank_account_form_button(self):
        arch = self._form_arch("res.partner.bank")
        [access] = arch.xpath(
            "//button[@name='action_open_authorizations']/field[@widget='statinfo']"
        )
        self.assertEqual(access.get("string"), "Accès Open Banking")

    def test_actions_and_messages(self):
        bank = self.bank.with_user(self.user).with_context(lang="fr_FR")
        self.assertEqual(
            bank.action_open_signatories()["name"],
            "Signataires de Banque Test Bridge - BTSTFRPPXXX",
        )
        self.assertEqual(
            dict(
                self.env["openbanking.signatory"]
                .with_context(lang="fr_FR")
                ._fields["state"]
                ._description_selection(self.env(context={"lang": "fr_FR"}))
            )["consent_needed"],
            "Consentement requis",
        )
