# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Bridge's webhook deliveries: stored at once by the route, processed by a cron.

The route (``controllers/main.py``) hands the raw body to ``_openbanking_receive``,
which checks the signature before anything else (against the web services cached
in each worker: no query), parses the event, and stores it with ``INSERT ... ON
CONFLICT DO NOTHING`` on (web service, delivery key), the cron's trigger in the
same statement: a delivery received twice, even at the same moment, is one record.
Nothing calls Bridge there; the route answers as soon as the event is stored, then
wakes the cron workers.

``_cron_process_events`` takes a batch with ``FOR UPDATE SKIP LOCKED`` (several
cron workers never take the same event) and processes it in the cron's
transaction, one savepoint per event that has anything to apply; the outcomes are
written at the end, one UPDATE per distinct outcome. Bridge is called once per
item per batch: one token per signatory, one account listing per item, one search
of the IBANs in Odoo. Bridge Connect sends one ``item.account.created`` per
account, one after the other: the cron takes them in several batches as they
arrive, and reuses the listing it made for the first one (see
``_openbanking_cached_listing``), so that an item is listed once whatever its
number of accounts.
"""

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict, defaultdict
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.osv import expression
from odoo.tools import SQL, plaintext2html
from odoo.tools.sql import create_index

from .. import const
from ..bridge import (
    BridgeAuthenticationError,
    BridgeError,
    BridgeNotFoundError,
    BridgeRateLimitError,
    BridgeUnavailableError,
    WebhookPayloadError,
    format_iban,
    parse_event,
    verify_signature,
)

_logger = logging.getLogger(__name__)

# A Bridge event is a few hundred bytes: anything over this is refused (413).
MAX_BODY_SIZE = 1024 * 1024
BATCH_SIZE = 100
# Minutes to wait before the next attempt after a transient Bridge failure (a
# timeout, a 5xx, a 429), by number of attempts made; then the event is failed.
RETRY_DELAYS_MINUTES = (1, 5, 15, 60, 240)
MAX_ATTEMPTS = len(RETRY_DELAYS_MINUTES) + 1
CLEAN_BATCH_SIZE = 10_000
PENDING_STATES = ("received", "retry")
# Events acted on; the other known ones need nothing from this addon.
PROCESSED_EVENTS = (
    const.EVENT_ACCOUNT_CREATED,
    const.EVENT_ITEM_REFRESHED,
    const.EVENT_ACCOUNT_DELETED,
    const.EVENT_ITEM_DELETED,
    const.EVENT_USER_DELETED,
)
# Errors of a database under concurrent load: the event is simply tried again.
CONCURRENCY_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
)
# A listing of an item's accounts is reused by the worker that made it for this
# many seconds, at most, and for this many items, the latest.
LISTING_CACHE_SECONDS = 120
LISTING_CACHE_SIZE = 64
# Events after which a listing made before them is not reused.
DELETION_EVENTS = (
    const.EVENT_ACCOUNT_DELETED,
    const.EVENT_ITEM_DELETED,
    const.EVENT_USER_DELETED,
)
# The method applying each type of event processed.
EVENT_HANDLERS = {
    const.EVENT_ACCOUNT_CREATED: "_openbanking_handle_account_created",
    const.EVENT_ITEM_REFRESHED: "_openbanking_handle_item_refreshed",
    const.EVENT_ACCOUNT_DELETED: "_openbanking_handle_account_deleted",
    const.EVENT_ITEM_DELETED: "_openbanking_handle_item_deleted",
    const.EVENT_USER_DELETED: "_openbanking_handle_user_deleted",
}
PROCESS_CRON_XMLID = "openbanking_bridge.ir_cron_openbanking_webhook_event_process"
CONSENT_ACTIVITY_XMLID = "openbanking_bridge.mail_activity_type_openbanking_consent"


# {(database, web service, API URL, signatory, Bridge user, item):
#  (time.monotonic() when listed, UTC datetime when listed, [Account])}
_listings = OrderedDict()
_listings_lock = threading.Lock()


class Reception(NamedTuple):
    """What the route answers to a delivery, and what it does once answered."""

    status: int
    # short, fixed: it never holds data
    reason: str
    # an event for the processing cron was stored: its workers are to be woken
    # once this is committed
    wake_cron_workers: bool = False


class Outcome(NamedTuple):
    """How processing an event ended: what is written on it. Hashable, so that
    the events that end alike are written together."""

    state: str
    attempt_count: int
    message: str
    next_attempt_date: datetime | None = None
    # for "done" only
    signatory_id: int | None = None
    bank_account_ids: tuple = ()

    def vals(self, now):
        vals = {
            "state": self.state,
            "attempt_count": self.attempt_count,
            "message": self.message,
            "next_attempt_date": self.next_attempt_date or False,
        }
        if self.state != "retry":
            vals["processed_date"] = now
        if self.state == "done":
            vals["signatory_id"] = self.signatory_id or False
            # an event is done once, and had no bank account before
            if self.bank_account_ids:
                vals["bank_account_ids"] = [
                    fields.Command.set(list(self.bank_account_ids))
                ]
        return vals


class EventBatch:
    """What the events of one batch share, so that Bridge is asked once.

    ``signatories``: ``{(bank id, Bridge user uuid): signatory}``;
    ``listings``: ``{(signatory id, item id): [Account] or the exception}``;
    ``bank_accounts``: ``{(company id, IBAN): res.partner.bank}``;
    ``linked``: ``{(company id, Bridge account id): res.partner.bank}``.
    """

    def __init__(self):
        self.signatories = {}
        self.listings = {}
        self.bank_accounts = {}
        self.linked = {}


class OpenbankingWebhookEvent(models.Model):
    _name = "openbanking.webhook.event"
    _description = "Open Banking Webhook Event"
    _order = "received_date desc, id desc"
    _rec_name = "event_type"

    service_id = fields.Many2one(
        comodel_name="openbanking.web.service",
        string="Web Service",
        required=True,
        readonly=True,
        ondelete="cascade",
        index=True,
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        readonly=True,
        index=True,
    )
    event_type = fields.Char(required=True, readonly=True, index=True)
    event_timestamp = fields.Datetime(
        string="Bridge Date",
        readonly=True,
        help="When Bridge sent the event, by Bridge's clock.",
    )
    received_date = fields.Datetime(required=True, readonly=True)
    processed_date = fields.Datetime(
        readonly=True,
        index=True,
        help="When the event was last done, ignored or failed.",
    )
    payload = fields.Text(
        readonly=True,
        help="The body Bridge sent, as received. Headers are never stored.",
    )
    delivery_key = fields.Char(
        required=True,
        readonly=True,
        help="Digest of the event's type, date and content: a delivery received "
        "again has the same key, and is stored and processed once.",
    )
    bridge_user_uuid = fields.Char(
        string="Bridge User UUID", readonly=True, index="btree_not_null"
    )
    bridge_item_ref = fields.Char(
        string="Bridge Item ID", readonly=True, index="btree_not_null"
    )
    bridge_account_ref = fields.Char(string="Bridge Account ID", readonly=True)
    state = fields.Selection(
        selection=[
            ("received", "Received"),
            ("processing", "Processing"),
            ("done", "Done"),
            ("ignored", "Ignored"),
            ("failed", "Failed"),
            ("retry", "Waiting for Retry"),
        ],
        required=True,
        readonly=True,
        default="received",
        help="Received: waiting to be processed. Waiting for Retry: Bridge failed "
        "for a while; the event is processed again later. Failed: it could not be "
        "processed; see the message, then process it again. Ignored: nothing to do "
        "for this type of event.",
    )
    attempt_count = fields.Integer(
        string="Attempts",
        readonly=True,
        help="Times the event was processed.",
    )
    next_attempt_date = fields.Datetime(readonly=True)
    message = fields.Text(readonly=True, help="The outcome of the last attempt.")
    signatory_id = fields.Many2one(
        comodel_name="openbanking.signatory",
        readonly=True,
        ondelete="set null",
        index="btree_not_null",
    )
    bank_account_ids = fields.Many2many(
        comodel_name="res.partner.bank",
        relation="openbanking_webhook_event_res_partner_bank_rel",
        column1="event_id",
        column2="bank_account_id",
        string="Bank Accounts",
        readonly=True,
        help="The bank accounts the event linked, unlinked or concerned.",
    )

    _sql_constraints = (
        # Not deferrable: INSERT ... ON CONFLICT needs an immediate constraint.
        (
            "delivery_key_uniq",
            "UNIQUE (service_id, delivery_key)",
            "An event is stored once per web service.",
        ),
    )

    def init(self):
        # the queue the cron takes its batches from
        create_index(
            self.env.cr,
            f"{self._table}_state_next_attempt_date_index",
            self._table,
            ["state", "next_attempt_date"],
        )

    @api.depends("event_type", "bridge_item_ref")
    def _compute_display_name(self):
        for event in self:
            event.display_name = (
                f"{event.event_type} ({event.bridge_item_ref})"
                if event.bridge_item_ref
                else event.event_type
            )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_process_again(self):
        """Queue failed (or waiting) events for the processing cron, now."""
        if not self.env.user.has_group("openbanking_bridge.group_openbanking_manager"):
            raise AccessError(
                self.env._("Only Open Banking managers can process events again.")
            )
        self.check_access("read")
        events_sudo = self.sudo().filtered(
            lambda event: event.state in ("failed", "retry")
        )
        events_sudo._openbanking_requeue()
        return True

    def _openbanking_requeue(self):
        for event_sudo in self:
            event_sudo.write(
                {
                    "state": "received",
                    "attempt_count": 0,
                    "next_attempt_date": False,
                    "message": self.env._(
                        "%(message)s\nQueued again by %(user)s.",
                        message=event_sudo.message or "",
                        user=self.env.user.name,
                    ).strip(),
                }
            )
        if self:
            self.env.ref(PROCESS_CRON_XMLID).sudo()._trigger()

    # ------------------------------------------------------------------
    # Reception (the route)
    # ------------------------------------------------------------------

    @api.model
    def _openbanking_receive(self, calling_code, body, signature):
        """Check, parse and store one webhook delivery.

        :param calling_code: the last part of the URL, or None.
        :param bytes body: the raw request body.
        :param signature: the ``BridgeApi-Signature`` header, or None.
        :return: a ``Reception``; once its transaction is committed, the caller
            wakes the cron workers if it says so (``tools.cron``): the route
            does it after answering, since Bridge need not wait for it.
        """
        receiver, status, reason = self._openbanking_find_receiver(
            calling_code, body, signature
        )
        if not receiver:
            return Reception(status, reason)
        try:
            event = parse_event(body)
        except WebhookPayloadError as error:
            # `field: reason`, both fixed strings of the parser
            _logger.warning(
                "Webhook of the web service %s refused: %s", receiver.name, error
            )
            return Reception(400, str(error))
        vals = self._openbanking_prepare_event_vals(receiver, event, body)
        stored = self.sudo()._openbanking_insert_event(vals)
        if not stored:
            return Reception(200, "Already received")
        _event_id, triggered = stored
        return Reception(200, "Received", wake_cron_workers=triggered)

    @api.model
    def _openbanking_find_receiver(self, calling_code, body, signature):
        """Return ``(WebhookReceiver, status, reason)``: the active web service
        the delivery is for and whose webhook secret signed it, or None with the
        refusal's status and reason. Reads no table (the receivers are cached)."""
        Service = self.env["openbanking.web.service"]
        candidates = Service._openbanking_webhook_receivers(calling_code)
        if not candidates:
            if calling_code:
                return None, 404, "Unknown calling code"
            return None, 404, "No active web service"
        signed_by = [
            receiver
            for receiver in candidates
            if verify_signature(body, signature, receiver.secrets)
        ]
        if len(signed_by) == 1:
            return signed_by[0], 200, ""
        if signed_by:
            _logger.warning(
                "Webhook refused: the web services %s share a webhook secret; "
                "give each its own calling code.",
                ", ".join(receiver.name for receiver in signed_by),
            )
        else:
            _logger.warning(
                "Webhook refused: missing or invalid signature for the web "
                "service(s) %s.",
                ", ".join(receiver.name for receiver in candidates),
            )
        return None, 403, "Invalid signature"

    @api.model
    def _openbanking_prepare_event_vals(self, receiver, event, body):
        content = event.raw.get("content")
        content = content if isinstance(content, dict) else {}
        if event.type == const.EVENT_TEST:
            state = "done"
            message = self.env._("Bridge's test event: the webhook works.")
        elif event.type in PROCESSED_EVENTS:
            state, message = "received", False
        elif event.is_known:
            state = "ignored"
            message = self.env._("Nothing to do for this type of event.")
        else:
            state = "ignored"
            message = self.env._("Unknown type of event: ignored.")
        now = fields.Datetime.now()
        return {
            "service_id": receiver.id,
            "company_id": receiver.company_id,
            "event_type": _as_ref(event.type) or "?",
            "event_timestamp": event.timestamp.astimezone(timezone.utc).replace(
                tzinfo=None
            ),
            "received_date": now,
            "processed_date": now if state != "received" else None,
            # parse_event read it as UTF-8
            "payload": body.decode("utf-8") if isinstance(body, bytes) else body,
            "delivery_key": self._openbanking_delivery_key(event),
            "bridge_user_uuid": _as_ref(content.get("user_uuid")),
            "bridge_item_ref": _as_ref(content.get("item_id")),
            "bridge_account_ref": _as_ref(content.get("account_id")),
            "state": state,
            "attempt_count": 0,
            "message": message or None,
        }

    @api.model
    def _openbanking_delivery_key(self, event):
        """The same event delivered again gives the same key, whatever the JSON's
        spacing or key order."""
        canonical = json.dumps(
            {
                "type": event.type,
                "timestamp": event.raw.get("timestamp"),
                "content": event.raw.get("content"),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @api.model
    def _openbanking_insert_event(self, vals):
        """Insert the event unless its delivery key is known, and, if it is to be
        processed, ask the processing cron to run; return ``(event id, whether
        the cron was triggered)``, or None for a known delivery.

        One statement, for the route answers only once it is committed:
        ``ir.cron._trigger()`` would read the cron and create the trigger through
        the ORM (four more queries). As there, an inactive cron gets no trigger.
        Waking the cron workers is left to the caller (see ``_openbanking_receive``).

        Concurrent duplicates never raise a unique violation; under repeatable
        read the later one may get a serialization failure, which the HTTP layer
        retries, and then finds the first one.
        """
        uid = self.env.uid
        now = fields.Datetime.now()
        vals = dict(
            vals, create_uid=uid, write_uid=uid, create_date=now, write_date=now
        )
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id(
            PROCESS_CRON_XMLID, raise_if_not_found=True
        )
        # read below (no query when nothing is pending)
        self.env["ir.cron"].flush_model(["active"])
        self.env.cr.execute(
            SQL(
                """
                WITH event AS (
                    INSERT INTO %(table)s (%(columns)s) VALUES (%(values)s)
                    ON CONFLICT (service_id, delivery_key) DO NOTHING
                    RETURNING id, state
                ), cron_trigger AS (
                    INSERT INTO ir_cron_trigger
                        (cron_id, call_at, create_uid, create_date, write_uid,
                         write_date)
                    SELECT ir_cron.id, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM ir_cron, event
                     WHERE ir_cron.id = %(cron_id)s AND ir_cron.active
                       AND event.state = 'received'
                    RETURNING id
                )
                SELECT event.id, EXISTS (SELECT FROM cron_trigger) FROM event
                """,
                table=SQL.identifier(self._table),
                columns=SQL(", ").join(SQL.identifier(name) for name in vals),
                values=SQL(", ").join(SQL("%s", value) for value in vals.values()),
                now=now,
                uid=uid,
                cron_id=cron_id,
            )
        )
        row = self.env.cr.fetchone()
        return tuple(row) if row else None

    # ------------------------------------------------------------------
    # Processing (the cron)
    # ------------------------------------------------------------------

    @api.model
    def _cron_process_events(self, batch_size=BATCH_SIZE):
        """Process one batch of the events ready; return them.

        Through the cron's progress API, the cron runs again at once (after
        committing) while events remain.
        """
        events = self._openbanking_take_batch(batch_size)
        events._openbanking_process()
        self.env["ir.cron"]._notify_progress(
            done=len(events), remaining=self._openbanking_count_ready()
        )
        return events

    @api.model
    def _openbanking_take_batch(self, batch_size=BATCH_SIZE):
        """Lock and return up to ``batch_size`` events ready to be processed.

        ``SKIP LOCKED``: the events another worker holds are left to it.
        """
        self.flush_model(["state", "next_attempt_date"])
        query = SQL(
            "SELECT id FROM %s WHERE state IN %s "
            "AND (next_attempt_date IS NULL OR next_attempt_date <= %s) "
            "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            SQL.identifier(self._table),
            PENDING_STATES,
            fields.Datetime.now(),
            batch_size,
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
                event_ids = [event_id for (event_id,) in self.env.cr.fetchall()]
        except psycopg2.errors.SerializationFailure:
            # Another worker processed some of them since this transaction
            # began: leave them to the next run, soon.
            _logger.info("Webhook events taken by another worker; trying again soon.")
            self.env.ref(PROCESS_CRON_XMLID).sudo()._trigger()
            return self.browse()
        events = self.browse(event_ids)
        # another transaction may have changed them since this one read them
        events.invalidate_recordset()
        return events

    @api.model
    def _openbanking_count_ready(self):
        return self.search_count(
            [
                ("state", "in", PENDING_STATES),
                "|",
                ("next_attempt_date", "=", False),
                ("next_attempt_date", "<=", fields.Datetime.now()),
            ]
        )

    def _openbanking_process(self):
        """Process these events, which the caller holds locked.

        Bridge is asked first, once per signatory and item of the batch; then
        each event is applied in its own savepoint, so that one failing event
        leaves the others done. The outcomes are written at the end, one UPDATE
        per distinct outcome: a burst of events that end alike costs one.
        """
        if not self:
            return
        self.write({"state": "processing"})
        batch = EventBatch()
        self._openbanking_prefetch(batch)
        outcomes = defaultdict(lambda: self.browse())
        for event in self.sorted(
            lambda e: (e.event_timestamp or e.received_date, e.id)
        ):
            # outcomes and notes in the company's language, not the cron's
            outcome = event.with_context(
                lang=event.company_id.partner_id.lang
            )._openbanking_process_one(batch)
            outcomes[outcome] |= event
        now = fields.Datetime.now()
        for outcome, events in outcomes.items():
            events.write(outcome.vals(now))
        retry_dates = sorted(
            outcome.next_attempt_date
            for outcome in outcomes
            if outcome.state == "retry"
        )
        if retry_dates:
            self.env.ref(PROCESS_CRON_XMLID).sudo()._trigger(at=retry_dates)

    def _openbanking_prefetch(self, batch):
        """Fill ``batch``: the signatories of the events, the Bridge accounts of
        their items (one listing per item), and the Odoo bank accounts of the
        IBANs Bridge returned (one search per company)."""
        uuids = {event.bridge_user_uuid for event in self if event.bridge_user_uuid}
        signatories_sudo = (
            self.env["openbanking.signatory"]
            .sudo()
            .search(
                [
                    ("bridge_user_uuid", "in", list(uuids)),
                    ("bank_id", "in", self.service_id.bank_id.ids),
                ]
            )
        )
        for signatory_sudo in signatories_sudo:
            batch.signatories.setdefault(
                (signatory_sudo.bank_id.id, signatory_sudo.bridge_user_uuid),
                signatory_sudo,
            )
        # (signatory, item) -> company whose bank accounts are searched
        items = {}
        # (signatory, item) -> the Bridge accounts the events name
        event_account_refs = defaultdict(set)
        for event in self.filtered(
            lambda e: e.event_type == const.EVENT_ACCOUNT_CREATED
        ):
            signatory_sudo = event._openbanking_signatory(batch)
            if signatory_sudo and event.bridge_item_ref:
                items.setdefault(
                    (signatory_sudo, event.bridge_item_ref),
                    event.service_id.company_id,
                )
                if event.bridge_account_ref:
                    event_account_refs[(signatory_sudo, event.bridge_item_ref)].add(
                        event.bridge_account_ref
                    )
        ibans = defaultdict(set)
        account_refs = defaultdict(set)
        for (signatory_sudo, item_ref), company in items.items():
            listing = self._openbanking_fetch_item_accounts(
                signatory_sudo,
                item_ref,
                event_account_refs[(signatory_sudo, item_ref)],
            )
            batch.listings[(signatory_sudo.id, item_ref)] = listing
            if not isinstance(listing, Exception):
                ibans[company] |= {account.iban for account in listing if account.iban}
                account_refs[company] |= {str(account.id) for account in listing}
        BankAccount = self.env["res.partner.bank"]
        for company, company_ibans in ibans.items():
            bank_accounts_sudo = BankAccount._openbanking_search_company_accounts(
                company, [("sanitized_acc_number", "in", list(company_ibans))]
            )
            for bank_account_sudo in bank_accounts_sudo:
                key = (company.id, bank_account_sudo.sanitized_acc_number)
                batch.bank_accounts[key] = (
                    batch.bank_accounts.get(key, BankAccount.sudo()) | bank_account_sudo
                )
        for company, refs in account_refs.items():
            linked_sudo = BankAccount._openbanking_search_company_accounts(
                company, [("bridge_account_ref", "in", list(refs))]
            )
            for bank_account_sudo in linked_sudo:
                key = (company.id, bank_account_sudo.bridge_account_ref)
                batch.linked[key] = (
                    batch.linked.get(key, BankAccount.sudo()) | bank_account_sudo
                )

    @api.model
    def _openbanking_fetch_item_accounts(
        self, signatory_sudo, item_ref, account_refs=frozenset()
    ):
        """Return the Bridge accounts of an item, or the exception that stopped
        it. A listing made a short while ago that holds every account of
        ``account_refs`` is reused (see ``_openbanking_cached_listing``). A token
        stored on the signatory stays stored even when the listing fails."""
        key = self._openbanking_listing_key(signatory_sudo, item_ref)
        listing = self._openbanking_cached_listing(key, account_refs)
        if listing is not None:
            return listing
        listed_date = fields.Datetime.now()
        try:
            with self.env.cr.savepoint():
                try:
                    listing = self._openbanking_list_item_accounts(
                        signatory_sudo, item_ref
                    )
                except (BridgeError, UserError) as error:
                    return error
        except Exception as error:
            _logger.exception("Listing the accounts of a Bridge item failed")
            return error
        with _listings_lock:
            _listings[key] = (time.monotonic(), listed_date, listing)
            _listings.move_to_end(key)
            while len(_listings) > LISTING_CACHE_SIZE:
                _listings.popitem(last=False)
        return listing

    @api.model
    def _openbanking_listing_key(self, signatory_sudo, item_ref):
        service_sudo = signatory_sudo.bank_id.openbanking_service_id
        return (
            self.env.cr.dbname,
            service_sudo.id,
            service_sudo.api_url,
            signatory_sudo.id,
            signatory_sudo.bridge_user_uuid,
            item_ref,
        )

    @api.model
    def _openbanking_cached_listing(self, key, account_refs):
        """Return the listing of ``key`` this worker made, or None when there is
        none to reuse.

        Bridge Connect sends one event per account of a new item, all of them
        already listed by Bridge when the first is sent. A listing is reused
        for ``LISTING_CACHE_SECONDS`` at most, when it holds every account of
        ``account_refs``, and when no deletion of the item, of an account or of
        the user was received since it was made (by any worker).
        """
        with _listings_lock:
            cached = _listings.get(key)
        if cached is None:
            return None
        stored_at, listed_date, listing = cached
        age = time.monotonic() - stored_at
        if not 0 <= age < LISTING_CACHE_SECONDS:
            return None
        if not set(account_refs) <= {str(account.id) for account in listing}:
            return None
        _dbname, service_id, _api_url, _signatory_id, user_uuid, item_ref = key
        domain = [
            ("service_id", "=", service_id),
            ("event_type", "in", DELETION_EVENTS),
            # second precision: a deletion of the same second counts
            ("received_date", ">=", listed_date),
        ]
        owner_domain = [("bridge_item_ref", "=", item_ref)]
        if user_uuid:
            owner_domain = expression.OR(
                [owner_domain, [("bridge_user_uuid", "=", user_uuid)]]
            )
        if self.sudo().search_count(expression.AND([domain, owner_domain]), limit=1):
            return None
        return listing

    @api.model
    def _openbanking_list_item_accounts(self, signatory_sudo, item_ref):
        """One listing of the item's accounts (all its pages), with the
        signatory's token; a stored token that Bridge refuses is dropped and the
        listing made once more with a new one."""
        client = signatory_sudo._openbanking_get_service()._openbanking_client()
        reused = bool(signatory_sudo._openbanking_get_stored_token())
        try:
            return client.list_accounts(
                signatory_sudo._openbanking_get_user_token(), item_ref
            )
        except BridgeAuthenticationError:
            if not reused:
                raise
            signatory_sudo._openbanking_invalidate_user_token()
            return client.list_accounts(
                signatory_sudo._openbanking_get_user_token(), item_ref
            )

    def _openbanking_signatory(self, batch):
        self.ensure_one()
        return batch.signatories.get(
            (self.service_id.bank_id.id, self.bridge_user_uuid),
            self.env["openbanking.signatory"].sudo(),
        )

    def _openbanking_process_one(self, batch):
        """Apply this event, in a savepoint if there is anything to apply;
        return its ``Outcome``, which the caller writes."""
        self.ensure_one()
        attempt = self.attempt_count + 1
        signatory_sudo = self._openbanking_signatory(batch)
        idle_message = self._openbanking_idle_message(signatory_sudo)
        if idle_message:
            return Outcome(
                "done", attempt, idle_message, signatory_id=signatory_sudo.id
            )
        try:
            with self.env.cr.savepoint():
                message, signatory_sudo, bank_accounts_sudo = self._openbanking_handle(
                    batch, signatory_sudo
                )
        except (BridgeUnavailableError, BridgeRateLimitError) as error:
            return self._openbanking_retry_outcome(attempt, error)
        except BridgeError as error:
            return Outcome("failed", attempt, self._openbanking_bridge_message(error))
        except UserError as error:
            return Outcome("failed", attempt, error.args[0])
        except CONCURRENCY_ERRORS:
            # a record it writes is being written by another transaction
            return self._openbanking_retry_outcome(attempt, None)
        except Exception:
            _logger.exception("Processing the webhook event %s failed", self.id)
            return Outcome(
                "failed",
                attempt,
                self.env._(
                    "Unexpected error while processing the event: see the server "
                    "log, then process it again."
                ),
            )
        return Outcome(
            "done",
            attempt,
            message,
            signatory_id=signatory_sudo.id,
            bank_account_ids=tuple(bank_accounts_sudo.ids),
        )

    def _openbanking_retry_outcome(self, attempt, error):
        reason = (
            self._openbanking_bridge_message(error)
            if error
            else self.env._("The records it changes were busy.")
        )
        if attempt >= MAX_ATTEMPTS:
            return Outcome(
                "failed",
                attempt,
                self.env._(
                    "Bridge still failed after %(count)s attempts: %(reason)s",
                    count=attempt,
                    reason=reason,
                ),
            )
        return Outcome(
            "retry",
            attempt,
            self.env._(
                "Attempt %(attempt)s of %(count)s failed, tried again later: "
                "%(reason)s",
                attempt=attempt,
                count=MAX_ATTEMPTS,
                reason=reason,
            ),
            next_attempt_date=fields.Datetime.now()
            + timedelta(minutes=RETRY_DELAYS_MINUTES[attempt - 1]),
        )

    def _openbanking_bridge_message(self, error):
        """A plain message for a Bridge error, nothing secret in it."""
        return self.service_id._openbanking_error_message(error)

    def _openbanking_idle_message(self, signatory_sudo):
        """The outcome's message when this event has nothing to apply, or None.

        Read from the stored event alone: nothing here can fail.
        """
        if self.event_type not in EVENT_HANDLERS:
            return self.env._("Nothing to do for this type of event.")
        if not signatory_sudo:
            # Bridge sends events for users deleted since, or of other banks.
            return self.env._(
                "No signatory of the bank %(bank)s has the Bridge user "
                "%(uuid)s: nothing done.",
                bank=self.service_id.bank_id.display_name,
                uuid=self.bridge_user_uuid,
            )
        return None

    def _openbanking_handle(self, batch, signatory_sudo):
        """Apply this event; return ``(message, signatory, bank accounts)``."""
        content = parse_event(self.payload).content
        handler = getattr(self, EVENT_HANDLERS[self.event_type])
        return handler(batch, content, signatory_sudo)

    # ------------------------------------------------------------------
    # The events
    # ------------------------------------------------------------------

    def _openbanking_handle_account_created(self, batch, content, signatory_sudo):
        """Link the Odoo bank account whose IBAN is the Bridge account's."""
        no_account = self.env["res.partner.bank"].sudo()
        listing = batch.listings.get((signatory_sudo.id, self.bridge_item_ref))
        if isinstance(listing, BridgeNotFoundError):
            return (
                self.env._(
                    "Bridge no longer knows the item %(item)s: nothing linked.",
                    item=content.item_id,
                ),
                signatory_sudo,
                no_account,
            )
        if isinstance(listing, Exception):
            raise listing
        bridge_account = next(
            (account for account in listing or () if account.id == content.account_id),
            None,
        )
        if bridge_account is None:
            return (
                self.env._(
                    "Bridge no longer lists the account %(account)s in the item "
                    "%(item)s: nothing linked.",
                    account=content.account_id,
                    item=content.item_id,
                ),
                signatory_sudo,
                no_account,
            )
        return self._openbanking_link(batch, signatory_sudo, bridge_account, listing)

    def _openbanking_link(self, batch, signatory_sudo, bridge_account, listing):
        company = self.service_id.company_id
        bank = self.service_id.bank_id
        no_account = self.env["res.partner.bank"].sudo()
        if not bridge_account.iban:
            return (
                self.env._(
                    "The Bridge account %(account)s is not linked: Bridge returned "
                    "no IBAN for it (null).",
                    account=bridge_account.id,
                ),
                signatory_sudo,
                no_account,
            )
        iban = format_iban(bridge_account.iban)
        matches_sudo = batch.bank_accounts.get((company.id, bridge_account.iban))
        if not matches_sudo:
            returned = ", ".join(
                self.env._(
                    "%(iban)s (account %(account)s)",
                    iban=format_iban(account.iban),
                    account=account.id,
                )
                if account.iban
                else self.env._("no IBAN (account %(account)s)", account=account.id)
                for account in listing
            )
            return (
                self.env._(
                    "The Bridge account %(account)s is not linked: its IBAN "
                    "%(iban)s is the IBAN of none of the bank accounts of "
                    "%(company)s.\nIBANs Bridge returned for the item %(item)s: "
                    "%(ibans)s.",
                    account=bridge_account.id,
                    iban=iban,
                    company=company.name,
                    item=bridge_account.item_id,
                    ibans=returned,
                ),
                signatory_sudo,
                no_account,
            )
        if len(matches_sudo) > 1:
            return (
                self.env._(
                    "The Bridge account %(account)s is not linked: its IBAN "
                    "%(iban)s is the IBAN of several bank accounts (%(accounts)s). "
                    "Keep only one of them, then process the event again.",
                    account=bridge_account.id,
                    iban=iban,
                    accounts=", ".join(matches_sudo.mapped("display_name")),
                ),
                signatory_sudo,
                matches_sudo,
            )
        bank_account_sudo = matches_sudo
        linked_sudo = (
            batch.linked.get((company.id, str(bridge_account.id)), no_account)
            - bank_account_sudo
        )
        if linked_sudo:
            return (
                self.env._(
                    "The Bridge account %(account)s is already linked to the bank "
                    "account %(linked)s: it is not moved to %(bank_account)s.",
                    account=bridge_account.id,
                    linked=", ".join(linked_sudo.mapped("display_name")),
                    bank_account=bank_account_sudo.display_name,
                ),
                signatory_sudo,
                linked_sudo | bank_account_sudo,
            )
        previous_ref = bank_account_sudo.bridge_account_ref
        previous_bank_ref = bank.bridge_bank_ref
        bank_account_sudo._openbanking_link_bridge_account(
            bridge_account, signatory_sudo
        )
        lines = [
            self.env._(
                "The Bridge account %(account)s (IBAN %(iban)s) is linked to the "
                "bank account %(bank_account)s.",
                account=bridge_account.id,
                iban=iban,
                bank_account=bank_account_sudo.display_name,
            )
        ]
        if previous_ref and previous_ref != str(bridge_account.id):
            lines.append(
                self.env._(
                    "It was linked to the Bridge account %(previous)s before.",
                    previous=previous_ref,
                )
            )
        if (
            previous_bank_ref
            and bridge_account.bank_id
            and previous_bank_ref != str(bridge_account.bank_id)
        ):
            lines.append(
                self.env._(
                    "The Bridge bank of %(bank)s changed from %(previous)s to %(new)s.",
                    bank=bank.display_name,
                    previous=previous_bank_ref,
                    new=bridge_account.bank_id,
                )
            )
        user = signatory_sudo.user_id
        if not bank_account_sudo._openbanking_has_right("manage", user=user):
            # Bridge is not blocked (seed step 4): every later action is.
            lines.append(
                self.env._(
                    "%(user)s, who added it at Bridge, holds no authorization to "
                    "manage this bank account in Odoo: every action on it stays "
                    "blocked until one is granted.",
                    user=user.name,
                )
            )
        batch.linked[(company.id, str(bridge_account.id))] = bank_account_sudo
        return "\n".join(lines), signatory_sudo, bank_account_sudo

    def _openbanking_handle_item_refreshed(self, batch, content, signatory_sudo):
        code = content.status_code
        description = (
            content.status_code_info
            or const.ITEM_STATUS_CODES.get(code)
            or self.env._("unknown status")
        )
        no_account = self.env["res.partner.bank"].sudo()
        if code == const.ITEM_STATUS_OK:
            signatory_sudo._openbanking_mark_connected()
            message = self.env._(
                "The item %(item)s is refreshed: %(signatory)s is connected.",
                item=content.item_id,
                signatory=signatory_sudo.display_name,
            )
        elif code in const.ITEM_STATUS_USER_ACTION_NEEDED:
            signatory_sudo._openbanking_mark_consent_needed(
                plaintext2html(
                    self.env._(
                        "Bridge needs a new consent for the bank %(bank)s (status "
                        "%(code)s: %(description)s). Open the webview of the bank "
                        "again.",
                        bank=signatory_sudo.bank_id.display_name,
                        code=code,
                        description=description,
                    )
                )
            )
            message = self.env._(
                "The item %(item)s needs %(user)s to open the webview again "
                "(Bridge status %(code)s: %(description)s).",
                item=content.item_id,
                user=signatory_sudo.user_id.name,
                code=code,
                description=description,
            )
        else:
            message = self.env._(
                "The item %(item)s was refreshed with the Bridge status %(code)s "
                "(%(description)s): nothing to do.",
                item=content.item_id,
                code=code,
                description=description,
            )
        return message, signatory_sudo, no_account

    def _openbanking_handle_account_deleted(self, batch, content, signatory_sudo):
        bank_accounts_sudo = self.env[
            "res.partner.bank"
        ]._openbanking_search_company_accounts(
            self.service_id.company_id,
            [("bridge_account_ref", "=", str(content.account_id))],
        )
        bank_accounts_sudo._openbanking_unlink_bridge_account()
        return (
            self._openbanking_unlinked_message(
                self.env._(
                    "the Bridge account %(account)s", account=content.account_id
                ),
                bank_accounts_sudo,
            ),
            signatory_sudo,
            bank_accounts_sudo,
        )

    def _openbanking_handle_item_deleted(self, batch, content, signatory_sudo):
        bank_accounts_sudo = self.env[
            "res.partner.bank"
        ]._openbanking_search_company_accounts(
            self.service_id.company_id,
            [("bridge_item_ref", "=", str(content.item_id))],
        )
        bank_accounts_sudo._openbanking_unlink_bridge_account()
        message = self._openbanking_unlinked_message(
            self.env._("the Bridge item %(item)s", item=content.item_id),
            bank_accounts_sudo,
        )
        signatory_sudo.message_post(
            body=plaintext2html(message), subtype_xmlid="mail.mt_note"
        )
        return message, signatory_sudo, bank_accounts_sudo

    def _openbanking_handle_user_deleted(self, batch, content, signatory_sudo):
        bank_accounts_sudo = self.env[
            "res.partner.bank"
        ]._openbanking_search_company_accounts(
            self.service_id.company_id,
            [("bridge_signatory_id", "=", signatory_sudo.id)],
        )
        bank_accounts_sudo._openbanking_unlink_bridge_account()
        message = "\n".join(
            (
                self.env._(
                    "Bridge deleted its user %(uuid)s: %(signatory)s is no longer "
                    "registered at Bridge.",
                    uuid=content.user_uuid,
                    signatory=signatory_sudo.display_name,
                ),
                self._openbanking_unlinked_message(
                    self.env._("its items"), bank_accounts_sudo
                ),
            )
        )
        signatory_sudo._openbanking_forget_bridge_user(plaintext2html(message))
        return message, signatory_sudo, bank_accounts_sudo

    def _openbanking_unlinked_message(self, what, bank_accounts_sudo):
        if not bank_accounts_sudo:
            return self.env._("No bank account was linked to %(what)s.", what=what)
        return self.env._(
            "Bank accounts no longer linked to %(what)s: %(accounts)s.",
            what=what,
            accounts=", ".join(bank_accounts_sudo.mapped("display_name")),
        )

    # ------------------------------------------------------------------
    # Retention (the cleaning cron)
    # ------------------------------------------------------------------

    @api.model
    def _cron_clean_events(self, batch_size=CLEAN_BATCH_SIZE):
        """Delete the done and ignored events older than their web service's
        retention period."""
        services_sudo = (
            self.env["openbanking.web.service"]
            .sudo()
            .with_context(active_test=False)
            .search([])
        )
        if not services_sudo:
            return
        now = fields.Datetime.now()
        domain = expression.AND(
            [
                [("state", "in", ("done", "ignored"))],
                expression.OR(
                    [
                        (
                            ("service_id", "=", service_sudo.id),
                            (
                                "processed_date",
                                "<",
                                now - timedelta(days=service_sudo.event_retention_days),
                            ),
                        )
                        for service_sudo in services_sudo
                    ]
                ),
            ]
        )
        events_sudo = self.sudo().search(domain, limit=batch_size)
        events_sudo.unlink()
        self.env["ir.cron"]._notify_progress(
            done=len(events_sudo), remaining=self.sudo().search_count(domain)
        )


def _as_ref(value):
    """A Bridge id (or type) as stored in a Char field, or None. PostgreSQL text
    holds no NUL character, which JSON can escape."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return str(value).replace("\x00", "") or None
