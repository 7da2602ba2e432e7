# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import re
import threading
from typing import NamedTuple

from odoo import api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.tools import escape_psql

from .. import const
from ..bridge import (
    BridgeAuthenticationError,
    BridgeClient,
    BridgeConflictError,
    BridgeInvalidRequestError,
    BridgeNotFoundError,
    BridgeRateLimitError,
    BridgeResponseError,
    BridgeUnavailableError,
    BridgeUnsupportedError,
)

WEBHOOK_ROUTE = "/openbanking/bridge/webhook"
CONNECT_CALLBACK_ROUTE = "/openbanking/bridge/connect/done"
API_MODE_VERSIONS = {
    "v2_password": const.API_VERSION_V2,
    "v2_external": const.API_VERSION_V2,
    "v3": const.API_VERSION_V3,
}
# (connect, read) seconds of every call to Bridge
BRIDGE_TIMEOUT = (5, 30)

# One client per (database, web service), kept while the values that configure it
# stay the same: its requests.Session keeps the connections to Bridge alive across
# calls and HTTP requests of this worker. A changed configuration replaces it.
_clients = {}
_clients_lock = threading.Lock()
CALLING_CODE_RE = re.compile(r"[A-Za-z0-9_-]+")
# Fields whose change alters which web service a webhook is for, or how it is
# checked: the cached receivers are dropped when one is written.
RECEIVER_FIELDS = frozenset(
    {
        "active",
        "calling_code",
        "company_id",
        "name",
        "webhook_secret",
        "webhook_secret_previous",
    }
)


class WebhookReceiver(NamedTuple):
    """What the webhook route needs of an active web service."""

    id: int
    name: str
    company_id: int
    # lowercase, or None
    calling_code: str | None
    # the current webhook secret, then the previous one (either may be None)
    secrets: tuple


class OpenbankingWebService(models.Model):
    _name = "openbanking.web.service"
    _inherit = ("mail.thread", "openbanking.secret.mixin")
    _description = "Open Banking Web Service"
    _order = "name, id"
    _openbanking_secret_fields = (
        "client_secret",
        "webhook_secret",
        "webhook_secret_previous",
    )
    _openbanking_logged_secret_fields = _openbanking_secret_fields

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        index=True,
        tracking=True,
        default=lambda self: self.env.company,
    )
    provider = fields.Selection(
        selection=[("bridge", "Bridge")],
        required=True,
        default="bridge",
        tracking=True,
    )
    bank_id = fields.Many2one(
        comodel_name="res.bank",
        string="Associated Bank",
        required=True,
        ondelete="restrict",
        tracking=True,
        domain=[("openbanking_type", "=", "open_banking")],
        help="A bank can be associated with only one web service in the whole "
        "database, archived ones included.",
    )
    calling_code = fields.Char(
        tracking=True,
        help="Names the bank in the webhook URL. It may stay empty while a single "
        "web service is active; with several, each needs its own. Letters, digits, "
        "'-' and '_' only.",
    )
    api_url = fields.Char(
        string="API Base URL",
        required=True,
        tracking=True,
        default="https://api.bridgeapi.io",
    )
    api_mode = fields.Selection(
        selection=[
            ("v2_password", "2021-06-01, email and password"),
            ("v2_external", "2021-06-01, external user id"),
            ("v3", "2025-01-15"),
        ],
        string="API Mode",
        required=True,
        default="v3",
        tracking=True,
        help="The Bridge API version and how its users are identified. Users with an "
        "email and a password are refused for Bridge applications created after "
        "23/10/2023; version 2021-06-01 ends on 31/12/2027.",
    )
    client_id = fields.Char(string="Client ID", tracking=True)
    client_secret = fields.Char(
        groups="base.group_system",
        copy=False,
        exportable=False,
    )
    client_secret_set = fields.Boolean(
        compute="_compute_client_secret_set",
    )
    webhook_url = fields.Char(
        string="Webhook URL",
        compute="_compute_webhook_url",
        help="Paste this URL in Bridge's console, as the URL of the webhook sending "
        "the item.account.created event.",
    )
    webhook_secret = fields.Char(
        groups="base.group_system",
        copy=False,
        exportable=False,
        help="Secret of the webhook in Bridge's console: it signs every event.",
    )
    webhook_secret_previous = fields.Char(
        string="Previous Webhook Secret",
        groups="base.group_system",
        copy=False,
        exportable=False,
        help="During a rotation, Bridge signs events with both secrets for 24 hours: "
        "keep the former one here until then.",
    )
    webhook_secret_set = fields.Boolean(
        compute="_compute_webhook_secret_set",
    )
    event_retention_days = fields.Integer(
        string="Event Retention (days)",
        default=30,
        tracking=True,
        help="Received webhook events are kept this many days.",
    )

    _sql_constraints = (
        # Deferred to the end of the transaction: the Python constraints run
        # first and name the service at fault; the database stays the race-proof
        # backstop.
        (
            "bank_uniq",
            "UNIQUE (bank_id) DEFERRABLE INITIALLY DEFERRED",
            "A bank can be associated with only one web service.",
        ),
        (
            "calling_code_uniq",
            (
                "EXCLUDE USING btree (lower(calling_code) WITH =) "
                "DEFERRABLE INITIALLY DEFERRED"
            ),
            "Each web service needs its own calling code.",
        ),
        (
            "event_retention_days_positive",
            "CHECK (event_retention_days > 0)",
            "The event retention must be a positive number of days.",
        ),
    )

    @api.depends("client_secret")
    def _compute_client_secret_set(self):
        for service in self:
            service.client_secret_set = bool(service.sudo().client_secret)

    @api.depends("calling_code")
    def _compute_webhook_url(self):
        for service in self:
            base_url = (service.get_base_url() or "").rstrip("/")
            code = f"/{service.calling_code}" if service.calling_code else ""
            service.webhook_url = f"{base_url}{WEBHOOK_ROUTE}{code}"

    @api.depends("webhook_secret")
    def _compute_webhook_secret_set(self):
        for service in self:
            service.webhook_secret_set = bool(service.sudo().webhook_secret)

    @api.constrains("bank_id")
    def _check_bank_id(self):
        services_sudo = self.sudo().with_context(active_test=False)
        for service_sudo in services_sudo:
            if service_sudo.bank_id.openbanking_type != "open_banking":
                raise ValidationError(
                    self.env._(
                        "The associated bank %(bank)s of the web service "
                        "%(service)s must be an Open Banking bank.",
                        bank=service_sudo.bank_id.display_name,
                        service=service_sudo.display_name,
                    )
                )
            holder_sudo = services_sudo.search(
                [
                    ("id", "!=", service_sudo.id),
                    ("bank_id", "=", service_sudo.bank_id.id),
                ],
                limit=1,
            )
            if holder_sudo.active:
                raise ValidationError(
                    self.env._(
                        "The bank %(bank)s is already associated with the web "
                        "service %(service)s: a bank can be associated only once.",
                        bank=service_sudo.bank_id.display_name,
                        service=holder_sudo.display_name,
                    )
                )
            if holder_sudo:
                raise ValidationError(
                    self.env._(
                        "The bank %(bank)s is already associated with the archived "
                        "web service %(service)s: a bank can be associated only "
                        "once, archived web services included.",
                        bank=service_sudo.bank_id.display_name,
                        service=holder_sudo.display_name,
                    )
                )

    @api.constrains("calling_code")
    def _check_calling_code(self):
        services_sudo = self.sudo().with_context(active_test=False)
        for service_sudo in services_sudo.filtered("calling_code"):
            if not CALLING_CODE_RE.fullmatch(service_sudo.calling_code):
                raise ValidationError(
                    self.env._(
                        "The calling code %(code)s of the web service %(service)s "
                        "may only hold letters, digits, '-' and '_'.",
                        code=service_sudo.calling_code,
                        service=service_sudo.display_name,
                    )
                )
            holder_sudo = services_sudo.search(
                [
                    ("id", "!=", service_sudo.id),
                    ("calling_code", "=ilike", escape_psql(service_sudo.calling_code)),
                ],
                limit=1,
            )
            if holder_sudo:
                raise ValidationError(
                    self.env._(
                        "The calling code %(code)s is already used by the web "
                        "service %(service)s: each web service needs its own.",
                        code=service_sudo.calling_code,
                        service=holder_sudo.display_name,
                    )
                )

    @api.constrains("calling_code", "active")
    def _check_calling_code_required(self):
        active_services_sudo = self.sudo().search([("active", "=", True)])
        if len(active_services_sudo) < 2:
            return
        missing_sudo = active_services_sudo.filtered(lambda s: not s.calling_code)
        if missing_sudo:
            raise ValidationError(
                self.env._(
                    "Several web services are active, so each needs a calling code "
                    "to tell their webhooks apart. Missing on: %(services)s.",
                    services=", ".join(missing_sudo.mapped("display_name")),
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._clean_calling_code(vals)
        self.env.registry.clear_cache()  # the webhook receivers
        return super().create(vals_list)

    def write(self, vals):
        self._clean_calling_code(vals)
        if RECEIVER_FIELDS.intersection(vals):
            self.env.registry.clear_cache()  # the webhook receivers
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()  # the webhook receivers
        return super().unlink()

    @api.model
    def _clean_calling_code(self, vals):
        if "calling_code" in vals:
            vals["calling_code"] = (vals["calling_code"] or "").strip() or False

    @api.model
    def _openbanking_webhook_receivers(self, calling_code):
        """Return the active web services a webhook sent to the URL ending with
        ``calling_code`` may be for, as ``WebhookReceiver`` tuples: the one with
        that calling code (case-insensitive), or, without a calling code, every
        active web service (the signature then tells which one).
        """
        receivers = self._openbanking_all_webhook_receivers()
        if not calling_code:
            return list(receivers)
        if not CALLING_CODE_RE.fullmatch(calling_code):
            return []
        calling_code = calling_code.lower()
        return [r for r in receivers if r.calling_code == calling_code]

    @api.model
    @tools.ormcache()
    def _openbanking_all_webhook_receivers(self):
        """The active web services, as the webhook route reads them on every
        delivery: cached in each worker (one entry, whatever the URLs asked
        for), dropped by a change of ``RECEIVER_FIELDS``."""
        services_sudo = self.sudo().search_fetch(
            [("active", "=", True)], list(RECEIVER_FIELDS)
        )
        return tuple(
            WebhookReceiver(
                id=service_sudo.id,
                name=service_sudo.name,
                company_id=service_sudo.company_id.id,
                calling_code=(service_sudo.calling_code or "").lower() or None,
                secrets=(
                    service_sudo.webhook_secret or None,
                    service_sudo.webhook_secret_previous or None,
                ),
            )
            for service_sudo in services_sudo
        )

    def _openbanking_api_version(self):
        self.ensure_one()
        return API_MODE_VERSIONS[self.api_mode]

    def _openbanking_client(self):
        """Return the ``BridgeClient`` of this web service.

        Private: it holds the client secret, read with sudo. The client is kept
        for the worker's life (see ``_clients``) and replaced when the API URL,
        the credentials or the API mode change.
        """
        self.ensure_one()
        service_sudo = self.sudo()
        settings = (
            (service_sudo.api_url or "").strip(),
            service_sudo.client_id or "",
            service_sudo.client_secret or "",
            service_sudo._openbanking_api_version(),
        )
        key = (self.env.cr.dbname, service_sudo.id)
        with _clients_lock:
            cached = _clients.get(key)
            if cached and cached[0] == settings:
                return cached[1]
            # the replaced client may still be in use by another thread: its
            # session is left to the garbage collector, not closed here
            client = BridgeClient(*settings, timeout=BRIDGE_TIMEOUT)
            _clients[key] = (settings, client)
            return client

    def _openbanking_connect_callback_url(self):
        """Where Bridge Connect sends the browser back: a page of this Odoo."""
        self.ensure_one()
        return f"{self.get_base_url().rstrip('/')}{CONNECT_CALLBACK_ROUTE}"

    def _openbanking_error_message(self, error, *, password=None):
        """Return the plain, translated message to show a user for a Bridge error.

        The one place where ``bridge`` errors become words. ``password`` says that
        the failed call authenticated a user with an email and a password, the one
        just ``"typed"`` or the ``"stored"`` one: a refusal then means the
        password, not the web service's credentials.
        Bridge's own message is shown only for a refused request, where it says
        what to change; it never holds what was sent.
        """
        service = self.display_name or self.env._("the web service")
        if isinstance(error, BridgeRateLimitError):
            return self.env._(
                "Bridge received too many requests. Wait a minute, then try again."
            )
        if isinstance(error, BridgeUnavailableError):
            return self.env._("Bridge cannot be reached right now. Try again later.")
        if isinstance(error, BridgeAuthenticationError):
            if password == "typed":
                return self.env._(
                    "Bridge refused the password. A Bridge user already exists with "
                    "this email address: type the password chosen for it."
                )
            if password == "stored":
                return self.env._(
                    "Bridge refused the stored password (was it changed at Bridge?). "
                    "Open the webview again and type the password of your Bridge "
                    "user."
                )
            return self.env._(
                "Bridge refused the credentials of the web service %(service)s. An "
                "administrator must check its client ID and client secret.",
                service=service,
            )
        if isinstance(error, BridgeConflictError):
            return self.env._("Bridge answered that this already exists.")
        if isinstance(error, BridgeNotFoundError):
            return self.env._(
                "Bridge does not know this user, connection or account (any more)."
            )
        if isinstance(error, BridgeUnsupportedError):
            return self.env._(
                "This is not available with the API mode of the web service "
                "%(service)s.",
                service=service,
            )
        if isinstance(error, BridgeResponseError):
            return self.env._(
                "Bridge sent an answer that cannot be read. Try again later."
            )
        if isinstance(error, BridgeInvalidRequestError) and error.message:
            return self.env._(
                "Bridge refused the request: %(message)s", message=error.message
            )
        return self.env._(
            "The exchange with Bridge failed. Try again later; if it goes on, an "
            "administrator can find the details in the server log."
        )

    def _openbanking_raise_error(self, error, *, password=None):
        """Raise the ``UserError`` of a Bridge error, with the message of
        ``_openbanking_error_message``."""
        raise UserError(
            self._openbanking_error_message(error, password=password)
        ) from error
