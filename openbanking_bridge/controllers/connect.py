# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import http
from odoo.http import request

from ..models.openbanking_web_service import CONNECT_CALLBACK_ROUTE


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
        webhooks, signed, are the reliable signal. No query value is echoed.
        """
        return request.render(
            "openbanking_bridge.connect_done",
            {"success": success == "true"},
            headers={
                "Cache-Control": "no-store",
                "X-Robots-Tag": "noindex",
            },
        )
