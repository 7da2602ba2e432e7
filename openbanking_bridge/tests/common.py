# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from contextlib import contextmanager
from unittest.mock import patch

from cryptography.fernet import Fernet

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user
from odoo.tools import SQL, config

from odoo.addons.openbanking_bridge.bridge import BridgeClient

from bridge_emulator import BridgeEmulator

USER_GROUP = "openbanking_bridge.group_openbanking_user"
MANAGER_GROUP = "openbanking_bridge.group_openbanking_manager"

# Endpoint names of the emulator's counters (bridge_emulator.ENDPOINTS)
V2_AUTHENTICATE = "POST /v2/authenticate"
V2_CONNECT = "POST /v2/connect/items/add"
V2_GET_ACCOUNT = "GET /v2/accounts/{account_id}"
V2_GET_ITEM = "GET /v2/items/{item_id}"
V2_LIST_ACCOUNTS = "GET /v2/accounts"
V2_REFRESH = "POST /v2/items/{item_id}/refresh"
V3_AUTHENTICATE = "POST /v3/aggregation/authorization/token"
V3_CONNECT = "POST /v3/aggregation/connect-sessions"
V3_GET_ACCOUNT = "GET /v3/aggregation/accounts/{account_id}"
V3_LIST_ACCOUNTS = "GET /v3/aggregation/accounts"


class BridgeEmulatorMixin:
    """For test classes that speak to a Bridge emulator on loopback: their
    secrets are encrypted with a key given as the server option (no key file is
    written) and the client's retries do not wait."""

    @classmethod
    def _start_bridge_emulator(cls, **options):
        """Start the class's emulator (``cls.emu``); ``options`` go to it."""
        cls.emu = cls.enterClassContext(BridgeEmulator(**options))
        cls.key = Fernet.generate_key().decode()
        cls.startClassPatcher(
            patch.dict(config.options, {"openbanking_bridge_keys": cls.key})
        )
        cls.startClassPatcher(patch.object(BridgeClient, "_backoff"))
        return cls.emu

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo's test guard lets loopback requests through, but compares the
        # timeout with a number; the client's is a (connect, read) pair.
        if isinstance(kw.get("timeout"), tuple):
            kw["timeout"] = max(kw["timeout"])
        return super()._request_handler(s, r, **kw)


class OpenbankingCase(TransactionCase):
    """Users of each level, an Open Banking bank with its web service, a second
    bank, and a bank account."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        # the messages asserted are the English ones, whatever the database's
        # languages (English may be inactive in a database made in French)
        cls.env["res.lang"]._activate_lang("en_US")
        cls.env = cls.env(context=dict(cls.env.context, lang="en_US"))
        cls.user = new_test_user(
            cls.env,
            login="ob_user",
            name="Olivia User",
            email="olivia.user@example.com",
            groups=USER_GROUP,
        )
        cls.other_user = new_test_user(
            cls.env,
            login="ob_other",
            name="Oscar Other",
            email="oscar.other@example.com",
            groups=USER_GROUP,
        )
        cls.manager = new_test_user(
            cls.env,
            login="ob_manager",
            name="Maud Manager",
            email="maud.manager@example.com",
            groups=MANAGER_GROUP,
        )
        cls.admin = new_test_user(
            cls.env,
            login="ob_admin",
            name="Ada Admin",
            email="ada.admin@example.com",
            groups=f"{MANAGER_GROUP},base.group_system",
        )
        # whatever the database holds (demo data), the tests start with one
        # active web service
        cls.env["openbanking.web.service"].search([]).action_archive()
        cls.bank = cls.env["res.bank"].create(
            {
                "name": "Banque Test Bridge",
                "bic": "BTSTFRPPXXX",
                "openbanking_type": "open_banking",
                "openbanking_timeout": 15,
            }
        )
        cls.bank_2 = cls.env["res.bank"].create(
            {
                "name": "Seconde Banque",
                "bic": "BSECFRPPXXX",
                "openbanking_type": "open_banking",
                "openbanking_timeout": 30,
            }
        )
        cls.service = cls.env["openbanking.web.service"].create(
            {
                "name": "Bridge Test",
                "bank_id": cls.bank.id,
                "client_id": "test-client-id",
                "client_secret": "test-client-secret",
                "webhook_secret": "test-webhook-secret",
            }
        )
        cls.partner = cls.env["res.partner"].create(
            {"name": "Société Test", "is_company": True}
        )
        cls.account = cls.env["res.partner.bank"].create(
            {
                "acc_number": "FR76 9999 9000 0100 0876 5432 178",
                "partner_id": cls.partner.id,
                "bank_id": cls.bank.id,
            }
        )

    def assertFieldRefused(self, record, fname, value):
        """``fname`` is out of reach of ``record``'s user through every ORM entry
        point: not described, not read, searched, ordered, grouped, written (with
        ``value``) nor exported."""
        self.assertNotIn(fname, record.fields_get())
        for name, args in (
            ("read", ([fname],)),
            ("search_read", ([], [fname])),
            ("web_read", ({fname: {}},)),
            ("web_search_read", ([], {fname: {}})),
            ("search", ([(fname, "!=", False)],)),
            ("search_count", ([(fname, "=", "x")],)),
            ("search_fetch", ([], ["id"], 0, None, fname)),
            ("read_group", ([], ["id:count"], [fname])),
            ("read_group", ([], [f"{fname}:count_distinct"], [])),
            ("web_read_group", ([], ["id:count"], [fname])),
            ("write", ({fname: value},)),
            ("export_data", ([fname],)),
        ):
            with self.assertRaises(AccessError, msg=name):
                getattr(record, name)(*args)

    @contextmanager
    def assertRaisesMessage(self, exception, message):
        """Check that ``exception`` is raised with ``message`` in its text.

        Unlike unittest's ``assertRaisesRegex``, it goes through Odoo's
        ``assertRaises``, which rolls the failed operation back to a savepoint.
        """
        with self.assertRaises(exception) as catcher:
            yield catcher
        self.assertIn(message, str(catcher.exception))


class BridgeEmulatorCase(BridgeEmulatorMixin, OpenbankingCase):
    """An Open Banking case whose web service speaks to a Bridge emulator on
    loopback, and whose secrets are encrypted with a key given as the server
    option (no key file is written)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_bridge_emulator()
        cls.service.write(
            {
                "api_url": cls.emu.url,
                "client_id": cls.emu.client_id,
                "client_secret": cls.emu.client_secret,
            }
        )

    def setUp(self):
        super().setUp()
        self.emu.reset()

    def _read_raw(self, record, fname):
        """A column as stored, read with SQL (what a database dump shows)."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM %s WHERE id = %s",
                SQL.identifier(fname),
                SQL.identifier(record._table),
                record.id,
            )
        )
        return self.env.cr.fetchone()[0]
