# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import os
import shutil
import stat
import tempfile
import threading
from unittest.mock import patch

from cryptography.fernet import Fernet, InvalidToken

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import SQL, config

from odoo.addons.openbanking_bridge.tools import crypto

from .common import OpenbankingCase

KEY_DIRECTORY = "openbanking_bridge"
ACTION = "openbanking_bridge.openbanking_web_service_action_reencrypt_secrets"


@tagged("post_install", "-at_install")
class TestCrypto(OpenbankingCase):
    """Encryption at rest, in a data directory of the test's own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.signatory = cls.env["openbanking.signatory"].create(
            {"bank_id": cls.bank.id, "user_id": cls.user.id}
        )
        cls.other_signatory = cls.env["openbanking.signatory"].create(
            {"bank_id": cls.bank.id, "user_id": cls.other_user.id}
        )

    def setUp(self):
        super().setUp()
        self.data_dir = tempfile.mkdtemp(prefix="obb-crypto-")
        self.addCleanup(shutil.rmtree, self.data_dir)
        self.key_dir = os.path.join(self.data_dir, KEY_DIRECTORY)
        self.key_path = os.path.join(self.key_dir, f"{self.env.cr.dbname}.key")
        self.startPatcher(
            patch.dict(
                config.options,
                {"data_dir": self.data_dir, "openbanking_bridge_keys": ""},
            )
        )

    def _file_keys(self):
        with open(self.key_path, encoding="ascii") as key_file:
            return [line for line in key_file.read().splitlines() if line[:1] != "#"]

    def _set_option(self, *keys):
        config.options["openbanking_bridge_keys"] = ",".join(keys)

    def _read_raw(self, signatory):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT bridge_password, bridge_access_token "
                "FROM openbanking_signatory WHERE id = %s",
                signatory.id,
            )
        )
        return self.env.cr.fetchone()

    def _store_secrets(self, signatory, password, token):
        Signatory = self.env["openbanking.signatory"]
        signatory.sudo().write(
            {
                "bridge_password": Signatory._openbanking_encrypt(password),
                "bridge_access_token": Signatory._openbanking_encrypt(token),
            }
        )

    def test_key_file_created_on_first_use(self):
        self.assertFalse(os.path.exists(self.key_path))
        ciphertext = crypto.encrypt("pa55word", dbname=self.env.cr.dbname)
        mode = os.stat(self.key_path).st_mode
        self.assertEqual(stat.S_IMODE(mode), 0o600)
        [key] = self._file_keys()
        self.assertEqual(Fernet(key).decrypt(ciphertext.encode()), b"pa55word")
        self.assertEqual(
            crypto.decrypt(ciphertext, dbname=self.env.cr.dbname), "pa55word"
        )
        # kept, not replaced
        crypto.encrypt("again", dbname=self.env.cr.dbname)
        self.assertEqual(self._file_keys(), [key])
        self.assertEqual(os.listdir(self.key_dir), [f"{self.env.cr.dbname}.key"])

    def test_key_file_creation_race_safe(self):
        barrier = threading.Barrier(8)
        dbname = self.env.cr.dbname
        ciphertexts = []

        def first_use():
            barrier.wait()
            ciphertexts.append(crypto.encrypt("same", dbname=dbname))

        threads = [threading.Thread(target=first_use) for _i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        [key] = self._file_keys()
        self.assertEqual(len(ciphertexts), 8)
        for ciphertext in ciphertexts:
            self.assertEqual(Fernet(key).decrypt(ciphertext.encode()), b"same")
        # no temporary file left behind
        self.assertEqual(os.listdir(self.key_dir), [f"{self.env.cr.dbname}.key"])

    def test_server_option_keys(self):
        new_key, old_key = Fernet.generate_key(), Fernet.generate_key()
        old_ciphertext = Fernet(old_key).encrypt(b"old secret").decode()
        self._set_option(new_key.decode(), f" {old_key.decode()} ")
        ciphertext = crypto.encrypt("new secret", dbname=self.env.cr.dbname)
        # the first key encrypts, all decrypt
        self.assertEqual(Fernet(new_key).decrypt(ciphertext.encode()), b"new secret")
        self.assertEqual(
            crypto.decrypt(old_ciphertext, dbname=self.env.cr.dbname), "old secret"
        )
        self.assertFalse(os.path.exists(self.key_path))

    def test_unusable_keys(self):
        self._set_option("not-a-fernet-key")
        Signatory = self.env["openbanking.signatory"].with_user(self.user)
        with (
            self.assertLogs(
                "odoo.addons.openbanking_bridge.models.openbanking_signatory", "ERROR"
            ) as logs,
            self.assertRaisesMessage(
                UserError, "The encryption keys of Open Banking cannot be used."
            ),
        ):
            Signatory._openbanking_encrypt("secret")
        self.assertNotIn("not-a-fernet-key", "\n".join(logs.output))

    def test_undecryptable_password_asks_to_type_it_again(self):
        lost_key_ciphertext = Fernet(Fernet.generate_key()).encrypt(b"pw").decode()
        self.signatory.sudo().bridge_password = lost_key_ciphertext
        with self.assertRaises(crypto.SecretDecryptionError):
            crypto.decrypt(lost_key_ciphertext, dbname=self.env.cr.dbname)
        signatory = self.signatory.with_user(self.user)
        self.assertFalse(signatory._openbanking_has_usable_password())
        with self.assertRaisesMessage(UserError, "type the password again"):
            signatory._openbanking_get_password()

    def test_reencrypt_with_key_file(self):
        self._store_secrets(self.signatory, "password-1", "token-1")
        self._store_secrets(self.other_signatory, "password-2", "token-2")
        [old_key] = self._file_keys()
        before = self._read_raw(self.signatory)
        # a secret whose key was lost cannot be re-encrypted: cleared
        self.other_signatory.sudo().bridge_access_token = (
            Fernet(Fernet.generate_key()).encrypt(b"lost").decode()
        )
        messages_before = self.signatory.message_ids
        action = (
            self.env.ref(ACTION)
            .with_user(self.admin)
            .with_context(
                active_model="openbanking.web.service",
                active_id=self.service.id,
                active_ids=self.service.ids,
            )
            .run()
        )
        self.assertEqual(action["tag"], "display_notification")
        message = action["params"]["message"]
        self.assertIn("Secrets re-encrypted under a new key: 3.", message)
        self.assertIn("no current key decrypts them: 1.", message)
        # a new key first in the file, the old one kept until the commit
        new_key, kept_key = self._file_keys()
        self.assertEqual(kept_key, old_key)
        after = self._read_raw(self.signatory)
        for old_ciphertext, ciphertext, plain in zip(
            before, after, (b"password-1", b"token-1"), strict=True
        ):
            self.assertNotEqual(ciphertext, old_ciphertext)
            self.assertEqual(Fernet(new_key).decrypt(ciphertext.encode()), plain)
        self.assertEqual(
            self._read_raw(self.other_signatory)[1], None, "the lost one is cleared"
        )
        self.assertEqual(self.other_signatory._openbanking_get_password(), "password-2")
        # nothing noted in the chatter: no value changed
        self.assertEqual(self.signatory.message_ids, messages_before)
        # once committed, the old key is dropped from the file
        self.env.cr.postcommit.run()
        self.assertEqual(self._file_keys(), [new_key])
        self.assertEqual(stat.S_IMODE(os.stat(self.key_path).st_mode), 0o600)
        with self.assertRaises(InvalidToken):
            Fernet(old_key).decrypt(after[0].encode())
        self.assertEqual(self.signatory._openbanking_get_password(), "password-1")

    def test_reencrypt_leaves_other_databases_keys(self):
        other_ciphertext = crypto.encrypt("other", dbname="obb_other_database")
        other_path = os.path.join(self.key_dir, "obb_other_database.key")
        with open(other_path, encoding="ascii") as other_file:
            other_keys = other_file.read()
        self._store_secrets(self.signatory, "password-1", "token-1")
        self.env["openbanking.signatory"].with_user(
            self.admin
        )._openbanking_reencrypt_secrets()
        self.env.cr.postcommit.run()
        with open(other_path, encoding="ascii") as other_file:
            self.assertEqual(other_file.read(), other_keys)
        self.assertEqual(
            crypto.decrypt(other_ciphertext, dbname="obb_other_database"), "other"
        )

    def test_reencrypt_with_server_option(self):
        old_key, new_key = Fernet.generate_key(), Fernet.generate_key()
        self._set_option(old_key.decode())
        self._store_secrets(self.signatory, "password-1", "token-1")
        self._set_option(new_key.decode(), old_key.decode())
        action = (
            self.env["openbanking.signatory"]
            .with_user(self.admin)
            ._openbanking_reencrypt_secrets()
        )
        self.assertIn(
            "remove the other keys from the option", action["params"]["message"]
        )
        password, token = self._read_raw(self.signatory)
        self.assertEqual(Fernet(new_key).decrypt(password.encode()), b"password-1")
        self.assertEqual(Fernet(new_key).decrypt(token.encode()), b"token-1")
        self.env.cr.postcommit.run()
        self.assertFalse(os.path.exists(self.key_path))

    def test_reencrypt_wipes_typed_passwords(self):
        wizard = (
            self.env["res.bank.webview"]
            .with_user(self.user)
            .create({"bank_id": self.bank.id, "password": "typed-one"})
        )
        self.assertTrue(wizard.sudo().password_encrypted)
        self.env["openbanking.signatory"].with_user(
            self.admin
        )._openbanking_reencrypt_secrets()
        self.assertFalse(wizard.sudo().password_encrypted)

    def test_reencrypt_administrators_only(self):
        self.assertIn(self.env.ref("base.group_system"), self.env.ref(ACTION).groups_id)
        with self.assertRaises(AccessError):
            self.env.ref(ACTION).with_user(self.manager).with_context(
                active_model="openbanking.web.service", active_id=self.service.id
            ).run()
        with self.assertRaisesMessage(AccessError, "Only administrators"):
            self.env["openbanking.signatory"].with_user(
                self.manager
            )._openbanking_reencrypt_secrets()
