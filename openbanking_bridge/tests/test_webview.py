# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta
from unittest.mock import patch

from cryptography.fernet import Fernet
from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import SQL, config

from odoo.addons.openbanking_bridge import const
from odoo.addons.openbanking_bridge.bridge import BridgeClient, BridgeNotFoundError

from bridge_emulator import BridgeEmulator

from .common import OpenbankingCase

V2_AUTHENTICATE = "POST /v2/authenticate"
V3_AUTHENTICATE = "POST /v3/aggregation/authorization/token"


class BridgeEmulatorCase(OpenbankingCase):
    """An Open Banking case whose web service speaks to a Bridge emulator on
    loopback, and whose secrets are encrypted with a key given as the server
    option (no key file is written)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emu = cls.enterClassContext(BridgeEmulator())
        cls.key = Fernet.generate_key().decode()
        cls.startClassPatcher(
            patch.dict(config.options, {"openbanking_bridge_keys": cls.key})
        )
        # no waiting between the client's retries
        cls.startClassPatcher(patch.object(BridgeClient, "_backoff"))
        cls.service.write(
            {
                "api_url": cls.emu.url,
                "client_id": cls.emu.client_id,
                "client_secret": cls.emu.client_secret,
            }
        )

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo's test guard lets loopback requests through, but compares the
        # timeout with a number; the client's is a (connect, read) pair.
        if isinstance(kw.get("timeout"), tuple):
            kw["timeout"] = max(kw["timeout"])
        return super()._request_handler(s, r, **kw)

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


@tagged("post_install", "-at_install")
class TestUserToken(BridgeEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.signatory = cls.env["openbanking.signatory"].create(
            {"bank_id": cls.bank.id, "user_id": cls.user.id}
        )

    def _register_at_bridge(self):
        """Make the signatory's user exist at Bridge, as a first webview does."""
        external_user_id = self.signatory._openbanking_external_user_id()
        user = self.emu.add_user(external_user_id=external_user_id)
        return user["uuid"]

    def test_client_per_configuration(self):
        client = self.service._openbanking_client()
        self.assertIsInstance(client, BridgeClient)
        self.assertEqual(client.base_url, self.emu.url)
        self.assertEqual(client.version, const.API_VERSION_V3)
        self.assertEqual(client.timeout, (5, 30))
        # the same client (and its HTTP session) while nothing changes
        self.assertIs(self.service._openbanking_client(), client)
        self.assertIs(self.service.with_user(self.user)._openbanking_client(), client)
        self.service.name = "Bridge renamed"
        self.assertIs(self.service._openbanking_client(), client)
        # a changed configuration gives a new client
        self.service.api_mode = "v2_external"
        client_v2 = self.service._openbanking_client()
        self.assertIsNot(client_v2, client)
        self.assertEqual(client_v2.version, const.API_VERSION_V2)
        self.service.client_secret = "another-secret"
        self.assertIsNot(self.service._openbanking_client(), client_v2)

    def test_external_user_id_is_stable(self):
        db_uuid = self.env["ir.config_parameter"].get_param("database.uuid")
        external_user_id = self.signatory._openbanking_external_user_id()
        self.assertEqual(
            external_user_id, f"odoo-{db_uuid}-signatory-{self.signatory.id}"
        )
        self.assertEqual(
            self.signatory.with_user(self.user)._openbanking_external_user_id(),
            external_user_id,
        )

    def test_token_reused_within_timeout_then_renewed(self):
        user_uuid = self._register_at_bridge()
        signatory = self.signatory.with_user(self.user)
        token = signatory._openbanking_get_user_token()
        self.assertEqual(self.emu.count(V3_AUTHENTICATE), 1)
        self.assertEqual(self.emu.user(user_uuid)["uuid"], user_uuid)
        # stored encrypted
        stored = self._read_raw(self.signatory, "bridge_access_token")
        self.assertNotEqual(stored, token)
        self.assertEqual(Fernet(self.key).decrypt(stored.encode()).decode(), token)
        # reused within the bank's connection timeout (15 minutes)
        start = fields.Datetime.now()
        with freeze_time(start + timedelta(minutes=14)):
            self.assertEqual(signatory._openbanking_get_user_token(), token)
        self.assertEqual(self.emu.count(V3_AUTHENTICATE), 1)
        # past it, a new authentication
        with freeze_time(start + timedelta(minutes=16)):
            new_token = signatory._openbanking_get_user_token()
            self.assertNotEqual(new_token, token)
            self.assertEqual(self.emu.count(V3_AUTHENTICATE), 2)
            self.assertGreater(self.signatory.bridge_token_date, start)

    def test_token_renewed_before_bridge_expiry(self):
        self.bank.openbanking_timeout = 24 * 60
        self._register_at_bridge()
        signatory = self.signatory.with_user(self.user)
        token = signatory._openbanking_get_user_token()
        expires_at = self.signatory.bridge_token_expires_at
        # Bridge's tokens live 2 hours; the last 5 minutes are not used
        with freeze_time(expires_at - timedelta(minutes=6)):
            self.assertEqual(signatory._openbanking_get_user_token(), token)
        self.assertEqual(self.emu.count(V3_AUTHENTICATE), 1)
        with freeze_time(expires_at - timedelta(minutes=4)):
            self.assertNotEqual(signatory._openbanking_get_user_token(), token)
        self.assertEqual(self.emu.count(V3_AUTHENTICATE), 2)

    def test_identity_by_uuid_once_known(self):
        user_uuid = self._register_at_bridge()
        self.signatory.sudo().bridge_user_uuid = user_uuid
        # the external id is not used any more: a uuid Bridge does not know fails
        self.emu.reset()
        with self.assertRaises(BridgeNotFoundError):
            self.signatory._openbanking_get_user_token()
        self.emu.add_user(uuid=user_uuid)
        self.assertTrue(self.signatory._openbanking_get_user_token())

    def test_v2_password_authenticates_with_email_and_password(self):
        self.service.api_mode = "v2_password"
        user = self.emu.add_user(email=self.signatory.email, password="s3cret-pass")
        signatory = self.signatory.with_user(self.user)
        with self.assertRaisesMessage(UserError, "type the password again"):
            signatory._openbanking_get_user_token()
        self.signatory.sudo().bridge_password = self.signatory._openbanking_encrypt(
            "s3cret-pass"
        )
        self.assertTrue(signatory._openbanking_get_user_token())
        self.assertEqual(self.emu.count(V2_AUTHENTICATE), 1)
        # v2 gives the user's uuid: kept
        self.assertEqual(self.signatory.bridge_user_uuid, user["uuid"])

    def test_invalidate_and_undecryptable_token(self):
        self._register_at_bridge()
        signatory = self.signatory.with_user(self.user)
        token = signatory._openbanking_get_user_token()
        signatory._openbanking_invalidate_user_token()
        self.assertFalse(self.signatory.bridge_access_token)
        self.assertFalse(self.signatory.bridge_token_date)
        token_2 = signatory._openbanking_get_user_token()
        self.assertNotEqual(token_2, token)
        self.assertEqual(self.emu.count(V3_AUTHENTICATE), 2)
        # a token encrypted with a key since lost is only a cache: renewed
        self.signatory.sudo().bridge_access_token = (
            Fernet(Fernet.generate_key()).encrypt(b"old-token").decode()
        )
        with self.assertLogs(
            "odoo.addons.openbanking_bridge.models.openbanking_signatory", "WARNING"
        ):
            token_3 = signatory._openbanking_get_user_token()
        self.assertNotIn(token_3, (token, token_2, "old-token"))
        self.assertEqual(self.emu.count(V3_AUTHENTICATE), 3)
