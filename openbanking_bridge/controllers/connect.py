# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from odoo import http
from odoo.http import request

from ..models.openbanking_web_service import CONNECT_CALLBACK_ROUTE

_logger = logging.getLogger(__name__)
NO_CACHE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}


class OpenbankingConnectController(http.Controller):
    @http.route(
        CONNECT_CALLBACK_ROUTE,
        type="http",
        auth="public",
        methods=["GET"],
        sitemap=False,
    )
    def connect_done(self, success=None, **_kwargs):
        """Where Bridge Connect sends the browser back, with ``user_uuid``,
        ``item_id``, ``success`` and, on a failure, ``step``.

        Public and read-only: it only says whether the connection succeeded and
        that the window can be closed. It trusts and writes nothing: the
        webhooks, signed, are the reliable signal. No query value is echoed,
        and an error is answered with a bare page, never with its message.
        """
        try:
            response = request.render(
                "openbanking_bridge.connect_done",
                {"success": success == "true"},
                headers=NO_CACHE_HEADERS,
            )
            # rendered here, so that an error is caught here
            response.flatten()
        except Exception:
            _logger.exception("The Connect callback page failed; answered 500.")
            return request.make_response(
                "The bank connection page is unavailable. You can close this window.",
                headers=[
                    ("Content-Type", "text/plain; charset=utf-8"),
                    *NO_CACHE_HEADERS.items(),
                ],
                status=500,
            )
        return response
