"""Wire the demo database to the Bridge emulator that ``scripts/run`` starts.

Run by ``scripts/run`` with Odoo's Python, once the addon is installed or
updated, before the server starts. Whatever the database holds, it ends with:

- ``web.base.url`` the URL Odoo serves on: Bridge Connect's callback is built
  on it;
- the demo web service active, its API URL the emulator's, its client id and
  secret and its webhook secret those the emulator is started with;
- nothing left of what a previous emulator knew. The emulator keeps its state
  in memory and starts empty; the demo bank's signatories go back to "not
  registered" (no Bridge user, password or token), and the Bridge ids of the
  demo bank and of the accounts they linked are cleared. So each run starts
  the same flow from its beginning.

Usage: wire_demo.py -c ODOO_CONF -d DATABASE --base-url URL --api-url URL
    --client-id ID --client-secret SECRET --webhook-secret SECRET
"""

import argparse

import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry

DEMO_SERVICE = "openbanking_bridge.demo_web_service_bridge"
FORGOTTEN_NOTE = (
    "scripts/run started a new, empty Bridge emulator: what the previous one "
    "knew of this signatory is forgotten (Bridge user, password, token)."
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration")
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--webhook-secret", required=True)
    return parser.parse_args(argv)


def wire(env, args):
    """Point the demo at the emulator; return the demo web service."""
    env["ir.config_parameter"].set_param("web.base.url", args.base_url)
    service = env.ref(DEMO_SERVICE, raise_if_not_found=False)
    if not service:
        raise SystemExit(
            f"The database {args.database} has no demo web service ({DEMO_SERVICE}): "
            "was it created without demo data? Drop it and run scripts/run again."
        )
    wanted = {
        "active": True,
        "api_url": args.api_url,
        "client_id": args.client_id,
        "client_secret": args.client_secret,
        "webhook_secret": args.webhook_secret,
    }
    # only what differs: each change is tracked in the service's chatter
    changes = {
        fname: value for fname, value in wanted.items() if service[fname] != value
    }
    if changes:
        service.write(changes)
    return service


def forget_previous_emulator(env, service):
    """Clear, for the demo bank, what only the previous emulator knew."""
    bank = service.bank_id
    signatories = bank.openbanking_signatory_ids.filtered(
        lambda s: (
            s.bridge_user_uuid
            or s.state != "not_registered"
            or s.bridge_password
            or s.bridge_access_token
        )
    )
    for signatory in signatories:
        signatory.write(
            {
                "bridge_user_uuid": False,
                "state": "not_registered",
                "last_connection_date": False,
                "bridge_password": False,
                "bridge_access_token": False,
                "bridge_token_expires_at": False,
                "bridge_token_date": False,
            }
        )
        signatory.message_post(body=FORGOTTEN_NOTE, subtype_xmlid="mail.mt_note")
    linked = (
        env["res.partner.bank"]
        .with_context(active_test=False)
        .search(
            [
                "|",
                ("bridge_signatory_id", "in", bank.openbanking_signatory_ids.ids),
                ("bank_id", "=", bank.id),
                ("bridge_account_ref", "!=", False),
            ]
        )
    )
    linked._openbanking_unlink_bridge_account()
    if bank.bridge_bank_ref:
        bank.bridge_bank_ref = False
    return signatories, linked


def main(argv=None):
    args = parse_args(argv)
    odoo.tools.config.parse_config(["-c", args.config, "--log-level=warn"])
    registry = Registry(args.database)
    # committed on leaving the block
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        service = wire(env, args)
        signatories, linked = forget_previous_emulator(env, service)
    if signatories or linked:
        print(
            "Forgot what the previous emulator knew: "
            f"{len(signatories)} signatory(ies) back to not registered, "
            f"{len(linked)} bank account(s) unlinked."
        )


if __name__ == "__main__":
    main()
