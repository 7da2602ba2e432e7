"""The emulator's Connect (webview) pages: plain, accessible HTML, no script.

Stable names and ids, for people and for browser tours:

- banks: radio inputs ``name="bank_id"``, ``id="bank-<id>"``;
- accounts: rows ``0..n-1``, checkbox ``name="account-<i>-selected"``
  (``id`` the same), text inputs ``account-<i>-name`` and ``account-<i>-iban``;
  the last rows are empty, to type accounts of one's own;
- buttons: ``id="connect-submit"`` (``name="action" value="connect"``) and
  ``id="connect-cancel"`` (``value="cancel"``).

A ticked account with an empty IBAN is created without one (Bridge's ``iban`` may
be null).
"""

from html import escape

EXTRA_ROWS = 2

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 48rem; margin: 2rem auto; }}
fieldset {{ margin-bottom: 1rem; }}
.error {{ color: #a00; font-weight: bold; }}
.account {{ margin: .5rem 0; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def page(title, body):
    return PAGE.format(title=escape(title), body=body)


def connect_form(
    session, banks, proposals, *, selected_bank=None, rows=None, error=None
):
    """The bank and accounts form of a Connect session.

    ``proposals`` are the accounts proposed, ticked, with their IBANs; ``rows``
    (after a refused submit) holds what the user typed instead.
    """
    bank_list = list(banks)
    if selected_bank is None and bank_list:
        selected_bank = bank_list[0]["id"]
    parts = []
    if error:
        parts.append(
            f'<p class="error" role="alert" id="connect-error">{escape(error)}</p>'
        )
    if session.get("email"):
        parts.append(f"<p>Connecting the accounts of {escape(session['email'])}.</p>")
    parts.append(
        f'<form method="post" action="/connect/session/{escape(session["id"])}">'
    )
    parts.append("<fieldset><legend>Choose your bank</legend>")
    for bank in bank_list:
        checked = " checked" if bank["id"] == selected_bank else ""
        parts.append(
            f'<div><input type="radio" name="bank_id" id="bank-{bank["id"]}" '
            f'value="{bank["id"]}"{checked}> '
            f'<label for="bank-{bank["id"]}">{escape(bank["name"])}</label></div>'
        )
    parts.append("</fieldset>")
    if rows is None:
        rows = [
            {"selected": True, "name": account["name"], "iban": account["iban"]}
            for account in proposals
        ]
        rows += [{"selected": False, "name": "", "iban": ""}] * EXTRA_ROWS
    parts.append("<fieldset><legend>Accounts to share</legend>")
    for index, row in enumerate(rows):
        prefix = f"account-{index}"
        checked = " checked" if row["selected"] else ""
        parts.append(
            f'<div class="account">'
            f'<input type="checkbox" name="{prefix}-selected" id="{prefix}-selected" '
            f'value="1"{checked}> '
            f'<label for="{prefix}-selected">Share account {index + 1}</label> '
            f'<label for="{prefix}-name">Name</label> '
            f'<input type="text" name="{prefix}-name" id="{prefix}-name" '
            f'value="{escape(row["name"] or "")}"> '
            f'<label for="{prefix}-iban">IBAN</label> '
            f'<input type="text" name="{prefix}-iban" id="{prefix}-iban" '
            f'value="{escape(row["iban"] or "")}" size="34" autocomplete="off">'
            f"</div>"
        )
    parts.append(f'<input type="hidden" name="rows" value="{len(rows)}">')
    parts.append("</fieldset>")
    parts.append(
        '<button type="submit" name="action" value="connect" id="connect-submit">'
        "Connect</button> "
        '<button type="submit" name="action" value="cancel" id="connect-cancel">'
        "Cancel</button>"
    )
    parts.append("</form>")
    return page("Bridge Connect (emulator)", "\n".join(parts))


def done_page(success, item_id=None):
    if success:
        body = (
            f'<p id="connect-done">Your accounts are connected (item {item_id}). '
            "You can close this window.</p>"
        )
    else:
        body = (
            '<p id="connect-done">Nothing was connected. You can close this window.</p>'
        )
    return page("Bridge Connect (emulator)", body)


def message_page(title, message):
    return page(title, f'<p id="connect-message">{escape(message)}</p>')
