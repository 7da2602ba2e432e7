# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError


class ResBank(models.Model):
    _inherit = "res.bank"

    openbanking_type = fields.Selection(
        selection=[("standard", "Standard"), ("open_banking", "Open Banking")],
        string="Bank Type",
        required=True,
        default="standard",
        help="Open Banking banks are reached through an aggregator such as Bridge.",
    )
    openbanking_timeout = fields.Integer(
        string="Connection Timeout (minutes)",
        default=30,
        help="Past this delay, a connection to the bank must be set up again.",
    )
    bridge_bank_ref = fields.Char(
        string="Bridge Bank ID",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Id of the bank at Bridge, written when a Bridge account is linked.",
    )
    openbanking_signatory_ids = fields.One2many(
        comodel_name="openbanking.signatory",
        inverse_name="bank_id",
        string="Signatories",
    )
    openbanking_signatory_count = fields.Integer(
        string="Signatory Count",
        compute="_compute_openbanking_signatory_count",
    )
    openbanking_service_ids = fields.One2many(
        comodel_name="openbanking.web.service",
        inverse_name="bank_id",
        string="Web Services",
        context={"active_test": False},
    )
    openbanking_service_id = fields.Many2one(
        comodel_name="openbanking.web.service",
        string="Web Service",
        compute="_compute_openbanking_service_id",
        help="The active web service whose associated bank this is.",
    )
    openbanking_company_id = fields.Many2one(
        comodel_name="res.company",
        string="Open Banking Company",
        compute="_compute_openbanking_company_id",
        store=True,
        index="btree_not_null",
        help="The company of the bank's web service (a bank has only one): only "
        "the Open Banking users of that company see and change the bank. Banks "
        "without a web service are shared.",
    )

    @api.depends("openbanking_signatory_ids")
    def _compute_openbanking_signatory_count(self):
        for bank in self:
            bank.openbanking_signatory_count = len(bank.openbanking_signatory_ids)

    @api.depends("openbanking_service_ids.active")
    def _compute_openbanking_service_id(self):
        for bank in self:
            bank.openbanking_service_id = bank.openbanking_service_ids.filtered(
                "active"
            )[:1]

    @api.depends("openbanking_service_ids.company_id")
    def _compute_openbanking_company_id(self):
        # searched, not read through openbanking_service_ids: a user may have
        # read that one2many as filtered by the multi-company rule, and the
        # cache is shared; archived web services included
        services_sudo = (
            self.env["openbanking.web.service"]
            .sudo()
            .with_context(active_test=False)
            .search_fetch(
                [("bank_id", "in", self._origin.ids)], ["bank_id", "company_id"]
            )
        )
        companies = {
            service_sudo.bank_id.id: service_sudo.company_id
            for service_sudo in services_sudo
        }
        for bank in self:
            bank.openbanking_company_id = companies.get(
                bank._origin.id, self.env["res.company"]
            )

    @api.constrains("openbanking_type", "openbanking_timeout")
    def _check_openbanking_timeout(self):
        for bank in self:
            if (
                bank.openbanking_type == "open_banking"
                and bank.openbanking_timeout <= 0
            ):
                raise ValidationError(
                    self.env._(
                        "The connection timeout of the Open Banking bank %(bank)s "
                        "must be a positive number of minutes.",
                        bank=bank.display_name,
                    )
                )

    @api.constrains("openbanking_type")
    def _check_openbanking_type(self):
        service_sudo = (
            self.env["openbanking.web.service"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("bank_id", "in", self.ids),
                    ("bank_id.openbanking_type", "!=", "open_banking"),
                ],
                limit=1,
            )
        )
        if service_sudo:
            raise ValidationError(
                self.env._(
                    "The bank %(bank)s is associated with the web service "
                    "%(service)s: it must stay an Open Banking bank.",
                    bank=service_sudo.bank_id.display_name,
                    service=service_sudo.display_name,
                )
            )

    def action_open_signatories(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "openbanking_bridge.openbanking_signatory_action"
        )
        action.update(
            name=self.env._("Signatories of %(bank)s", bank=self.display_name),
            domain=[("bank_id", "=", self.id)],
            context={"default_bank_id": self.id},
        )
        return action

    def action_open_webview(self):
        self.ensure_one()
        if self.openbanking_type != "open_banking" or not self.openbanking_service_id:
            raise UserError(
                self.env._(
                    "The bank %(bank)s is not an Open Banking bank with an active "
                    "web service.",
                    bank=self.display_name,
                )
            )
        self._openbanking_get_user_signatory()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Bridge Webview"),
            "res_model": "res.bank.webview",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_bank_id": self.id},
        }

    def _openbanking_get_user_signatory(self):
        """Return the current user's signatory of this bank, in their allowed
        companies; an ``AccessError`` naming the bank when there is none: only
        a signatory may open the bank's webview."""
        self.ensure_one()
        # as the user, whatever the caller's sudo: the multi-company rule applies
        signatory = (
            self.env["openbanking.signatory"]
            .sudo(False)
            .search(
                [("bank_id", "=", self.id), ("user_id", "=", self.env.uid)],
                limit=1,
            )
        )
        if not signatory:
            raise AccessError(
                self.env._(
                    "Only the signatories of the bank %(bank)s can open its webview.",
                    bank=self.display_name,
                )
            )
        return signatory
