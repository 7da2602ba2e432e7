# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from bridge_emulator.banks import french_iban

from .authorization_common import LinkedAccountCase
from .common import USER_GROUP

ACCOUNT_ACTIONS = (
    "action_openbanking_details",
    "action_openbanking_refresh",
    "action_openbanking_open_webview",
    "action_openbanking_unlink",
)


@tagged("post_install", "-at_install")
class TestMultiCompany(LinkedAccountCase):
    """Two companies, A (the test company) and B, each with its Open Banking
    bank, web service, signatory, linked bank account and webhook event. The
    plain user and the manager work in A only; the plain user holds the manage
    right on both accounts (granted in B while they worked there)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.company
        cls.company_b = cls.env["res.company"].create({"name": "Société B"})
        cls.user_both = new_test_user(
            cls.env,
            login="ob_both",
            name="Bea Both",
            email="bea.both@example.com",
            groups=USER_GROUP,
            company_id=cls.company_a.id,
            company_ids=[(6, 0, (cls.company_a | cls.company_b).ids)],
        )
        # two active web services: each needs its calling code
        cls.service.calling_code = "a"
        cls.bank_b = cls.env["res.bank"].create(
            {"name": "Banque B", "openbanking_type": "open_banking"}
        )
        cls.service_b = cls.env["openbanking.web.service"].create(
            {
                "name": "Bridge B",
                "bank_id": cls.bank_b.id,
                "calling_code": "b",
                "company_id": cls.company_b.id,
            }
        )
        cls.signatory_b = cls.env["openbanking.signatory"].create(
            {
                "bank_id": cls.bank_b.id,
                "user_id": cls.user_both.id,
                "company_id": cls.company_b.id,
            }
        )
        cls.account_b = cls.env["res.partner.bank"].create(
            {
                "acc_number": french_iban("30004", "00002", "00000009999"),
                "partner_id": cls.company_b.partner_id.id,
                "bank_id": cls.bank_b.id,
            }
        )
        cls.account_b.sudo().write(
            {
                "bridge_account_ref": "777001",
                "bridge_item_ref": "777002",
                "bridge_link_date": fields.Datetime.now(),
                "bridge_signatory_id": cls.signatory_b.id,
            }
        )
        cls.standard_bank = cls.env["res.bank"].create({"name": "Banque Standard"})
        Authorization = cls.env["openbanking.authorization"]
        cls.authorization_b = Authorization.create(
            {
                "bank_account_id": cls.account_b.id,
                "user_id": cls.user.id,
                "right": "manage",
            }
        )
        Authorization.create(
            [
                {
                    "bank_account_id": account.id,
                    "user_id": user.id,
                    "right": "manage",
                }
                for account in (cls.linked, cls.account_b)
                for user in (cls.user, cls.user_both)
                if (account, user) != (cls.account_b, cls.user)
            ]
        )
        Event = cls.env["openbanking.webhook.event"]
        cls.event_a, cls.event_b = Event.create(
            [
                {
                    "service_id": service.id,
                    "company_id": service.company_id.id,
                    "event_type": "TEST_EVENT",
                    "received_date": fields.Datetime.now(),
                    "delivery_key": f"key-{service.calling_code}",
                    "state": "done",
                }
                for service in (cls.service, cls.service_b)
            ]
        )

    def test_open_banking_company(self):
        self.assertEqual(self.linked.openbanking_company_id, self.company_a)
        self.assertEqual(self.account_b.openbanking_company_id, self.company_b)
        # the base company of the bank account is none: the holder's company
        self.assertFalse(self.account_b.company_id)
        Account = self.env["res.partner.bank"]
        contact = self.env["res.partner"].create(
            {"name": "Comptable B", "parent_id": self.company_b.partner_id.id}
        )
        third = self.env["res.partner"].create({"name": "Tiers"})
        accounts = Account.create(
            [
                {"acc_number": "CONTACT-B", "partner_id": contact.id},
                {"acc_number": "THIRD", "partner_id": third.id},
            ]
        )
        self.assertEqual(accounts[0].openbanking_company_id, self.company_b)
        self.assertFalse(accounts[1].openbanking_company_id)
        # a partner that becomes a company's
        company_c = self.env["res.company"].create(
            {"name": "Société C", "partner_id": third.id}
        )
        self.assertEqual(accounts[1].openbanking_company_id, company_c)
        self.assertEqual(self.authorization_b.company_id, self.company_b)
        self.assertEqual(self.bank.openbanking_company_id, self.company_a)
        self.assertEqual(self.bank_b.openbanking_company_id, self.company_b)
        self.assertFalse(self.standard_bank.openbanking_company_id)
        # an archived web service still holds its bank
        self.service_b.action_archive()
        self.assertEqual(self.bank_b.openbanking_company_id, self.company_b)

    def test_banks(self):
        # the app's menu lists the banks shared or of the companies worked in
        action = self.env.ref("openbanking_bridge.res_bank_action")
        domain = safe_eval(action.domain, {"allowed_company_ids": [self.company_a.id]})
        for user in (self.user, self.manager):
            with self.subTest(user=user.login):
                banks = self.env["res.bank"].with_user(user).search(domain)
                self.assertIn(self.bank, banks)
                self.assertIn(self.standard_bank, banks)
                self.assertNotIn(self.bank_b, banks)
                # read, as base allows; but nothing of Open Banking is seen of
                # it, nor done with it
                bank_b = self.bank_b.with_user(user)
                self.assertEqual(bank_b.name, "Banque B")
                self.assertFalse(bank_b.openbanking_service_id)
                self.assertFalse(bank_b.openbanking_signatory_ids)
                self.assertEqual(bank_b.openbanking_signatory_count, 0)
                with self.assertRaisesMessage(UserError, "with an active web service"):
                    bank_b.action_open_webview()
                with self.assertRaises(AccessError):
                    bank_b.openbanking_timeout = 5
        self.assertEqual(self.bank_b.openbanking_timeout, 30)
        self.bank.with_user(self.manager).openbanking_timeout = 5
        self.env["res.bank"].with_user(self.manager).create({"name": "Nouvelle"})
        # the bank accounts of other companies still show their bank
        self.assertEqual(
            self.account_b.with_user(self.user).display_name,
            f"{self.account_b.acc_number} - Banque B",
        )

    def test_services_signatories_events(self):
        for user in (self.user, self.manager):
            env = self.env(user=user)
            with self.subTest(user=user.login):
                services = env["openbanking.web.service"].search([])
                self.assertIn(self.service, services)
                self.assertNotIn(self.service_b, services)
                signatories = env["openbanking.signatory"].search([])
                self.assertIn(self.signatory, signatories)
                self.assertNotIn(self.signatory_b, signatories)
                with self.assertRaises(AccessError):
                    self.signatory_b.with_user(user).read(["email"])
                with self.assertRaises(AccessError):
                    self.service_b.with_user(user).read(["name"])
        events = (
            self.env["openbanking.webhook.event"].with_user(self.manager).search([])
        )
        self.assertIn(self.event_a, events)
        self.assertNotIn(self.event_b, events)
        with self.assertRaises(AccessError):
            self.event_b.with_user(self.manager).read(["message"])

    def test_accounts(self):
        # the app's menu lists the accounts of the companies worked in
        action = self.env.ref("openbanking_bridge.res_partner_bank_action")
        domain = safe_eval(action.domain, {"allowed_company_ids": [self.company_a.id]})
        Account = self.env["res.partner.bank"].with_user(self.user)
        listed = Account.search(domain)
        self.assertIn(self.linked, listed)
        self.assertNotIn(self.account_b, listed)
        # the other company's account: its authorizations count for nothing,
        # its Bridge data is not shown, nothing can be done on it
        account_b = self.account_b.with_user(self.user)
        self.assertEqual(self.linked.with_user(self.user).openbanking_right, "manage")
        self.assertFalse(account_b.openbanking_right)
        self.assertFalse(account_b.openbanking_account_ref)
        self.assertFalse(account_b.openbanking_linked)
        self.assertEqual(account_b.openbanking_authorization_count, 0)
        self.assertNotIn(
            self.authorization_b,
            self.env["openbanking.authorization"].with_user(self.user).search([]),
        )
        self.assertFalse(Account.search([("openbanking_account_ref", "=", "777001")]))
        before = self.bridge_state(self.account_b)
        for method in ACCOUNT_ACTIONS:
            with (
                self.subTest(method=method),
                self.assertRaisesMessage(AccessError, "right on the bank account"),
            ):
                getattr(account_b, method)()
        self.assertEqual(self.bridge_state(self.account_b), before)
        self.assertEqual(self.emu.counters(), {})
        # nor can its authorizations be changed, not even by a manager
        with self.assertRaises(AccessError):
            self.authorization_b.with_user(self.user).right = "consult"
        for user in (self.user, self.manager):
            with self.assertRaises(AccessError):
                self.env["openbanking.authorization"].with_user(user).create(
                    {"bank_account_id": self.account_b.id, "user_id": user.id}
                )
        self.assertEqual(self.authorization_b.right, "manage")

    def test_user_of_both_companies(self):
        """The companies worked in (the switcher) decide, not those allowed."""
        user_env = self.env(user=self.user_both)
        only_a = user_env(context={"allowed_company_ids": [self.company_a.id]})
        account_b = self.account_b.with_env(only_a)
        self.assertFalse(account_b.openbanking_right)
        self.assertFalse(account_b.openbanking_account_ref)
        with self.assertRaises(AccessError):
            account_b._openbanking_check_right("consult")
        self.assertFalse(self.bank_b.with_env(only_a).openbanking_service_id)
        self.assertNotIn(self.signatory_b, only_a["openbanking.signatory"].search([]))
        # another request, in both companies
        self.env.invalidate_all()
        both = user_env(
            context={"allowed_company_ids": (self.company_a | self.company_b).ids}
        )
        account_b = self.account_b.with_env(both)
        self.assertEqual(account_b.openbanking_right, "manage")
        self.assertEqual(account_b.openbanking_account_ref, "777001")
        account_b._openbanking_check_right("manage")
        self.assertEqual(
            self.bank_b.with_env(both).openbanking_service_id, self.service_b
        )
        self.assertIn(self.signatory_b, both["openbanking.signatory"].search([]))
        action = self.env.ref("openbanking_bridge.res_partner_bank_action")
        domain = safe_eval(
            action.domain,
            {"allowed_company_ids": (self.company_a | self.company_b).ids},
        )
        self.assertIn(self.account_b, both["res.partner.bank"].search(domain))
