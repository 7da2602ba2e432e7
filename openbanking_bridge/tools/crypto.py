# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Encryption at rest of the secrets the addon keeps (Fernet, from ``cryptography``).

The keys are never in the database, so that a dump of the database alone reveals no
secret. They come from, in this order:

1. the server option ``openbanking_bridge_keys`` (Odoo configuration file or
   command line): comma-separated Fernet keys; the first encrypts, all decrypt;
2. else the database's key file ``<data_dir>/openbanking_bridge/<database>.key``:
   one key per line, the first encrypts, all decrypt. It is created on first use,
   readable by the Odoo user only (mode 0600). One file per database, so that
   rotating the key of one database leaves the others alone; a copy of the
   database under another name starts without it (its secrets are then asked for
   again) unless the file is copied under the new name.

The keys are read on every use (a few bytes): a key added by one worker is seen
by the others at once. Works with cryptography 3.4.8, Odoo 18's pin.
"""

import logging
import os
import stat
import tempfile

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from odoo.tools import config

_logger = logging.getLogger(__name__)

KEYS_OPTION = "openbanking_bridge_keys"
KEY_DIRECTORY = "openbanking_bridge"
KEY_FILE_HEADER = (
    "# Open Banking (Bridge) encryption keys, one per line: the first encrypts,\n"
    "# all decrypt. Keep a copy apart from the database backups: without it, the\n"
    "# stored Bridge passwords cannot be decrypted.\n"
)
SOURCE_OPTION = "option"
SOURCE_FILE = "file"


class SecretKeyError(Exception):
    """The keys cannot be read or are not valid Fernet keys."""


class SecretDecryptionError(Exception):
    """A ciphertext does not decrypt with any current key (key changed or lost)."""


def key_file_path(dbname):
    """The key file of database ``dbname``."""
    if not dbname or os.sep in dbname or dbname.startswith("."):
        raise SecretKeyError("no key file for an unnamed database")
    return os.path.join(config["data_dir"], KEY_DIRECTORY, f"{dbname}.key")


def key_source():
    """``"option"`` when the server option gives the keys, else ``"file"``."""
    return SOURCE_OPTION if (config.get(KEYS_OPTION) or "").strip() else SOURCE_FILE


def encrypt(plaintext, *, dbname):
    """Return the Fernet ciphertext (str) of ``plaintext`` under the first key."""
    return _multi_fernet(dbname).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(ciphertext, *, dbname):
    """Return the plain text of ``ciphertext``; raise ``SecretDecryptionError``
    when no current key decrypts it."""
    try:
        return (
            _multi_fernet(dbname)
            .decrypt(ciphertext.encode("ascii", "replace"))
            .decode("utf-8")
        )
    except (InvalidToken, UnicodeDecodeError):
        raise SecretDecryptionError() from None


def start_rotation(*, dbname):
    """Prepare a re-encryption of the stored secrets under a new key.

    Return ``(rotate, finish, source)``: ``rotate(ciphertext)`` re-encrypts one
    secret (``SecretDecryptionError`` when no key decrypts it), ``finish()`` drops
    the keys older than the new one and must run only once the re-encrypted
    secrets are committed.

    With the key file, a new key is written first in the file, before the old
    ones: until ``finish()``, every secret, old or new, decrypts; should the
    re-encryption be rolled back, the file simply holds one more key. With the
    server option, the secrets are re-encrypted under its first key and
    ``finish()`` does nothing: removing the old keys from the option is the
    administrator's part.

    Left open: a secret another transaction encrypts under the old key while
    the rotation runs, and commits after it, no longer decrypts once the old
    key is dropped; like any undecryptable secret, a token is then asked for
    anew and a password typed again.
    """
    if key_source() == SOURCE_OPTION:
        multi_fernet = _multi_fernet(dbname)
        return _rotator(multi_fernet), lambda: None, SOURCE_OPTION
    path = key_file_path(dbname)
    keys = _read_or_create_key_file(path)
    new_key = Fernet.generate_key().decode("ascii")
    _write_key_file(path, [new_key, *keys])
    multi_fernet = MultiFernet([Fernet(key) for key in [new_key, *keys]])

    def finish():
        current = _read_key_file(path)
        # a key written meanwhile by another rotation stays, before ours
        kept = current[: current.index(new_key) + 1] if new_key in current else current
        if kept != current:
            _write_key_file(path, kept)

    return _rotator(multi_fernet), finish, SOURCE_FILE


def _rotator(multi_fernet):
    def rotate(ciphertext):
        try:
            return multi_fernet.rotate(ciphertext.encode("ascii", "replace")).decode(
                "ascii"
            )
        except InvalidToken:
            raise SecretDecryptionError() from None

    return rotate


def _multi_fernet(dbname):
    if key_source() == SOURCE_OPTION:
        keys = _parse_keys(config.get(KEYS_OPTION).split(","), KEYS_OPTION)
    else:
        keys = _read_or_create_key_file(key_file_path(dbname))
    return MultiFernet([Fernet(key) for key in keys])


def _parse_keys(values, where):
    keys = [value.strip() for value in values if value.strip()]
    if not keys:
        raise SecretKeyError(f"{where} holds no key")
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            # never show the value: it may be a real key with a typo
            raise SecretKeyError(
                f"{where} holds a value that is not a Fernet key"
            ) from None
    return keys


def _read_key_file(path):
    try:
        with open(path, encoding="ascii") as key_file:
            lines = key_file.read().splitlines()
            mode = os.fstat(key_file.fileno()).st_mode
    except (OSError, UnicodeDecodeError) as error:
        raise SecretKeyError(f"the key file {path} cannot be read: {error}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _logger.warning(
            "The key file %s is readable by other users than Odoo's: chmod 600 it.",
            path,
        )
    return _parse_keys(
        [line for line in lines if not line.lstrip().startswith("#")],
        f"the key file {path}",
    )


def _read_or_create_key_file(path):
    """Return the keys of the key file, creating it with a new key if missing.

    Race-safe: the file is written complete under a temporary name (created with
    O_CREAT | O_EXCL and mode 0600 by ``mkstemp``), then published with a hard
    link, which fails if another process published one first; that one is then
    read. No process ever reads a half-written key file.
    """
    if not os.path.exists(path):
        try:
            _create_key_file(path)
        except OSError as error:
            raise SecretKeyError(
                f"the key file {path} cannot be created: {error}"
            ) from None
    return _read_key_file(path)


def _create_key_file(path):
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    key = Fernet.generate_key().decode("ascii")
    tmp_path = _write_temporary(directory, [key])
    try:
        os.link(tmp_path, path)
        _logger.info("Open Banking key file created: %s", path)
    except FileExistsError:
        _logger.debug("Open Banking key file created meanwhile by another process")
    except OSError:
        # a file system without hard links: exclusive creation in place
        _create_exclusive(path, [key])
    finally:
        os.unlink(tmp_path)


def _create_exclusive(path, keys):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as key_file:
        key_file.write(_key_file_content(keys))


def _write_key_file(path, keys):
    """Replace the key file atomically (same directory, mode 0600)."""
    try:
        tmp_path = _write_temporary(os.path.dirname(path), keys)
        try:
            os.replace(tmp_path, path)
        except OSError:
            os.unlink(tmp_path)
            raise
    except OSError as error:
        raise SecretKeyError(
            f"the key file {path} cannot be written: {error}"
        ) from None


def _write_temporary(directory, keys):
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".key.")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as tmp_file:
            tmp_file.write(_key_file_content(keys))
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
    except OSError:
        os.unlink(tmp_path)
        raise
    return tmp_path


def _key_file_content(keys):
    return KEY_FILE_HEADER + "".join(f"{key}\n" for key in keys)
