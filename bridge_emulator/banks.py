"""The emulator's banks (v2) / providers (v3), and the IBANs it proposes.

The ids are the emulator's own, in the style of Bridge's; the bank codes in the
IBANs are the real French bank codes of these banks. Checksums are computed here
(mod 97 and the French RIB key), with no outside library: the emulator shares no
code with the client it tests.
"""

BANKS = (
    # id, name, group, country, French bank code
    (574, "Demo Bank", "Bridge", "fr", "30004"),
    (6, "BNP Paribas", "BNP Paribas", "fr", "30004"),
    (179, "Société Générale", "Société Générale", "fr", "30003"),
    (408, "Crédit Agricole Île-de-France", "Crédit Agricole", "fr", "18206"),
    (33, "LCL", "Crédit Agricole", "fr", "30002"),
    (213, "Crédit Mutuel", "Crédit Mutuel Alliance Fédérale", "fr", "10278"),
    (189, "CIC", "Crédit Mutuel Alliance Fédérale", "fr", "30066"),
    (210, "La Banque Postale", "La Banque Postale", "fr", "20041"),
    (152, "Boursorama Banque", "Société Générale", "fr", "40618"),
    (304, "Caisse d'Epargne Île-de-France", "BPCE", "fr", "17515"),
    (493, "Banque Populaire Rives de Paris", "BPCE", "fr", "10207"),
    (1001, "Deutsche Bank", "Deutsche Bank", "de", "10070000"),
)

CAPABILITIES = ["aggregation", "single_payment"]


def bank_records():
    """Return the banks as dicts: id, name, group_name, country_code, bank_code."""
    return [
        {
            "id": bank_id,
            "name": name,
            "group_name": group,
            "country_code": country,
            "bank_code": code,
            "logo_url": f"https://web.bridgeapi.io/img/banks/{bank_id}.png",
            "capabilities": list(CAPABILITIES),
        }
        for bank_id, name, group, country, code in BANKS
    ]


def _letters_to_digits(text):
    return "".join(str(int(char, 36)) for char in text)


def iban_check_digits(country, bban):
    """Return the two ISO 13616 check digits of an IBAN."""
    number = int(_letters_to_digits(bban + country.upper() + "00"))
    return f"{98 - number % 97:02d}"


def is_valid_iban(iban):
    """Check an IBAN's characters, length (2 to 34) and mod-97 checksum."""
    compact = "".join(iban.split()).upper()
    if not 15 <= len(compact) <= 34 or not compact.isascii() or not compact.isalnum():
        return False
    if not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int(_letters_to_digits(rearranged)) % 97 == 1


def rib_key(bank_code, branch_code, account_number):
    """Return the French RIB key of a bank code, branch code and account number."""
    number = 89 * int(bank_code) + 15 * int(branch_code) + 3 * int(account_number)
    return f"{97 - number % 97:02d}"


def french_iban(bank_code, branch_code, account_number):
    """Return a checksum-valid French IBAN (FRkk bbbbb ggggg ccccccccccc rr)."""
    bban = (
        f"{bank_code}{branch_code}{account_number}"
        f"{rib_key(bank_code, branch_code, account_number)}"
    )
    return f"FR{iban_check_digits('FR', bban)}{bban}"


def german_iban(bank_code, account_number):
    bban = f"{bank_code}{account_number:0>10}"
    return f"DE{iban_check_digits('DE', bban)}{bban}"


def make_iban(bank, serial):
    """Return a valid IBAN for an account of ``bank`` numbered ``serial``."""
    if bank["country_code"] == "de":
        return german_iban(bank["bank_code"], f"{serial:010d}")
    return french_iban(bank["bank_code"], "00001", f"{serial:011d}")


# What the Connect page proposes: name, type, balance.
DEFAULT_ACCOUNTS = (
    ("Compte courant", "checking", "1520.35"),
    ("Compte professionnel", "checking", "48210.00"),
)
