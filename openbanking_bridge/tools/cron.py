# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Waking Odoo's cron workers cheaply, for the webhook route.

The cron workers listen on the ``postgres`` database; ``ir.cron._notifydb``
wakes them with a NOTIFY through a new connection to it each time (Odoo's pool
keeps none to ``postgres``). Each process here keeps that connection instead.
"""

import logging
import os
import threading

import psycopg2

from odoo.sql_db import connection_info_for
from odoo.tools import SQL

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

_logger = logging.getLogger(__name__)

# {process id: psycopg2 connection to the "postgres" database}
_connections = {}
_lock = threading.Lock()


def wake_cron_workers(dbname):
    """Wake the cron workers of ``dbname``, as ``ir.cron._notifydb`` does.

    A broken kept connection (a restarted server) is made again once. Should
    that fail too, the triggers stay committed: the cron workers find them
    when they next look, at most a minute later.
    """
    with _lock:
        for attempt in (1, 2):
            connection = _connections.get(os.getpid())
            try:
                if connection is None or connection.closed:
                    # a forked worker never uses its parent's connection
                    _connections.clear()
                    _name, connection_info = connection_info_for("postgres")
                    connection = psycopg2.connect(**connection_info)
                    connection.autocommit = True
                    _connections[os.getpid()] = connection
                query = SQL(
                    "SELECT %s('cron_trigger', %s)",
                    SQL.identifier(ODOO_NOTIFY_FUNCTION),
                    dbname,
                )
                with connection.cursor() as cursor:
                    cursor.execute(query.code, query.params)
                return
            except psycopg2.Error as error:
                _connections.pop(os.getpid(), None)
                if connection is not None and not connection.closed:
                    connection.close()
                if attempt == 2:
                    _logger.warning(
                        "Could not wake the cron workers (%s): they will find "
                        "the new webhook events when they next look.",
                        error,
                    )
