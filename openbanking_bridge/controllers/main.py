# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import functools
import logging

import psycopg2
from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request

from .. import const
from ..models.openbanking_web_service import WEBHOOK_ROUTE
from ..models.openbanking_webhook_event import MAX_BODY_SIZE
from ..tools import cron

_logger = logging.getLogger(__name__)


class OpenbankingBridgeController(http.Controller):
    @http.route(
        [WEBHOOK_ROUTE, f"{WEBHOOK_ROUTE}/<string:calling_code>"],
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
        # werkzeug refuses to read more of the body than this (413)
        max_content_length=MAX_BODY_SIZE,
    )
    def openbanking_bridge_webhook(self, calling_code=None, **kwargs):
        """Receive a Bridge webhook: answer as soon as it is stored.

        The signature is checked on the raw body before anything is parsed or
        written; the processing (which calls Bridge) is left to a cron.

        Public: every answer is a fixed short text. An unexpected error is
        logged and answered with a bare 500 (Bridge sends the event again),
        never with its message, which may name records; a concurrency error
        is left to Odoo's HTTP layer, which runs the request again and answers
        a bare 500 if it keeps failing.
        """
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BODY_SIZE:
            return self._openbanking_answer(413, "Payload too large")
        try:
            # cached: the HTTP layer may run this again after a serialization
            # failure
            body = httprequest.get_data(cache=True)
        except RequestEntityTooLarge:
            return self._openbanking_answer(413, "Payload too large")
        Event = request.env["openbanking.webhook.event"]
        try:
            # one INSERT inside, in plain SQL: nothing is left for a flush
            # after the answer to fail on
            reception = Event._openbanking_receive(
                calling_code,
                body,
                httprequest.headers.get(const.WEBHOOK_SIGNATURE_HEADER),
            )
        except psycopg2.OperationalError:
            raise
        except Exception:
            _logger.exception("Webhook delivery failed; answered 500.")
            # this request writes nothing else: rather than a savepoint (two
            # more round trips on every delivery), its transaction is dropped
            request.env.cr.rollback()
            return self._openbanking_answer(500, "Internal error")
        response = self._openbanking_answer(reception.status, reception.reason)
        if reception.wake_cron_workers:
            # Once the answer is sent, its transaction committed before: Bridge
            # does not wait for this.
            response.call_on_close(
                functools.partial(cron.wake_cron_workers, request.env.cr.dbname)
            )
        return response

    @http.route(
        [WEBHOOK_ROUTE, f"{WEBHOOK_ROUTE}/<string:calling_code>"],
        type="http",
        auth="public",
        methods=["GET"],
        save_session=False,
    )
    def openbanking_bridge_webhook_check(self, calling_code=None, **kwargs):
        """Say the webhook URL is reachable: an admin's check, through the same
        routing and database selection as Bridge's POST; nothing is read or
        written."""
        return self._openbanking_answer(
            200, "Bridge webhook endpoint: POST signed events here."
        )

    @staticmethod
    def _openbanking_answer(status, reason):
        return request.make_response(
            reason,
            headers=[("Content-Type", "text/plain; charset=utf-8")],
            status=status,
        )
