# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common import OpenbankingCase

SECRETS = (
    "bridge_password",
    "bridge_access_token",
    "bridge_token_expires_at",
    "bridge_token_date",
)


@tagged("post_install", "-at_install")
class TestSignatory(OpenbankingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Signatory = cls.env["openbanking.signatory"].with_user(cls.user)
        cls.other_signatory = cls.env["openbanking.signatory"].create(
            {"bank_id": cls.bank.id, "user_id": cls.other_user.id}
        )

    def test_defaults(self):
        signatory = self.Signatory.create({"bank_id": self.bank.id})
        self.assertEqual(signatory.user_id, self.user)
        self.assertEqual(signatory.email, "olivia.user@example.com")
        self.assertEqual(signatory.state, "not_registered")
        self.assertEqual(signatory.company_id, self.company)
        self.assertEqual(signatory.display_name, "Olivia User (Banque Test Bridge)")
        self.assertEqual(self.other_signatory.email, "oscar.other@example.com")

    def test_one_signatory_per_user_on_a_bank(self):
        self.Signatory.create({"bank_id": self.bank.id})
        with self.assertRaisesMessage(
            ValidationError,
            "Olivia User is already a signatory of the bank Banque Test Bridge - "
            "BTSTFRPPXXX.",
        ):
            self.Signatory.create({"bank_id": self.bank.id, "email": "o2@example.com"})
        # another bank is fine
        self.assertTrue(self.Signatory.create({"bank_id": self.bank_2.id}))

    def test_one_signatory_per_email_on_a_bank(self):
        with self.assertRaisesMessage(
            ValidationError,
            "The email address Oscar.Other@example.com is already used by another "
            "signatory of the bank Banque Test Bridge - BTSTFRPPXXX.",
        ):
            self.Signatory.create(
                {"bank_id": self.bank.id, "email": " Oscar.Other@example.com "}
            )

    def test_invalid_email(self):
        for email in ("not-an-email", "Olivia <olivia.user@example.com>", "a@b c"):
            with self.assertRaisesMessage(
                ValidationError, "is not a valid email address"
            ):
                self.Signatory.create({"bank_id": self.bank.id, "email": email})

    def test_plain_user_manages_only_own_signatories(self):
        # reading the others' is fine
        self.assertIn(self.other_signatory, self.Signatory.search([]))
        with self.assertRaises(AccessError):
            self.Signatory.create(
                {"bank_id": self.bank_2.id, "user_id": self.other_user.id}
            )
        with self.assertRaises(AccessError):
            self.other_signatory.with_user(self.user).email = "x@example.com"
        with self.assertRaises(AccessError):
            self.other_signatory.with_user(self.user).unlink()
        # a manager may
        signatory = self.other_signatory.with_user(self.manager)
        signatory.email = "oscar@example.com"
        self.assertEqual(signatory.email, "oscar@example.com")

    def test_bridge_state_written_by_managers_only(self):
        signatory = self.Signatory.create({"bank_id": self.bank.id})
        for vals in (
            {"state": "connected"},
            {"bridge_user_uuid": "b5c8a6a0-0000-4000-8000-000000000000"},
            {"last_connection_date": "2026-01-01 10:00:00"},
        ):
            with self.assertRaisesMessage(AccessError, "Only Open Banking managers"):
                signatory.write(vals)
            with self.assertRaisesMessage(AccessError, "Only Open Banking managers"):
                self.Signatory.create({"bank_id": self.bank_2.id, **vals})
        signatory.with_user(self.manager).state = "registered"
        self.assertEqual(signatory.state, "registered")

    def test_secrets_system_only(self):
        self.other_signatory.write(
            {"bridge_password": "encrypted-value", "bridge_access_token": "token"}
        )
        for user in (self.user, self.manager):
            signatory = self.other_signatory.with_user(user)
            for fname in SECRETS:
                with self.assertRaises(AccessError):
                    signatory.read([fname])
                with self.assertRaises(AccessError):
                    signatory.search_read([], [fname])
                with self.assertRaises(UserError):  # AccessError or no export right
                    signatory.export_data([fname])
                self.assertNotIn(fname, signatory.fields_get())
        signatory = self.other_signatory.with_user(self.admin)
        self.assertEqual(signatory.bridge_password, "encrypted-value")
        with self.assertRaisesMessage(AccessError, "Secret fields cannot be exported"):
            signatory.export_data(["email", "bridge_access_token"])
        copy = signatory.copy({"bank_id": self.bank_2.id})
        for fname in SECRETS:
            self.assertFalse(copy[fname])

    def test_password_change_logged_without_value(self):
        signatory = self.other_signatory.with_user(self.admin)
        signatory.write({"bridge_password": "encrypted-1", "bridge_access_token": "t"})
        signatory.write({"bridge_access_token": "t2"})
        bodies = [str(body) for body in signatory.message_ids.mapped("body")]
        self.assertIn("<p>Bridge Password (encrypted): value changed.</p>", bodies)
        self.assertFalse([body for body in bodies if "Token" in body])
        self.assertFalse([body for body in bodies if "encrypted-1" in body])

    def test_multi_company(self):
        other_company = self.env["res.company"].create({"name": "Autre Société"})
        self.other_signatory.company_id = other_company
        self.assertNotIn(self.other_signatory, self.Signatory.search([]))
        self.assertEqual(self.bank.with_user(self.user).openbanking_signatory_count, 0)
