# Copyright 2026 openbanking_bridge contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""IBAN normalising and checking, through python-stdnum (a requirement of Odoo)."""

from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError


def normalize_iban(value):
    """Return the IBAN in its compact form (upper case, no spaces), None if empty.

    No check is made: Bridge's `iban` is stored as given, only written the same way
    as the ERP writes it, so that the two can be compared.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"IBAN must be a string, not {type(value).__name__}")
    compact = stdnum_iban.compact(value)
    return compact or None


def is_valid_iban(value):
    """Return whether ``value`` is a valid IBAN (country format and check digits)."""
    if not value or not isinstance(value, str):
        return False
    return stdnum_iban.is_valid(value)


def validate_iban(value):
    """Return the compact IBAN, or raise ``ValueError`` saying what is wrong."""
    try:
        return stdnum_iban.validate(value or "")
    except ValidationError as error:
        raise ValueError(f"Invalid IBAN: {error.message}") from error


def format_iban(value):
    """Return the IBAN in groups of four characters, for display."""
    compact = normalize_iban(value)
    return stdnum_iban.format(compact) if compact else ""
