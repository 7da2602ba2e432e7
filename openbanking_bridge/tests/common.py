# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from contextlib import contextmanager

from odoo.tests import TransactionCase, new_test_user

USER_GROUP = "openbanking_bridge.group_openbanking_user"
MANAGER_GROUP = "openbanking_bridge.group_openbanking_manager"


class OpenbankingCase(TransactionCase):
    """Users of each level, an Open Banking bank with its web service, a second
    bank, and a bank account."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.user = new_test_user(
            cls.env,
            login="ob_user",
            name="Olivia User",
            email="olivia.user@example.com",
            groups=USER_GROUP,
        )
        cls.other_user = new_test_user(
            cls.env,
            login="ob_other",
            name="Oscar Other",
            email="oscar.other@example.com",
            groups=USER_GROUP,
        )
        cls.manager = new_test_user(
            cls.env,
            login="ob_manager",
            name="Maud Manager",
            email="maud.manager@example.com",
            groups=MANAGER_GROUP,
        )
        cls.admin = new_test_user(
            cls.env,
            login="ob_admin",
            name="Ada Admin",
            email="ada.admin@example.com",
            groups=f"{MANAGER_GROUP},base.group_system",
        )
        # whatever the database holds (demo data), the tests start with one
        # active web service
        cls.env["openbanking.web.service"].search([]).action_archive()
        cls.bank = cls.env["res.bank"].create(
            {
                "name": "Banque Test Bridge",
                "bic": "BTSTFRPPXXX",
                "openbanking_type": "open_banking",
                "openbanking_timeout": 15,
            }
        )
        cls.bank_2 = cls.env["res.bank"].create(
            {
                "name": "Seconde Banque",
                "bic": "BSECFRPPXXX",
                "openbanking_type": "open_banking",
                "openbanking_timeout": 30,
            }
        )
        cls.service = cls.env["openbanking.web.service"].create(
            {
                "name": "Bridge Test",
                "bank_id": cls.bank.id,
                "client_id": "test-client-id",
                "client_secret": "test-client-secret",
                "webhook_secret": "test-webhook-secret",
            }
        )
        cls.partner = cls.env["res.partner"].create(
            {"name": "Société Test", "is_company": True}
        )
        cls.account = cls.env["res.partner.bank"].create(
            {
                "acc_number": "FR76 9999 9000 0100 0876 5432 178",
                "partner_id": cls.partner.id,
                "bank_id": cls.bank.id,
            }
        )

    @contextmanager
    def assertRaisesMessage(self, exception, message):
        """Check that ``exception`` is raised with ``message`` in its text.

        Unlike unittest's ``assertRaisesRegex``, it goes through Odoo's
        ``assertRaises``, which rolls the failed operation back to a savepoint.
        """
        with self.assertRaises(exception) as catcher:
            yield catcher
        self.assertIn(message, str(catcher.exception))
