# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

# from the lowest to the highest: each right includes the ones before it
AUTHORIZATION_RIGHTS = [
    ("consult", "Consult"),
    ("synchronize", "Synchronize"),
    ("manage", "Manage"),
]
GRANT_FIELDS = ("granted_by_id", "grant_date")
MANAGER_GROUP = "openbanking_bridge.group_openbanking_manager"


class OpenbankingAuthorization(models.Model):
    _name = "openbanking.authorization"
    _description = "Open Banking Authorization"
    _order = "bank_account_id, user_id"

    bank_account_id = fields.Many2one(
        comodel_name="res.partner.bank",
        required=True,
        ondelete="cascade",
        index=True,
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        required=True,
        ondelete="cascade",
        index=True,
        domain=[("share", "=", False)],
    )
    right = fields.Selection(
        selection=AUTHORIZATION_RIGHTS,
        required=True,
        default="consult",
        help="Rights are cumulative. Consult: see the account and its link to "
        "Bridge. Synchronize: also import its data from Bridge. Manage: also "
        "connect it to Bridge and manage its authorizations.",
    )
    granted_by_id = fields.Many2one(
        comodel_name="res.users",
        readonly=True,
        ondelete="set null",
        default=lambda self: self.env.user,
    )
    grant_date = fields.Datetime(
        readonly=True,
        default=fields.Datetime.now,
    )
    company_id = fields.Many2one(
        related="bank_account_id.openbanking_company_id",
        store=True,
        index=True,
    )

    _sql_constraints = (
        # Deferred to the end of the transaction: the Python constraint runs
        # first and names the user; the database stays the race-proof backstop.
        (
            "bank_account_user_uniq",
            "UNIQUE (bank_account_id, user_id) DEFERRABLE INITIALLY DEFERRED",
            "A user can hold only one authorization per bank account.",
        ),
    )

    @api.depends("user_id.name", "bank_account_id.display_name")
    def _compute_display_name(self):
        for authorization in self:
            authorization.display_name = (
                f"{authorization.user_id.name} - "
                f"{authorization.bank_account_id.display_name}"
            )

    @api.constrains("bank_account_id", "user_id")
    def _check_user_unique(self):
        for authorization in self:
            duplicate_count = self.sudo().search_count(
                [
                    ("id", "!=", authorization.id),
                    ("bank_account_id", "=", authorization.bank_account_id.id),
                    ("user_id", "=", authorization.user_id.id),
                ],
                limit=1,
            )
            if duplicate_count:
                raise ValidationError(
                    self.env._(
                        "%(user)s already holds an authorization on the bank "
                        "account %(account)s.",
                        user=authorization.user_id.name,
                        account=authorization.bank_account_id.display_name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            default_account_id = None
            account_ids = set()
            for vals in vals_list:
                # the grant is recorded as the current user's, whatever the
                # caller sent
                vals.update(self._prepare_grant_vals())
                account_id = vals.get("bank_account_id")
                if not account_id:
                    if default_account_id is None:
                        default_account_id = self.default_get(["bank_account_id"]).get(
                            "bank_account_id", False
                        )
                    account_id = default_account_id
                account_ids.add(account_id)
            # checked before the creation: the new authorization must not
            # grant its own right
            self._openbanking_check_grant(
                self.env["res.partner.bank"].browse(account_ids - {False})
            )
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su:
            accounts = self.bank_account_id
            if vals.get("bank_account_id"):
                accounts |= accounts.browse(vals["bank_account_id"])
            self._openbanking_check_grant(accounts)
            vals = {
                key: value for key, value in vals.items() if key not in GRANT_FIELDS
            }
            if {"bank_account_id", "user_id", "right"} & set(vals):
                vals.update(self._prepare_grant_vals())
        return super().write(vals)

    def unlink(self):
        if not self.env.su:
            self._openbanking_check_grant(self.bank_account_id)
        return super().unlink()

    def _prepare_grant_vals(self):
        return {"granted_by_id": self.env.uid, "grant_date": fields.Datetime.now()}

    @api.model
    def _openbanking_check_grant(self, bank_accounts):
        """Granting, changing or revoking an authorization needs the manage
        right on its bank account, or the Open Banking manager group: raise an
        ``AccessError`` naming the account otherwise."""
        if self.env.su or self.env.user.has_group(MANAGER_GROUP):
            return
        for bank_account in bank_accounts:
            bank_account._openbanking_check_right("manage")
