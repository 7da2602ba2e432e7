# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Bank accounts linked to Bridge, and the authorizations every action on them
checks.

The Bridge ids of an account (``bridge_*``) are stored for trusted code only:
system users and ``sudo``. Everyone else reads them through the ``openbanking_*``
fields, computed per record: they hold the values only where the user may
consult the account, in one of their allowed companies, and searching on them
matches only those accounts. Every ``action_openbanking_*`` checks the user's
right on the account first (``_openbanking_check_right``); managers are checked
like everyone: their own authorization is needed.
"""

import logging

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.osv import expression
from odoo.tools import format_amount, plaintext2html

from .. import const
from .openbanking_authorization import AUTHORIZATION_RIGHTS

_logger = logging.getLogger(__name__)

USER_GROUP = "openbanking_bridge.group_openbanking_user"
RIGHT_LEVELS = [key for key, _label in AUTHORIZATION_RIGHTS]


class ResPartnerBank(models.Model):
    _inherit = "res.partner.bank"

    openbanking_bank_type = fields.Selection(
        related="bank_id.openbanking_type",
        string="Bank Type",
    )
    openbanking_company_id = fields.Many2one(
        comodel_name="res.company",
        string="Open Banking Company",
        compute="_compute_openbanking_company_id",
        store=True,
        index="btree_not_null",
        help="The company whose bank account this is: the account's company, or "
        "the company whose partner holds it. Its authorizations and its link to "
        "Bridge count only for the users working in that company.",
    )
    # Stored for trusted code (webhook processing, actions, with sudo) and
    # system users; everyone else reads the openbanking_* fields below.
    bridge_account_ref = fields.Char(
        string="Stored Bridge Account ID",
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups="base.group_system",
        help="Id of the account at Bridge, written when its IBAN is linked.",
    )
    bridge_item_ref = fields.Char(
        string="Stored Bridge Item ID",
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups="base.group_system",
        help="Id at Bridge of the connection (item) the account comes from.",
    )
    bridge_link_date = fields.Datetime(
        string="Stored Bridge Link Date",
        readonly=True,
        copy=False,
        groups="base.group_system",
    )
    bridge_signatory_id = fields.Many2one(
        comodel_name="openbanking.signatory",
        string="Stored Linking Signatory",
        readonly=True,
        copy=False,
        ondelete="set null",
        index="btree_not_null",
        groups="base.group_system",
        help="The signatory whose Bridge user added the account at Bridge: its "
        "token reads the account's data.",
    )
    openbanking_account_ref = fields.Char(
        string="Bridge Account ID",
        compute="_compute_openbanking_bridge_data",
        search="_search_openbanking_account_ref",
        groups=USER_GROUP,
        help="Id of the account at Bridge. Shown to the users who may consult the "
        "account.",
    )
    openbanking_item_ref = fields.Char(
        string="Bridge Item ID",
        compute="_compute_openbanking_bridge_data",
        search="_search_openbanking_item_ref",
        groups=USER_GROUP,
        help="Id at Bridge of the connection (item) the account comes from. Shown "
        "to the users who may consult the account.",
    )
    openbanking_link_date = fields.Datetime(
        string="Linked to Bridge On",
        compute="_compute_openbanking_bridge_data",
        groups=USER_GROUP,
    )
    openbanking_signatory_id = fields.Many2one(
        comodel_name="openbanking.signatory",
        string="Linked By",
        compute="_compute_openbanking_bridge_data",
        groups=USER_GROUP,
        help="The signatory whose Bridge user added the account at Bridge: its "
        "token reads the account's data.",
    )
    openbanking_linked = fields.Boolean(
        string="Linked to Bridge",
        compute="_compute_openbanking_bridge_data",
        search="_search_openbanking_linked",
        groups=USER_GROUP,
    )
    openbanking_right = fields.Selection(
        selection=AUTHORIZATION_RIGHTS,
        string="My Open Banking Right",
        compute="_compute_openbanking_right",
        groups=USER_GROUP,
        help="Your authorization on this bank account, in your current companies.",
    )
    openbanking_authorization_ids = fields.One2many(
        comodel_name="openbanking.authorization",
        inverse_name="bank_account_id",
        string="Authorizations",
        groups=USER_GROUP,
    )
    openbanking_authorization_count = fields.Integer(
        string="Authorization Count",
        compute="_compute_openbanking_authorization_count",
        groups=USER_GROUP,
    )

    @api.depends(
        "company_id", "partner_id.commercial_partner_id.openbanking_company_ids"
    )
    def _compute_openbanking_company_id(self):
        # searched, not read through openbanking_company_ids, whose cached value
        # may be one a user read as filtered by the company rules
        holders = self.partner_id.commercial_partner_id
        companies_sudo = (
            self.env["res.company"]
            .sudo()
            .search_fetch([("partner_id", "in", holders.ids)], ["partner_id"])
        )
        company_by_partner = {}
        for company_sudo in companies_sudo:
            company_by_partner.setdefault(company_sudo.partner_id.id, company_sudo)
        for account in self:
            account.openbanking_company_id = (
                account.company_id
                or company_by_partner.get(
                    account.partner_id.commercial_partner_id.id, self.env["res.company"]
                )
            )

    @api.depends(
        "bridge_account_ref",
        "bridge_item_ref",
        "bridge_link_date",
        "bridge_signatory_id",
        "openbanking_company_id",
        "openbanking_authorization_ids.user_id",
        "openbanking_authorization_ids.right",
    )
    @api.depends_context("uid", "allowed_company_ids")
    def _compute_openbanking_bridge_data(self):
        consulted = self._openbanking_filter_right("consult")
        for account in self:
            account_sudo = account.sudo()
            visible = account in consulted
            account.openbanking_account_ref = (
                visible and account_sudo.bridge_account_ref
            )
            account.openbanking_item_ref = visible and account_sudo.bridge_item_ref
            account.openbanking_link_date = visible and account_sudo.bridge_link_date
            account.openbanking_signatory_id = (
                visible and account_sudo.bridge_signatory_id.id
            )
            account.openbanking_linked = visible and bool(
                account_sudo.bridge_account_ref
            )

    def _search_openbanking_account_ref(self, operator, value):
        return self._openbanking_search_bridge_field(
            "bridge_account_ref", operator, value
        )

    def _search_openbanking_item_ref(self, operator, value):
        return self._openbanking_search_bridge_field("bridge_item_ref", operator, value)

    def _search_openbanking_linked(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Operation not supported."))
        linked = (operator == "=") == value
        return self._openbanking_search_bridge_field(
            "bridge_account_ref", "!=" if linked else "=", False
        )

    @api.depends(
        "openbanking_company_id",
        "openbanking_authorization_ids.user_id",
        "openbanking_authorization_ids.right",
    )
    @api.depends_context("uid", "allowed_company_ids")
    def _compute_openbanking_right(self):
        rights = self._openbanking_get_rights()
        for account in self:
            account.openbanking_right = rights.get(account._origin.id, False)

    @api.depends("openbanking_authorization_ids")
    @api.depends_context("uid", "allowed_company_ids")
    def _compute_openbanking_authorization_count(self):
        # counted as the user: those of the companies they work in
        counts = dict(
            self.env["openbanking.authorization"]._read_group(
                [("bank_account_id", "in", self._origin.ids)],
                ["bank_account_id"],
                ["__count"],
            )
        )
        for account in self:
            account.openbanking_authorization_count = counts.get(account._origin, 0)

    # ------------------------------------------------------------------
    # Actions: each one checks the user's right on the account first
    # ------------------------------------------------------------------

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

    def action_openbanking_details(self):
        """Show the account's live balance and its connection's status, as
        Bridge gives them now. Consult right."""
        self.ensure_one()
        self._openbanking_check_right("consult")
        signatory_sudo = self._openbanking_get_linking_signatory()
        account_sudo = self.sudo()
        account_ref = account_sudo.bridge_account_ref
        item_ref = account_sudo.bridge_item_ref

        def call(client, token):
            item = client.get_item(token, item_ref) if item_ref else None
            return client.get_account(token, account_ref), item

        bridge_account, item = signatory_sudo._openbanking_call_bridge(call)
        lines = [
            self.env._(
                "Balance: %(balance)s.",
                balance=self._openbanking_format_balance(bridge_account),
            )
        ]
        if bridge_account.name:
            lines.append(
                self.env._("Name at the bank: %(name)s.", name=bridge_account.name)
            )
        if item is not None:
            lines.append(
                self.env._(
                    "Connection status: %(code)s (%(description)s).",
                    code=item.status if item.status is not None else "?",
                    description=item.status_code_description
                    or item.status_code_info
                    or const.ITEM_STATUS_CODES.get(item.status)
                    or self.env._("unknown status"),
                )
            )
            if item.status in const.ITEM_STATUS_USER_ACTION_NEEDED:
                lines.append(
                    self.env._(
                        "The bank asks for a new consent: open the webview of the "
                        "account."
                    )
                )
        return self._openbanking_notification(
            self.env._("Bridge: %(account)s", account=self.display_name),
            " ".join(lines),
            "warning" if item is not None and item.status else "info",
        )

    def action_openbanking_refresh(self):
        """Have Bridge refresh the account's connection (item). Synchronize
        right."""
        self.ensure_one()
        self._openbanking_check_right("synchronize")
        signatory_sudo = self._openbanking_get_linking_signatory()
        service_sudo = signatory_sudo._openbanking_get_service()
        if service_sudo._openbanking_api_version() != const.API_VERSION_V2:
            # Bridge 2025-01-15 documents no refresh call [?]: a Connect session
            # is opened instead, where the user refreshes the connection and
            # gives consent again if the bank asks.
            return self._openbanking_connect_action(signatory_sudo)
        item_ref = self.sudo().bridge_item_ref
        if not item_ref:
            raise UserError(
                self.env._(
                    "Bridge gave no connection (item) for the bank account "
                    "%(account)s: open its webview instead.",
                    account=self.display_name,
                )
            )
        signatory_sudo._openbanking_call_bridge(
            lambda client, token: client.refresh_item(token, item_ref)
        )
        return self._openbanking_notification(
            self.env._("Refresh asked"),
            self.env._(
                "Bridge is refreshing the connection of %(account)s; its webhooks "
                "report the outcome.",
                account=self.display_name,
            ),
            "success",
        )

    def action_openbanking_open_webview(self):
        """Open Bridge's webview for the account's connection, to edit it or
        give consent again. Synchronize right."""
        self.ensure_one()
        self._openbanking_check_right("synchronize")
        return self._openbanking_connect_action(
            self._openbanking_get_linking_signatory()
        )

    def action_openbanking_unlink(self):
        """Forget the account's link to Bridge, in Odoo only. Manage right."""
        self.ensure_one()
        self._openbanking_check_right("manage")
        account_sudo = self.sudo()
        if not account_sudo.bridge_account_ref:
            raise UserError(
                self.env._(
                    "The bank account %(account)s is not linked to Bridge.",
                    account=self.display_name,
                )
            )
        signatory_sudo = account_sudo.bridge_signatory_id
        _logger.info(
            "Bank account %s unlinked from the Bridge account %s (item %s) by user %s.",
            self.id,
            account_sudo.bridge_account_ref,
            account_sudo.bridge_item_ref,
            self.env.uid,
        )
        self._openbanking_unlink_bridge_account()
        # res.partner.bank has no chatter: the history goes to the signatory
        # whose Bridge user linked it, without the Bridge ids (its readers may
        # not consult the account)
        if signatory_sudo:
            signatory_sudo.message_post(
                body=plaintext2html(
                    self.env._(
                        "%(user)s unlinked the bank account %(account)s from Bridge "
                        "in Odoo. The connection stays at Bridge; a new "
                        "item.account.created event would link it again.",
                        user=self.env.user.name,
                        account=self.display_name,
                    )
                ),
                subtype_xmlid="mail.mt_note",
            )
        return True

    # ------------------------------------------------------------------
    # Rights
    # ------------------------------------------------------------------

    def _openbanking_get_rights(self, user=None):
        """Return ``{bank account id: right}``: the authorizations of ``user``
        (default: the current user) on these accounts that count, those of
        accounts in the user's current companies (their companies, for
        another user)."""
        user = user or self.env.user
        companies = self.env.companies if user == self.env.user else user.company_ids
        account_ids = [account_id for account_id in self._origin.ids if account_id]
        if not account_ids:
            return {}
        authorizations_sudo = (
            self.env["openbanking.authorization"]
            .sudo()
            .search_fetch(
                [
                    ("bank_account_id", "in", account_ids),
                    ("user_id", "=", user.id),
                    "|",
                    ("company_id", "=", False),
                    ("company_id", "in", companies.ids),
                ],
                ["bank_account_id", "right"],
            )
        )
        return {
            authorization.bank_account_id.id: authorization.right
            for authorization in authorizations_sudo
        }

    def _openbanking_filter_right(self, right, user=None):
        """The accounts of ``self`` on which ``user`` (default: the current
        user; all of them under sudo) holds ``right`` or a higher one."""
        if user is None and self.env.su:
            return self
        rights = self._openbanking_get_rights(user=user)
        minimum = RIGHT_LEVELS.index(right)
        return self.filtered(
            lambda account: (
                account._origin.id in rights
                and RIGHT_LEVELS.index(rights[account._origin.id]) >= minimum
            )
        )

    def _openbanking_get_right(self, user=None):
        """Return the right ``user`` (default: the current user) holds on this
        account, ``"consult"``, ``"synchronize"`` or ``"manage"``, or False."""
        self.ensure_one()
        return self._openbanking_get_rights(user=user).get(self._origin.id, False)

    def _openbanking_has_right(self, right, user=None):
        """Whether ``user`` (default: the current user) holds ``right`` or a
        higher one on this account: the rights are cumulative."""
        self.ensure_one()
        held = self._openbanking_get_right(user=user)
        return bool(held) and RIGHT_LEVELS.index(held) >= RIGHT_LEVELS.index(right)

    def _openbanking_check_right(self, right):
        """Raise an ``AccessError`` naming the account and ``right`` unless the
        current user may read the account and holds ``right`` on it.

        Called first by every action on a bank account, before anything is
        read from Bridge or written. Managers are no exception; ``sudo`` is.
        """
        self.ensure_one()
        if self.env.su:
            return
        self.check_access("read")
        if self._openbanking_has_right(right):
            return
        labels = dict(
            self.env["openbanking.authorization"]
            ._fields["right"]
            ._description_selection(self.env)
        )
        raise AccessError(
            self.env._(
                "You need the %(right)s right on the bank account %(account)s for "
                "this. An Open Banking manager can grant it in the account's Open "
                "Banking Access.",
                right=labels[right],
                account=self.display_name,
            )
        )

    def _openbanking_search_bridge_field(self, fname, operator, value):
        """The domain of a search on the Bridge field ``fname`` as the current
        user reads it: the stored value where they may consult the account, an
        empty one elsewhere. Evaluated with sudo, limited to those accounts."""
        domain = [(fname, operator, value)]
        if self.env.su:
            return domain
        consultable = self._openbanking_consultable_query()
        result = expression.AND(
            [
                [("id", "in", consultable)],
                [("id", "in", self.sudo()._search(domain))],
            ]
        )
        if self.sudo().new({}).filtered_domain(domain):
            # the empty value matches: so do the accounts the user may not consult
            result = expression.OR([result, [("id", "not in", consultable)]])
        return result

    def _openbanking_consultable_query(self):
        """A query of the ids of the bank accounts on which the current user
        holds an authorization (so at least consult) in their current
        companies."""
        return (
            self.env["openbanking.authorization"]
            .sudo()
            ._search(
                [
                    ("user_id", "=", self.env.uid),
                    "|",
                    ("company_id", "=", False),
                    ("company_id", "in", self.env.companies.ids),
                ]
            )
            .subselect("bank_account_id")
        )

    # ------------------------------------------------------------------
    # Helpers of the actions
    # ------------------------------------------------------------------

    def _openbanking_get_linking_signatory(self):
        """Return, with sudo, the signatory whose Bridge user linked this
        account; a ``UserError`` if it is not linked or the signatory is gone.
        Call it once the user's right is checked."""
        self.ensure_one()
        account_sudo = self.sudo()
        if not account_sudo.bridge_account_ref:
            raise UserError(
                self.env._(
                    "The bank account %(account)s is not linked to Bridge.",
                    account=self.display_name,
                )
            )
        signatory_sudo = account_sudo.bridge_signatory_id
        if not signatory_sudo:
            raise UserError(
                self.env._(
                    "The signatory who linked the bank account %(account)s to "
                    "Bridge is gone: unlink the account, then link it again "
                    "through the webview of its bank.",
                    account=self.display_name,
                )
            )
        return signatory_sudo

    def _openbanking_connect_action(self, signatory_sudo):
        """The action opening a Bridge Connect session of ``signatory_sudo``.

        The client has no call for Bridge's item edit webview (v2 ``GET
        /connect/items/edit``; v3 documents none [?]): a Connect session of the
        signatory's Bridge user is opened, where the bank connection is set up
        again (credentials, consent); its webhooks update the links.
        """
        return {
            "type": "ir.actions.act_url",
            "url": signatory_sudo._openbanking_create_connect_url(),
            "target": "new",
        }

    def _openbanking_format_balance(self, bridge_account):
        if bridge_account.balance is None:
            return self.env._("unknown")
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", bridge_account.currency)], limit=1)
            if bridge_account.currency
            else self.env["res.currency"]
        )
        if currency:
            return format_amount(self.env, float(bridge_account.balance), currency)
        return f"{bridge_account.balance} {bridge_account.currency or ''}".strip()

    def _openbanking_notification(self, title, message, notification_type):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": message,
                "type": notification_type,
                "sticky": True,
            },
        }

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
