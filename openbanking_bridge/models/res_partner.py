# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    # No column: the reverse of res.company.partner_id, so that the Open Banking
    # company of a bank account follows its holder becoming a company's partner.
    openbanking_company_ids = fields.One2many(
        comodel_name="res.company",
        inverse_name="partner_id",
        string="Companies of the Partner",
    )
