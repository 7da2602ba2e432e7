# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import HttpCase, new_test_user, tagged

from .common import USER_GROUP


@tagged("post_install", "-at_install", "is_tour")
class TestOpenbankingTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"]._load_module_terms(
            ["openbanking_bridge"], ["fr_FR"], overwrite=True
        )
        cls.user = new_test_user(
            cls.env,
            login="ob_tour_user",
            name="Tina Tour",
            email="tina.tour@example.com",
            lang="fr_FR",
            groups=USER_GROUP,
        )
        cls.colleague = new_test_user(
            cls.env,
            login="ob_tour_colleague",
            name="Oscar Tour",
            groups=USER_GROUP,
        )
        cls.env["openbanking.web.service"].search([]).action_archive()
        cls.bank = cls.env["res.bank"].create(
            {
                "name": "Banque Tour Bridge",
                "openbanking_type": "open_banking",
                "openbanking_timeout": 20,
            }
        )
        cls.env["openbanking.web.service"].create(
            {"name": "Bridge Tour", "bank_id": cls.bank.id}
        )
        # an account of the company: the app lists those of the user's companies
        cls.account = cls.env["res.partner.bank"].create(
            {
                "acc_number": "FR76 9999 9000 0100 0123 4567 809",
                "partner_id": cls.env.company.partner_id.id,
                "bank_id": cls.bank.id,
            }
        )
        # authorizing a colleague needs the Manage right on the account
        cls.env["openbanking.authorization"].create(
            {
                "bank_account_id": cls.account.id,
                "user_id": cls.user.id,
                "right": "manage",
            }
        )

    def test_open_banking_menu(self):
        self.env["res.bank"].create({"name": "Banque Tour Standard"})
        # English may be inactive where the database was created in French
        self.env["res.lang"]._activate_lang("en_US")
        user = new_test_user(
            self.env, login="ob_tour_en", lang="en_US", groups=USER_GROUP
        )
        self.start_tour("/odoo", "openbanking_bridge_menu_tour", login=user.login)

    def test_signatory_and_authorization(self):
        self.start_tour(
            "/odoo/action-openbanking_bridge.res_bank_action",
            "openbanking_bridge_tour",
            login=self.user.login,
        )
        signatory = self.env["openbanking.signatory"].search(
            [("bank_id", "=", self.bank.id)]
        )
        self.assertRecordValues(
            signatory,
            [
                {
                    "user_id": self.user.id,
                    "email": "tina.signataire@example.com",
                    "state": "not_registered",
                    "company_id": self.user.company_id.id,
                }
            ],
        )
        authorization = self.env["openbanking.authorization"].search(
            [
                ("bank_account_id", "=", self.account.id),
                ("user_id", "!=", self.user.id),
            ]
        )
        self.assertRecordValues(
            authorization,
            [
                {
                    "user_id": self.colleague.id,
                    "right": "manage",
                    "granted_by_id": self.user.id,
                }
            ],
        )
