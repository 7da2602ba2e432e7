"""Benchmark 3, matching at scale: linking time per account with 1,000 and with
100,000 bank accounts of the company in the database.

At each size, the emulator sends the Connect webhooks of an item of ACCOUNTS
accounts (IBANs of bank accounts in Odoo) to the real server, whose cron is off
(`--max-cron-threads=0`): the events are stored. Then, in `odoo shell`, after a
warm-up item of WARM_UP accounts, the processing cron's method runs on them in
one batch and is timed: the batch's Bridge calls (one listing, the token stored
by the warm-up), the search of the IBANs in Odoo, each account's link, and the
events' outcomes, committed. Per account: that time / ACCOUNTS.

The filler bank accounts are inserted with SQL (`generate_series`), with the
sanitized number and company the ORM would compute, then `ANALYZE`. The plan
of the IBAN search at 100,000 is printed.
Goal: per-account time at 100,000 at most 1.5 x the one at 1,000.
"""

import re
import uuid

from bridge_emulator import BridgeEmulator

from .harness import (
    WEBHOOK_SECRET,
    OdooDatabase,
    OdooServer,
    bench_iban,
    print_table,
    record_goal,
)

SIZES = (1_000, 100_000)
ACCOUNTS = 200
WARM_UP = 10
GOAL_RATIO = 1.5

PROCESS_CODE = """
import json
import time
from odoo.tools import SQL

Event = env["openbanking.webhook.event"]
warm = Event._cron_process_events(batch_size={warm_count})
env.cr.commit()
started = time.perf_counter()
events = Event._cron_process_events(batch_size={count})
env.cr.commit()
elapsed = time.perf_counter() - started
linked = env["res.partner.bank"].sudo().search_count(
    [("bridge_item_ref", "=", {item_ref!r})]
)
company = env.company
query = env["res.partner.bank"].sudo()._search([
    ("partner_id", "child_of", company.partner_id.id),
    ("sanitized_acc_number", "in", {ibans!r}),
])
env.cr.execute(SQL("EXPLAIN ANALYZE %s", query.select()))
plan = [row[0] for row in env.cr.fetchall()]
env.cr.rollback()
print("RESULT", json.dumps({{
    "elapsed": elapsed, "events": len(events), "warm": len(warm),
    "linked": linked, "plan": plan,
    "states": sorted(set(events.mapped("state"))),
}}))
"""


def seed_fillers(db, ids, first, last):
    """Bank accounts `first`..`last` of the company's partner, not matching."""
    if last < first:
        return
    db.psql(
        "INSERT INTO res_partner_bank (partner_id, acc_number, sanitized_acc_number, "
        "active, allow_out_payment, openbanking_company_id, sequence, create_uid, "
        "write_uid, create_date, write_date) "
        f"SELECT {ids['partner_id']}, 'FILLER' || lpad(g::text, 9, '0'), "
        f"'FILLER' || lpad(g::text, 9, '0'), true, false, {ids['company_id']}, 10, "
        "1, 1, now() at time zone 'UTC', now() at time zone 'UTC' "
        f"FROM generate_series({first}, {last}) AS g;\n"
        "ANALYZE res_partner_bank;"
    )


def company_accounts(db, ids):
    return int(
        db.sql(
            "SELECT count(*) FROM res_partner_bank "
            f"WHERE partner_id = {ids['partner_id']}"
        )
    )


def run_size(db, emu, ids, user_uuid, size, serial):
    """Seed up to `size` accounts, store the events of a warm-up item and of a
    measured one, and time the processing of the measured one."""
    warm_ibans = [bench_iban(serial + index, "00088") for index in range(WARM_UP)]
    ibans = [bench_iban(serial + index) for index in range(ACCOUNTS)]
    db.add_bank_accounts(ids["partner_id"], ids["bank_id"], warm_ibans + ibans)
    present = company_accounts(db, ids)
    filler_start = int(db.sql("SELECT count(*) FROM res_partner_bank")) + 1
    seed_fillers(db, ids, filler_start, filler_start + size - present - 1)
    total = company_accounts(db, ids)
    items = [
        emu.add_item(user_uuid, accounts=[{"iban": iban} for iban in group])
        for group in (warm_ibans, ibans)
    ]
    for item in items:
        deliveries = emu.send_connect_webhooks(item["id"], sync=True)
        if {delivery.status for delivery in deliveries} != {200}:
            raise RuntimeError(f"webhooks refused: {deliveries[:3]}")
    emu.reset_counters()
    # item.created is ignored at once; the others wait for processing
    result = db.shell(
        PROCESS_CODE.format(
            warm_count=WARM_UP + 1,
            count=ACCOUNTS + 1,
            item_ref=str(items[1]["id"]),
            ibans=ibans,
        )
    )
    if result["linked"] != ACCOUNTS or result["states"] != ["done"]:
        raise RuntimeError(f"not all linked: {result}")
    result.update(
        size=total,
        per_account=result["elapsed"] / ACCOUNTS,
        counters=emu.counters(),
    )
    return result


def main():
    user_uuid = str(uuid.uuid4())
    with (
        OdooDatabase() as db,
        BridgeEmulator(webhook_secret=WEBHOOK_SECRET) as emu,
    ):
        emu.add_user(uuid=user_uuid)
        ids = db.setup_bridge(emu.url, emu.client_id, emu.client_secret, user_uuid)
        results = []
        # the cron is off: the events are stored, and processed in odoo shell
        with OdooServer(db, workers=2, cron_workers=0) as server:
            emu.configure(webhook_url=server.webhook_url)
            server.warm_up()
            serial = 1_000_001
            for size in SIZES:
                results.append(run_size(db, emu, ids, user_uuid, size, serial))
                serial += ACCOUNTS + WARM_UP
    rows = [
        (
            f"{result['size']:,}",
            ACCOUNTS,
            f"{result['elapsed']:.2f}",
            f"{result['per_account'] * 1000:.2f}",
            f"{result['per_account'] / results[0]['per_account']:.2f}",
        )
        for result in results
    ]
    print_table(
        f"Matching at scale: one batch of {ACCOUNTS} item.account.created linked "
        "(cron method in odoo shell, Bridge = emulator)",
        (
            "bank accounts in the database",
            "accounts linked",
            "batch time (s)",
            "per account (ms)",
            "ratio to 1,000",
        ),
        rows,
    )
    for result in results:
        print(f"  {result['size']:,}: Bridge calls {result['counters']}")
    print("  plan of the IBAN search at 100,000 (EXPLAIN ANALYZE):")
    for line in results[-1]["plan"]:
        # the 200 IBANs of the query, shortened
        print("    " + re.sub(r"'[{][^}]*[}]'", "'{...}'", line))
    ratio = results[-1]["per_account"] / results[0]["per_account"]
    record_goal(
        "matching",
        f"per-account linking time 100,000 / 1,000 <= {GOAL_RATIO}",
        f"{ratio:.2f}",
        ratio <= GOAL_RATIO,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
