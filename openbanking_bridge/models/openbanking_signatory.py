# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
from datetime import timedelta, timezone

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, email_split, escape_psql

from ..bridge import BridgeAuthenticationError, BridgeConflictError, BridgeError
from ..tools import crypto

_logger = logging.getLogger(__name__)

# written by the Bridge exchanges (with sudo) or by a manager, never by a plain user
BRIDGE_STATE_FIELDS = ("bridge_user_uuid", "state", "last_connection_date")
# a stored user token is not used in its last minutes of life
TOKEN_SAFETY_MARGIN = timedelta(minutes=5)


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

    # ------------------------------------------------------------------
    # Secrets at rest
    # ------------------------------------------------------------------

    @api.model
    def _openbanking_encrypt(self, plaintext):
        try:
            return crypto.encrypt(plaintext, dbname=self.env.cr.dbname)
        except crypto.SecretKeyError as error:
            self._openbanking_raise_key_error(error)

    @api.model
    def _openbanking_decrypt(self, ciphertext):
        """Return the plain text; ``crypto.SecretDecryptionError`` when no key
        decrypts it (the caller says what to do then)."""
        try:
            return crypto.decrypt(ciphertext, dbname=self.env.cr.dbname)
        except crypto.SecretKeyError as error:
            self._openbanking_raise_key_error(error)

    @api.model
    def _openbanking_raise_key_error(self, error):
        # the reason names the option or the file, never a key
        _logger.error("Open Banking encryption keys unusable: %s", error)
        raise UserError(
            self.env._(
                "The encryption keys of Open Banking cannot be used. An administrator "
                "must check the server option openbanking_bridge_keys, or the key "
                "file in Odoo's data directory; the server log tells more."
            )
        ) from None

    def _openbanking_has_usable_password(self):
        """Whether a Bridge password is stored for this signatory and decrypts."""
        self.ensure_one()
        ciphertext = self.sudo().bridge_password
        if not ciphertext:
            return False
        try:
            self._openbanking_decrypt(ciphertext)
        except crypto.SecretDecryptionError:
            return False
        return True

    def _openbanking_get_password(self):
        """Return the decrypted Bridge password; a ``UserError`` asking to type it
        again when there is none or it no longer decrypts."""
        self.ensure_one()
        ciphertext = self.sudo().bridge_password
        if ciphertext:
            try:
                return self._openbanking_decrypt(ciphertext)
            except crypto.SecretDecryptionError:
                _logger.warning(
                    "The Bridge password of signatory %s does not decrypt with the "
                    "current keys.",
                    self.id,
                )
        raise UserError(
            self.env._(
                "No usable Bridge password is stored for %(signatory)s (none was "
                "typed, or the encryption key changed). Open the webview of the bank "
                "and type the password again.",
                signatory=self.display_name,
            )
        )

    # ------------------------------------------------------------------
    # Bridge user and token
    # ------------------------------------------------------------------

    def _openbanking_get_service(self):
        """Return, with sudo, the active web service of the signatory's bank."""
        self.ensure_one()
        service_sudo = self.sudo().bank_id.openbanking_service_id
        if not service_sudo:
            raise UserError(
                self.env._(
                    "The bank %(bank)s has no active web service.",
                    bank=self.bank_id.display_name,
                )
            )
        return service_sudo

    def _openbanking_external_user_id(self):
        """The stable id of the signatory's user at Bridge, in the modes that
        identify users by an external id: this database's uuid and the record id."""
        self.ensure_one()
        db_uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid")
        return f"odoo-{db_uuid}-signatory-{self.id}"

    def _openbanking_user_identity(self, service_sudo):
        """The keyword arguments naming the signatory's Bridge user to
        ``BridgeClient.authenticate``."""
        self.ensure_one()
        if service_sudo.api_mode == "v2_password":
            return {"email": self.email, "password": self._openbanking_get_password()}
        if self.bridge_user_uuid:
            return {"user_uuid": self.bridge_user_uuid}
        return {"external_user_id": self._openbanking_external_user_id()}

    def _openbanking_get_stored_token(self):
        """Return the stored access token while it may be reused, else None.

        Reused while younger than both Bridge's expiry (less a safety margin) and
        the bank's connection timeout: past the timeout, every connection is set
        up again, with a new token.
        """
        self.ensure_one()
        signatory_sudo = self.sudo()
        if not (
            signatory_sudo.bridge_access_token
            and signatory_sudo.bridge_token_expires_at
            and signatory_sudo.bridge_token_date
        ):
            return None
        now = fields.Datetime.now()
        timeout = timedelta(minutes=signatory_sudo.bank_id.openbanking_timeout)
        if (
            signatory_sudo.bridge_token_expires_at - TOKEN_SAFETY_MARGIN <= now
            or signatory_sudo.bridge_token_date + timeout <= now
        ):
            return None
        try:
            return self._openbanking_decrypt(signatory_sudo.bridge_access_token)
        except crypto.SecretDecryptionError:
            # only a cache: a new token is asked for
            _logger.warning(
                "The Bridge token of signatory %s does not decrypt with the current "
                "keys: authenticating again.",
                self.id,
            )
            return None

    def _openbanking_get_user_token(self):
        """Return the access token (str) of the signatory's Bridge user.

        The stored token is reused while ``_openbanking_get_stored_token`` allows;
        otherwise the user is authenticated at Bridge and the new token stored,
        encrypted. Private, for trusted callers (the webview, the webhook
        processing): ``bridge`` errors are raised as they come.
        """
        self.ensure_one()
        access_token = self._openbanking_get_stored_token()
        if access_token:
            return access_token
        service_sudo = self._openbanking_get_service()
        user_token = service_sudo._openbanking_client().authenticate(
            **self._openbanking_user_identity(service_sudo)
        )
        self._openbanking_store_token(user_token)
        return user_token.access_token

    def _openbanking_store_token(self, user_token):
        """Store a token Bridge just gave (and the user's uuid, if new)."""
        self.ensure_one()
        expires_at = user_token.expires_at.astimezone(timezone.utc).replace(tzinfo=None)
        vals = {
            "bridge_access_token": self._openbanking_encrypt(user_token.access_token),
            "bridge_token_expires_at": expires_at,
            "bridge_token_date": fields.Datetime.now(),
        }
        if user_token.user_uuid and not self.bridge_user_uuid:
            vals["bridge_user_uuid"] = user_token.user_uuid
        self.sudo().write(vals)

    def _openbanking_invalidate_user_token(self):
        """Forget the stored token, e.g. after Bridge refused it with a 401."""
        self.sudo().write(
            {
                "bridge_access_token": False,
                "bridge_token_expires_at": False,
                "bridge_token_date": False,
            }
        )

    # ------------------------------------------------------------------
    # Webview: registration at Bridge and Connect session
    # ------------------------------------------------------------------

    def _openbanking_register(self, password=None):
        """Make sure the signatory's user exists at Bridge; return whether this
        call wrote anything (what Bridge just accepted).

        ``password``: the password typed in the webview (email and password mode
        only); it is stored only once Bridge accepted it.

        Nothing half-saved: each branch makes one call to Bridge, and the writes
        come after it, holding only what Bridge accepted: the uuid once the user
        is created or found, the password once Bridge took or checked it. A
        failed call raises (a ``UserError``) before any write. The password is
        encrypted before the call, so that unusable keys stop everything before
        Bridge is touched.
        """
        self.ensure_one()
        signatory_sudo = self.sudo()
        service_sudo = self._openbanking_get_service()
        client = service_sudo._openbanking_client()
        vals = {}
        user_token = None
        try:
            if service_sudo.api_mode == "v2_password":
                password_kind = "typed"
                if password is None:
                    # the stored one (a manager may have cleared the uuid)
                    password = self._openbanking_get_password()
                    if signatory_sudo.bridge_user_uuid:
                        return False
                    password_kind = "stored"
                else:
                    vals["bridge_password"] = self._openbanking_encrypt(password)
                if signatory_sudo.bridge_user_uuid:
                    # registered, but the stored password is lost or was refused:
                    # Bridge checks the typed one
                    user_token = self._openbanking_authenticate_password(
                        client, service_sudo, password, password_kind
                    )
                else:
                    try:
                        user = client.create_user(email=self.email, password=password)
                        vals["bridge_user_uuid"] = user.uuid
                    except BridgeConflictError:
                        user_token = self._openbanking_authenticate_password(
                            client, service_sudo, password, password_kind
                        )
                    except BridgeAuthenticationError as error:
                        raise UserError(
                            self.env._(
                                "Bridge refused to create a user with an email and a "
                                "password. It refuses them for applications created "
                                "after 23/10/2023: an administrator may need to "
                                "choose another API mode for the web service "
                                "%(service)s, or to check its credentials.",
                                service=service_sudo.display_name,
                            )
                        ) from error
            else:
                if signatory_sudo.bridge_user_uuid or self.state != "not_registered":
                    return False
                external_user_id = self._openbanking_external_user_id()
                try:
                    user = client.create_user(external_user_id=external_user_id)
                    vals["bridge_user_uuid"] = user.uuid
                except BridgeConflictError:
                    # created earlier, its uuid lost: v2 gives it back with a
                    # token; v3's token answer does not hold it [?]
                    user_token = client.authenticate(external_user_id=external_user_id)
        except BridgeError as error:
            service_sudo._openbanking_raise_error(error)
        if user_token and user_token.user_uuid and not signatory_sudo.bridge_user_uuid:
            vals["bridge_user_uuid"] = user_token.user_uuid
        if self.state == "not_registered":
            vals["state"] = "registered"
        signatory_sudo.write(vals)
        if user_token:
            self._openbanking_store_token(user_token)
        return True

    def _openbanking_authenticate_password(
        self, client, service_sudo, password, password_kind
    ):
        try:
            return client.authenticate(email=self.email, password=password)
        except BridgeAuthenticationError as error:
            service_sudo._openbanking_raise_error(error, password=password_kind)

    def _openbanking_create_connect_url(self):
        """Open a Bridge Connect session for the signatory; return its URL.

        Call ``_openbanking_register`` first. A stored token that Bridge refuses
        (revoked, or expired early) is dropped and the call made once more with
        a new one. Bridge errors become a ``UserError``; what was written before
        (a new token) is true whatever follows.
        """
        self.ensure_one()
        service_sudo = self._openbanking_get_service()
        reused = bool(self._openbanking_get_stored_token())
        access_token = self._openbanking_fetch_user_token(service_sudo)
        try:
            try:
                connect_session = self._openbanking_call_connect(
                    service_sudo, access_token
                )
            except BridgeAuthenticationError:
                if not reused:
                    raise
                self._openbanking_invalidate_user_token()
                access_token = self._openbanking_fetch_user_token(service_sudo)
                connect_session = self._openbanking_call_connect(
                    service_sudo, access_token
                )
        except BridgeError as error:
            service_sudo._openbanking_raise_error(error)
        vals = {"last_connection_date": fields.Datetime.now()}
        if self.state == "not_registered":
            vals["state"] = "registered"
        self.sudo().write(vals)
        return connect_session.url

    def _openbanking_fetch_user_token(self, service_sudo):
        """``_openbanking_get_user_token``, its Bridge errors as ``UserError``."""
        try:
            return self._openbanking_get_user_token()
        except BridgeError as error:
            # with an email and a password, a refusal is the stored password's
            password = "stored" if service_sudo.api_mode == "v2_password" else None
            service_sudo._openbanking_raise_error(error, password=password)

    def _openbanking_call_bridge(self, call):
        """Return ``call(client, access_token)``, made with the signatory's
        Bridge user token; for the actions on its linked bank accounts, whose
        caller checked the user's right first.

        A stored token that Bridge refuses is dropped and the call made once
        more with a new one. Bridge errors become a ``UserError``.
        """
        self.ensure_one()
        service_sudo = self._openbanking_get_service()
        client = service_sudo._openbanking_client()
        reused = bool(self._openbanking_get_stored_token())
        access_token = self._openbanking_fetch_user_token(service_sudo)
        try:
            try:
                return call(client, access_token)
            except BridgeAuthenticationError:
                if not reused:
                    raise
                self._openbanking_invalidate_user_token()
                return call(client, self._openbanking_fetch_user_token(service_sudo))
        except BridgeError as error:
            service_sudo._openbanking_raise_error(error)

    def _openbanking_call_connect(self, service_sudo, access_token):
        country = self.bank_id.country.code or "FR"
        return service_sudo._openbanking_client().create_connect_session(
            access_token,
            email=self.email,
            country=country.lower(),
            callback_url=service_sudo._openbanking_connect_callback_url(),
        )

    # ------------------------------------------------------------------
    # Key rotation
    # ------------------------------------------------------------------

    @api.model
    def _openbanking_reencrypt_secrets(self):
        """Re-encrypt every stored secret under a new key; system only.

        With the database's key file, a new key is written in it first (the old
        ones kept),
        every secret is re-encrypted under it, and the old keys are dropped from
        the file only once this transaction is committed. With the server option,
        the secrets are re-encrypted under its first key; the administrator then
        removes the old keys from the option. A secret no key decrypts any more
        is cleared: its signatory types the password again, or gets a new token.

        Each database has a key file of its own: the others are left alone.

        Return a notification for the administrator.
        """
        if not self.env.is_system():
            raise AccessError(
                self.env._(
                    "Only administrators can re-encrypt the Open Banking secrets."
                )
            )
        secret_columns = ("bridge_password", "bridge_access_token")
        self.flush_model(secret_columns)
        # raw SQL: a technical re-encryption changes no value, so it is neither
        # noted in the chatter nor stamped as a write
        self.env.cr.execute(
            SQL(
                "SELECT id, bridge_password, bridge_access_token "
                "FROM openbanking_signatory "
                "WHERE bridge_password IS NOT NULL OR bridge_access_token IS NOT NULL "
                "ORDER BY id FOR UPDATE"
            )
        )
        rows = self.env.cr.fetchall()
        try:
            rotate, finish, source = crypto.start_rotation(dbname=self.env.cr.dbname)
        except crypto.SecretKeyError as error:
            self._openbanking_raise_key_error(error)
        reencrypted = cleared = 0
        for signatory_id, *ciphertexts in rows:
            values = []
            for ciphertext in ciphertexts:
                if not ciphertext:
                    values.append(None)
                    continue
                try:
                    values.append(rotate(ciphertext))
                    reencrypted += 1
                except crypto.SecretDecryptionError:
                    values.append(None)
                    cleared += 1
            self.env.cr.execute(
                SQL(
                    "UPDATE openbanking_signatory SET bridge_password = %s, "
                    "bridge_access_token = %s WHERE id = %s",
                    *values,
                    signatory_id,
                )
            )
        # passwords typed in an open webview dialog: typed again if needed
        typed_columns = ["password_encrypted", "password_confirmation_encrypted"]
        self.env["res.bank.webview"].flush_model(typed_columns)
        self.env.cr.execute(
            SQL(
                "UPDATE res_bank_webview SET password_encrypted = NULL, "
                "password_confirmation_encrypted = NULL "
                "WHERE password_encrypted IS NOT NULL "
                "OR password_confirmation_encrypted IS NOT NULL"
            )
        )
        self.invalidate_model(secret_columns)
        self.env["res.bank.webview"].invalidate_model(typed_columns)
        self.env.cr.postcommit.add(finish)
        _logger.info(
            "Open Banking secrets re-encrypted by user %s: %s re-encrypted, %s "
            "cleared (undecryptable), keys from the %s.",
            self.env.uid,
            reencrypted,
            cleared,
            source,
        )
        message = self.env._(
            "Secrets re-encrypted under a new key: %(count)s.", count=reencrypted
        )
        if cleared:
            message += " " + self.env._(
                "Secrets cleared, since no current key decrypts them: %(count)s. "
                "Their signatories type their password again in the webview.",
                count=cleared,
            )
        if source == crypto.SOURCE_OPTION:
            message += " " + self.env._(
                "The keys come from the server option openbanking_bridge_keys: the "
                "secrets are now under its first key; remove the other keys from "
                "the option on every server."
            )
        else:
            message += " " + self.env._(
                "The old keys are removed from the key file once this is saved."
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Open Banking secrets re-encrypted"),
                "message": message,
                "type": "warning" if cleared else "success",
                "sticky": True,
            },
        }

    # ------------------------------------------------------------------
    # Webhook events: what Bridge reports of the signatory's connections
    # ------------------------------------------------------------------

    def _openbanking_mark_connected(self):
        """Bridge refreshed an item of these signatories successfully: they are
        connected, and their to-do to renew the consent is done."""
        signatories_sudo = self.sudo()
        signatories_sudo.filtered(lambda s: s.state != "connected").write(
            {"state": "connected"}
        )
        signatories_sudo.activity_feedback(
            ["openbanking_bridge.mail_activity_type_openbanking_consent"],
            feedback=self.env._("Bridge reports that the connection works again."),
        )

    def _openbanking_mark_consent_needed(self, note):
        """Bridge needs the signatory to go through the webview again; ``note``
        (HTML) says why. One to-do for the signatory's user, however many events
        say so."""
        self.ensure_one()
        signatory_sudo = self.sudo()
        if signatory_sudo.state != "consent_needed":
            signatory_sudo.state = "consent_needed"
        xmlid = "openbanking_bridge.mail_activity_type_openbanking_consent"
        if not signatory_sudo.activity_search([xmlid]):
            signatory_sudo.activity_schedule(
                xmlid, note=note, user_id=signatory_sudo.user_id.id
            )

    def _openbanking_forget_bridge_user(self, note):
        """Bridge deleted the signatory's user: the signatory is no longer
        registered; ``note`` (HTML) is posted in its chatter."""
        self.ensure_one()
        self._openbanking_invalidate_user_token()
        signatory_sudo = self.sudo()
        signatory_sudo.write({"bridge_user_uuid": False, "state": "not_registered"})
        signatory_sudo.message_post(body=note, subtype_xmlid="mail.mt_note")
