# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import email_split, escape_psql

# written by the Bridge exchanges (with sudo) or by a manager, never by a plain user
BRIDGE_STATE_FIELDS = ("bridge_user_uuid", "state", "last_connection_date")


class OpenbankingSignatory(models.Model):
    _name = "openbanking.signatory"
    _inherit = ("mail.thread", "mail.activity.mixin", "openbanking.secret.mixin")
    _description = "Open Banking Signatory"
    _order = "bank_id, user_id"
    _openbanking_secret_fields = (
        "bridge_password",
        "bridge_access_token",
        "bridge_token_expires_at",
        "bridge_token_date",
    )
    _openbanking_logged_secret_fields = ("bridge_password",)

    bank_id = fields.Many2one(
        comodel_name="res.bank",
        required=True,
        ondelete="cascade",
        index=True,
        tracking=True,
        domain=[("openbanking_type", "=", "open_banking")],
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        required=True,
        ondelete="restrict",
        index=True,
        tracking=True,
        default=lambda self: self.env.user,
        domain=[("share", "=", False)],
    )
    email = fields.Char(
        required=True,
        tracking=True,
        compute="_compute_email",
        store=True,
        readonly=False,
        precompute=True,
        help="Email address of the signatory at Bridge; defaults to the user's.",
    )
    bridge_user_uuid = fields.Char(
        string="Bridge User UUID",
        readonly=True,
        copy=False,
        index="btree_not_null",
        tracking=True,
        help="Id of the signatory's user at Bridge, kept for every later call.",
    )
    state = fields.Selection(
        selection=[
            ("not_registered", "Not Registered"),
            ("registered", "Registered"),
            ("connected", "Connected"),
            ("consent_needed", "Needs Consent"),
        ],
        required=True,
        readonly=True,
        copy=False,
        default="not_registered",
        tracking=True,
        help="Not Registered: no user at Bridge yet. Registered: the user exists at "
        "Bridge. Connected: a bank connection was set up through the webview. Needs "
        "Consent: the bank asks for a new strong authentication in the webview.",
    )
    last_connection_date = fields.Datetime(
        readonly=True,
        copy=False,
        help="Last time a connection to Bridge was set up; past the bank's "
        "connection timeout, it must be set up again.",
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    bridge_password = fields.Char(
        string="Bridge Password (encrypted)",
        groups="base.group_system",
        copy=False,
        exportable=False,
    )
    bridge_access_token = fields.Char(
        groups="base.group_system",
        copy=False,
        exportable=False,
    )
    bridge_token_expires_at = fields.Datetime(
        string="Bridge Token Expiry",
        groups="base.group_system",
        copy=False,
        exportable=False,
    )
    bridge_token_date = fields.Datetime(
        groups="base.group_system",
        copy=False,
        exportable=False,
        help="When the access token was obtained.",
    )

    _sql_constraints = (
        # Deferred to the end of the transaction: the Python constraints run
        # first and give the message; the database stays the race-proof backstop.
        (
            "bank_user_uniq",
            "UNIQUE (bank_id, user_id) DEFERRABLE INITIALLY DEFERRED",
            "A user can be a signatory of a bank only once.",
        ),
        (
            "bank_email_uniq",
            (
                "EXCLUDE USING btree (bank_id WITH =, lower(email) WITH =) "
                "DEFERRABLE INITIALLY DEFERRED"
            ),
            "An email address can be used by only one signatory of a bank.",
        ),
    )

    @api.depends("user_id.name", "bank_id.name")
    def _compute_display_name(self):
        for signatory in self:
            signatory.display_name = (
                f"{signatory.user_id.name} ({signatory.bank_id.name})"
                if signatory.bank_id
                else signatory.user_id.name
            )

    @api.depends("user_id")
    def _compute_email(self):
        for signatory in self:
            signatory.email = signatory.user_id.email

    @api.constrains("email")
    def _check_email(self):
        for signatory in self:
            if email_split(signatory.email) != [signatory.email]:
                raise ValidationError(
                    self.env._(
                        "%(email)s is not a valid email address.",
                        email=signatory.email,
                    )
                )

    @api.constrains("bank_id", "user_id", "email")
    def _check_unique_per_bank(self):
        signatories_sudo = self.sudo()
        for signatory_sudo in signatories_sudo:
            others_sudo = signatories_sudo.search(
                [
                    ("id", "!=", signatory_sudo.id),
                    ("bank_id", "=", signatory_sudo.bank_id.id),
                    "|",
                    ("user_id", "=", signatory_sudo.user_id.id),
                    ("email", "=ilike", escape_psql(signatory_sudo.email)),
                ]
            )
            if signatory_sudo.user_id in others_sudo.user_id:
                raise ValidationError(
                    self.env._(
                        "%(user)s is already a signatory of the bank %(bank)s.",
                        user=signatory_sudo.user_id.name,
                        bank=signatory_sudo.bank_id.display_name,
                    )
                )
            if others_sudo:
                raise ValidationError(
                    self.env._(
                        "The email address %(email)s is already used by another "
                        "signatory of the bank %(bank)s.",
                        email=signatory_sudo.email,
                        bank=signatory_sudo.bank_id.display_name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._openbanking_check_bridge_state_access(vals)
            self._openbanking_clean_email(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._openbanking_check_bridge_state_access(vals)
        self._openbanking_clean_email(vals)
        return super().write(vals)

    def _openbanking_check_bridge_state_access(self, vals):
        """Refuse a plain user setting what only the exchanges with Bridge set."""
        if not set(BRIDGE_STATE_FIELDS) & set(vals):
            return
        if self.env.su or self.env.user.has_group(
            "openbanking_bridge.group_openbanking_manager"
        ):
            return
        raise AccessError(
            self.env._(
                "Only Open Banking managers can change the Bridge user, the state "
                "or the last connection of a signatory."
            )
        )

    @api.model
    def _openbanking_clean_email(self, vals):
        if isinstance(vals.get("email"), str):
            vals["email"] = vals["email"].strip()
