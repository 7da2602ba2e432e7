# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import OpenbankingCase


@tagged("post_install", "-at_install")
class TestAuthorization(OpenbankingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Authorization = cls.env["openbanking.authorization"].with_user(cls.user)

    def test_action_open_authorizations(self):
        action = self.account.with_user(self.user).action_open_authorizations()
        self.assertEqual(action["type"], "ir.actions.act_window")
        self.assertEqual(action["res_model"], "openbanking.authorization")
        self.assertEqual(action["domain"], [("bank_account_id", "=", self.account.id)])
        self.assertEqual(
            action["context"], {"default_bank_account_id": self.account.id}
        )
        self.assertIn("Open Banking Access to FR76", action["name"])
        # a new authorization is pre-filled with the account and the grant
        form = Form(self.Authorization.with_context(**action["context"]))
        self.assertEqual(form.bank_account_id, self.account)
        self.assertEqual(form.right, "consult")
        form.user_id = self.other_user
        form.right = "synchronize"
        authorization = form.save()
        self.assertEqual(authorization.granted_by_id, self.user)
        self.assertTrue(authorization.grant_date)
        self.assertEqual(authorization.company_id, self.account.company_id)
        self.assertEqual(self.account.openbanking_authorization_count, 1)

    def test_one_authorization_per_user_and_account(self):
        self.Authorization.create(
            {"bank_account_id": self.account.id, "user_id": self.other_user.id}
        )
        with self.assertRaisesMessage(
            ValidationError,
            "Oscar Other already holds an authorization on the bank account FR76",
        ):
            self.Authorization.create(
                {
                    "bank_account_id": self.account.id,
                    "user_id": self.other_user.id,
                    "right": "manage",
                }
            )

    def test_grant_recorded_as_the_current_user(self):
        authorization = self.Authorization.create(
            {
                "bank_account_id": self.account.id,
                "user_id": self.other_user.id,
                "granted_by_id": self.manager.id,
                "grant_date": "2000-01-01 00:00:00",
            }
        )
        self.assertEqual(authorization.granted_by_id, self.user)
        self.assertNotEqual(authorization.grant_date.year, 2000)
        authorization.with_user(self.manager).write(
            {"granted_by_id": self.other_user.id}
        )
        self.assertEqual(authorization.granted_by_id, self.user)
        authorization.with_user(self.manager).right = "manage"
        self.assertEqual(authorization.granted_by_id, self.manager)

    def test_rights_are_cumulative(self):
        account = self.account.with_user(self.user)
        self.assertFalse(account._openbanking_get_right())
        self.assertFalse(account._openbanking_has_right("consult"))
        authorization = self.Authorization.create(
            {
                "bank_account_id": self.account.id,
                "user_id": self.user.id,
                "right": "synchronize",
            }
        )
        self.assertEqual(account._openbanking_get_right(), "synchronize")
        self.assertTrue(account._openbanking_has_right("consult"))
        self.assertTrue(account._openbanking_has_right("synchronize"))
        self.assertFalse(account._openbanking_has_right("manage"))
        self.assertFalse(
            account._openbanking_has_right("consult", user=self.other_user)
        )
        authorization.right = "manage"
        self.assertTrue(account._openbanking_has_right("manage"))
