# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class ResBankWebview(models.TransientModel):
    """Open Bridge's webview for a bank: filled by the webview issue."""

    _name = "res.bank.webview"
    _description = "Open Banking Webview"

    bank_id = fields.Many2one(
        comodel_name="res.bank",
        required=True,
        readonly=True,
        ondelete="cascade",
    )
    signatory_id = fields.Many2one(
        comodel_name="openbanking.signatory",
        domain="[('bank_id', '=', bank_id)]",
    )
