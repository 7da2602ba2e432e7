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
