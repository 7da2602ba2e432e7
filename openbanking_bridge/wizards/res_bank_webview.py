# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools import crypto

# Bridge's rule for the passwords of its email and password users
PASSWORD_MIN_LENGTH = 6
PASSWORD_MAX_LENGTH = 72


class ResBankWebview(models.TransientModel):
    """Open Bridge's webview (Bridge Connect) for the current user's signatory of
    a bank: register the user at Bridge on first use, authenticate, open a
    Connect session in a new tab.

    The typed password is never stored in clear, not even in this transient
    model's table: ``password`` and ``password_confirmation`` are not stored, and
    their inverses keep only Fernet ciphertexts, wiped once used (and by the
    transient records' vacuum otherwise).
    """

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
        compute="_compute_signatory_id",
        help="Your signatory of the bank: the webview is always opened for it.",
    )
    api_mode = fields.Selection(
        related="bank_id.openbanking_service_id.api_mode",
    )
    password_stored = fields.Boolean(
        compute="_compute_password_stored",
        help="A Bridge password is stored for the signatory and can be decrypted.",
    )
    password_unreadable = fields.Boolean(
        compute="_compute_password_stored",
        help="A Bridge password is stored but no current key decrypts it.",
    )
    retype_password = fields.Boolean(
        string="Type the password again",
        help="When Bridge refuses the stored password, e.g. after it was changed "
        "at Bridge.",
    )
    password = fields.Char(
        compute="_compute_password",
        inverse="_inverse_password",
    )
    password_confirmation = fields.Char(
        compute="_compute_password",
        inverse="_inverse_password_confirmation",
    )
    # the ciphertexts: read and written with sudo by this model's code only
    password_encrypted = fields.Char(copy=False, groups="base.group_system")
    password_confirmation_encrypted = fields.Char(
        copy=False, groups="base.group_system"
    )

    @api.depends("bank_id")
    @api.depends_context("uid", "allowed_company_ids")
    def _compute_signatory_id(self):
        Signatory = self.env["openbanking.signatory"]
        for wizard in self:
            wizard.signatory_id = wizard.bank_id and Signatory.search(
                [("bank_id", "=", wizard.bank_id.id), ("user_id", "=", self.env.uid)],
                limit=1,
            )

    @api.depends("signatory_id")
    def _compute_password_stored(self):
        for wizard in self:
            signatory = wizard.signatory_id
            stored = bool(signatory) and bool(signatory.sudo().bridge_password)
            usable = stored and signatory._openbanking_has_usable_password()
            wizard.password_stored = usable
            wizard.password_unreadable = stored and not usable

    def _compute_password(self):
        # never read back
        self.password = False
        self.password_confirmation = False

    def _inverse_password(self):
        for wizard in self:
            wizard.sudo().password_encrypted = wizard._openbanking_encrypt_typed(
                wizard.password
            )

    def _inverse_password_confirmation(self):
        for wizard in self:
            wizard.sudo().password_confirmation_encrypted = (
                wizard._openbanking_encrypt_typed(wizard.password_confirmation)
            )

    def _openbanking_encrypt_typed(self, plaintext):
        if not plaintext:
            return False
        return self.env["openbanking.signatory"]._openbanking_encrypt(plaintext)

    def action_open_webview(self):
        """Register the user at Bridge if needed, authenticate, and open Bridge
        Connect in a new tab.

        The signatory is derived from the bank and the current user, never taken
        from the caller. On a failure before or during the registration, a
        ``UserError`` rolls everything back. On a failure after it, a
        notification is returned instead, so that what Bridge accepted (its user,
        the password) is kept: an error would roll it back while the user exists
        at Bridge.
        """
        self.ensure_one()
        signatory = self.bank_id._openbanking_get_user_signatory()
        service_sudo = signatory._openbanking_get_service()
        password = None
        if service_sudo.api_mode == "v2_password" and (
            self.retype_password or not signatory._openbanking_has_usable_password()
        ):
            password = self._openbanking_get_typed_password()
        registered = signatory._openbanking_register(password=password)
        self._openbanking_wipe_password()
        try:
            url = signatory._openbanking_create_connect_url()
        except UserError as error:
            if not registered:
                raise
            return self._openbanking_notify_registered(error.args[0])
        # Connect opens in a new tab; `close` closes this dialog behind it
        return {
            "type": "ir.actions.act_url",
            "url": url,
            "target": "new",
            "close": True,
        }

    def _openbanking_wipe_password(self):
        self.sudo().write(
            {"password_encrypted": False, "password_confirmation_encrypted": False}
        )

    def _openbanking_get_typed_password(self):
        """Return the typed password once checked; a ``UserError`` otherwise."""
        self.ensure_one()
        Signatory = self.env["openbanking.signatory"]
        wizard_sudo = self.sudo()
        try:
            password, confirmation = (
                Signatory._openbanking_decrypt(ciphertext) if ciphertext else ""
                for ciphertext in (
                    wizard_sudo.password_encrypted,
                    wizard_sudo.password_confirmation_encrypted,
                )
            )
        except crypto.SecretDecryptionError:
            raise UserError(
                self.env._("Type the password and its confirmation again.")
            ) from None
        if not password and not confirmation:
            raise UserError(
                self.env._("Type a password for Bridge and its confirmation.")
            )
        if password != confirmation:
            raise UserError(
                self.env._("The password and its confirmation do not match.")
            )
        if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
            raise UserError(
                self.env._(
                    "The password must have %(min)s to %(max)s characters.",
                    min=PASSWORD_MIN_LENGTH,
                    max=PASSWORD_MAX_LENGTH,
                )
            )
        return password

    def _openbanking_notify_registered(self, reason):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "warning",
                "sticky": True,
                "title": self.env._("Webview not opened"),
                "message": self.env._(
                    "Your Bridge user is registered, but the webview could not be "
                    "opened: %(reason)s",
                    reason=reason,
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
