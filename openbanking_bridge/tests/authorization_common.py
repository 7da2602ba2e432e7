# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from lxml import etree

from odoo import fields
from odoo.tests import new_test_user
from odoo.tools.safe_eval import safe_eval

from bridge_emulator.banks import french_iban

from .common import USER_GROUP, BridgeEmulatorCase

IBAN = french_iban("30004", "00001", "00000004242")
BALANCE = "1234.56"


class LinkedAccountCase(BridgeEmulatorCase):
    """A bank account of the company linked to Bridge (the emulator) by the
    signatory of another user; nobody holds an authorization on it yet."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the 2021-06-01 API with external user ids: it has a refresh call
        cls.service.api_mode = "v2_external"
        cls.signatory_user = new_test_user(
            cls.env,
            login="ob_signatory",
            name="Sam Signatory",
            email="sam.signatory@example.com",
            groups=USER_GROUP,
        )
        cls.signatory = cls.env["openbanking.signatory"].create(
            {"bank_id": cls.bank.id, "user_id": cls.signatory_user.id}
        )
        cls.linked = cls.env["res.partner.bank"].create(
            {
                "acc_number": IBAN,
                "partner_id": cls.company.partner_id.id,
                "bank_id": cls.bank.id,
            }
        )

    def setUp(self):
        super().setUp()  # the emulator forgets everything
        bridge_user = self.emu.add_user(
            external_user_id=self.signatory._openbanking_external_user_id()
        )
        self.signatory.sudo().write(
            {"bridge_user_uuid": bridge_user["uuid"], "state": "connected"}
        )
        self.item = self.emu.add_item(
            bridge_user["uuid"],
            accounts=[{"iban": IBAN, "name": "Compte courant", "balance": BALANCE}],
        )
        self.bridge_account = self.item["accounts"][0]
        self.linked.sudo().write(
            {
                "bridge_account_ref": str(self.bridge_account["id"]),
                "bridge_item_ref": str(self.item["id"]),
                "bridge_link_date": fields.Datetime.now(),
                "bridge_signatory_id": self.signatory.id,
            }
        )
        self.emu.reset_counters()

    def grant(self, user, right, account=None):
        """An authorization, as an Open Banking manager grants it."""
        return (
            self.env["openbanking.authorization"]
            .with_user(self.manager)
            .create(
                {
                    "bank_account_id": (account or self.linked).id,
                    "user_id": user.id,
                    "right": right,
                }
            )
        )

    def bridge_state(self, account=None):
        """What the account holds of Bridge, read as the system does."""
        account_sudo = (account or self.linked).sudo()
        return {
            "bridge_account_ref": account_sudo.bridge_account_ref,
            "bridge_item_ref": account_sudo.bridge_item_ref,
            "bridge_link_date": account_sudo.bridge_link_date,
            "bridge_signatory_id": account_sudo.bridge_signatory_id.id,
        }

    def signatory_state(self):
        signatory_sudo = self.signatory.sudo()
        return {
            "state": signatory_sudo.state,
            "last_connection_date": signatory_sudo.last_connection_date,
            "bridge_access_token": signatory_sudo.bridge_access_token,
            "message_count": len(signatory_sudo.message_ids),
        }

    def button_invisible(self, account, button):
        """Whether the bank account form, as ``account``'s user gets it, hides
        ``button`` on ``account``."""
        arch = account.get_views([(False, "form")])["views"]["form"]["arch"]
        nodes = etree.fromstring(arch).xpath(f"//button[@name='{button}']")
        if not nodes:
            return True
        return safe_eval(
            nodes[0].get("invisible") or "False",
            {
                "openbanking_linked": account.openbanking_linked,
                "openbanking_right": account.openbanking_right,
            },
        )
