# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from .openbanking_authorization import AUTHORIZATION_RIGHTS


class ResPartnerBank(models.Model):
    _inherit = "res.partner.bank"

    openbanking_bank_type = fields.Selection(
        related="bank_id.openbanking_type",
        string="Bank Type",
    )
    bridge_account_ref = fields.Char(
        string="Bridge Account ID",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Id of the account at Bridge, written when its IBAN is linked.",
    )
    bridge_item_ref = fields.Char(
        string="Bridge Item ID",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Id at Bridge of the connection (item) the account comes from.",
    )
    bridge_link_date = fields.Datetime(
        readonly=True,
        copy=False,
    )
    bridge_signatory_id = fields.Many2one(
        comodel_name="openbanking.signatory",
        string="Linked By",
        readonly=True,
        copy=False,
        ondelete="set null",
        index="btree_not_null",
        groups="openbanking_bridge.group_openbanking_user",
        help="The signatory whose Bridge user added the account at Bridge: its "
        "token reads the account's data.",
    )
    openbanking_authorization_ids = fields.One2many(
        comodel_name="openbanking.authorization",
        inverse_name="bank_account_id",
        string="Authorizations",
    )
    openbanking_authorization_count = fields.Integer(
        string="Authorization Count",
        compute="_compute_openbanking_authorization_count",
    )

    @api.depends("openbanking_authorization_ids")
    def _compute_openbanking_authorization_count(self):
        for account in self:
            account.openbanking_authorization_count = len(
                account.openbanking_authorization_ids
            )

    def action_open_authorizations(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "openbanking_bridge.openbanking_authorization_action"
        )
        action.update(
            name=self.env._(
                "Open Banking Access to %(account)s", account=self.display_name
            ),
            domain=[("bank_account_id", "=", self.id)],
            context={"default_bank_account_id": self.id},
        )
        return action

    def _openbanking_get_right(self, user=None):
        """Return the right ``user`` (default: the current user) holds on this
        account, ``"consult"``, ``"synchronize"`` or ``"manage"``, or False."""
        self.ensure_one()
        user = user or self.env.user
        authorization_sudo = (
            self.env["openbanking.authorization"]
            .sudo()
            .search(
                [("bank_account_id", "=", self.id), ("user_id", "=", user.id)],
                limit=1,
            )
        )
        return authorization_sudo.right

    def _openbanking_has_right(self, right, user=None):
        """Whether ``user`` (default: the current user) holds ``right`` or a
        higher one on this account: the rights are cumulative."""
        levels = [key for key, _label in AUTHORIZATION_RIGHTS]
        held = self._openbanking_get_right(user=user)
        return bool(held) and levels.index(held) >= levels.index(right)

    # ------------------------------------------------------------------
    # Linking to Bridge (webhook processing)
    # ------------------------------------------------------------------

    @api.model
    def _openbanking_search_company_accounts(self, company, domain):
        """Return, with sudo, the bank accounts of ``company`` that match
        ``domain``: those of its partner and of that partner's contacts and
        addresses. Archived accounts are left out.

        A search on ``sanitized_acc_number`` is served by the index of base's
        unique constraint on (sanitized_acc_number, partner_id).
        """
        return self.sudo().search(
            [("partner_id", "child_of", company.partner_id.id), *domain]
        )

    def _openbanking_link_bridge_account(self, bridge_account, signatory):
        """Store the ids of ``bridge_account`` (a ``bridge.Account``) on this bank
        account, and Bridge's id of the bank on the signatory's bank."""
        self.ensure_one()
        self.sudo().write(
            {
                "bridge_account_ref": str(bridge_account.id),
                "bridge_item_ref": (
                    str(bridge_account.item_id) if bridge_account.item_id else False
                ),
                "bridge_link_date": fields.Datetime.now(),
                "bridge_signatory_id": signatory.id,
            }
        )
        bank_ref = str(bridge_account.bank_id) if bridge_account.bank_id else False
        bank_sudo = signatory.sudo().bank_id
        if bank_ref and bank_sudo.bridge_bank_ref != bank_ref:
            bank_sudo.bridge_bank_ref = bank_ref

    def _openbanking_unlink_bridge_account(self):
        """Forget the Bridge ids of these bank accounts (the event log keeps
        them)."""
        if self:
            self.sudo().write(
                {
                    "bridge_account_ref": False,
                    "bridge_item_ref": False,
                    "bridge_link_date": False,
                    "bridge_signatory_id": False,
                }
            )
