"""Benchmark 2, a burst: one Bridge item with 50, then 200 accounts.

The emulator holds a signatory's Bridge user and an item whose accounts have the
IBANs of bank accounts in Odoo. It sends what Bridge Connect sends to the real
server (`item.created`, one `item.account.created` per account, `item.refreshed`),
one delivery after the other, as Bridge does. The cron worker links the accounts.

Measured per item: the Bridge calls (the emulator's counters: authentications and
account listings, all pages), and the time from the first webhook sent to the
last account linked (the database polled every 50 ms). Before each item the
signatory's stored token is dropped, so that its authentication is counted.
Goal: at most 2 Bridge calls per item, whatever its number of accounts.
"""

import threading
import time
import uuid

from bridge_emulator import BridgeEmulator

from .harness import (
    WEBHOOK_SECRET,
    OdooDatabase,
    OdooServer,
    bench_iban,
    print_table,
    record_goal,
    wait_until,
)

SIZES = (50, 200)
GOAL_CALLS_PER_ITEM = 2
# seconds an item may take, from its first webhook to its last event processed
ITEM_TIMEOUT = 180


def run_item(db, emu, ids, user_uuid, size, first_serial):
    ibans = [bench_iban(first_serial + index) for index in range(size)]
    db.add_bank_accounts(ids["partner_id"], ids["bank_id"], ibans)
    item = emu.add_item(user_uuid, accounts=[{"iban": iban} for iban in ibans])
    item_ref = str(item["id"])
    db.forget_token()
    emu.reset_counters()
    last_progress = int(db.sql("SELECT coalesce(max(id), 0) FROM ir_cron_progress"))
    delivered = {}

    def wait_delivered():
        emu.wait_for_webhooks(timeout=ITEM_TIMEOUT)
        delivered["at"] = time.monotonic()

    started = time.monotonic()
    emu.send_connect_webhooks(item["id"])
    waiter = threading.Thread(target=wait_delivered, daemon=True)
    waiter.start()

    def linked():
        return int(
            db.sql(
                "SELECT count(*) FROM res_partner_bank "
                f"WHERE bridge_item_ref = '{item_ref}'"
            )
        )

    wait_until(lambda: linked() >= size, ITEM_TIMEOUT, what=f"{size} accounts linked")
    elapsed = time.monotonic() - started
    waiter.join(timeout=ITEM_TIMEOUT)
    failed = [d for d in emu.webhook_deliveries if d.status != 200]
    if "at" not in delivered or failed:
        raise RuntimeError(f"webhooks not all delivered: {failed[:3]}")
    wait_until(
        lambda: (
            not db.sql(
                "SELECT 1 FROM openbanking_webhook_event "
                f"WHERE bridge_item_ref = '{item_ref}' "
                "AND state IN ('received', 'processing', 'retry') LIMIT 1"
            )
        ),
        ITEM_TIMEOUT,
        what="every event processed",
    )
    counters = emu.counters()
    auth = sum(
        n
        for name, n in counters.items()
        if name.endswith(("/authenticate", "/authorization/token"))
    )
    listings = sum(n for name, n in counters.items() if name.endswith("/accounts"))
    total = sum(counters.values())
    batches = db.sql(
        "SELECT count(*) FROM ir_cron_progress p JOIN ir_model_data d "
        "ON d.model = 'ir.cron' AND d.res_id = p.cron_id "
        "AND d.name = 'ir_cron_openbanking_webhook_event_process' "
        f"WHERE p.id > {last_progress} AND p.done > 0"
    )
    return {
        "batches": int(batches),
        "size": size,
        "auth": auth,
        "listings": listings,
        "total": total,
        "per_account": total / size,
        "elapsed": elapsed,
        "delivered": delivered["at"] - started,
        "counters": counters,
    }


def main():
    user_uuid = str(uuid.uuid4())
    with (
        OdooDatabase() as db,
        BridgeEmulator(webhook_secret=WEBHOOK_SECRET) as emu,
    ):
        emu.add_user(uuid=user_uuid)
        ids = db.setup_bridge(emu.url, emu.client_id, emu.client_secret, user_uuid)
        with OdooServer(db, workers=2, cron_workers=1) as server:
            emu.configure(webhook_url=server.webhook_url)
            server.warm_up()
            results = []
            serial = 1
            for size in SIZES:
                results.append(run_item(db, emu, ids, user_uuid, size, serial))
                serial += size
            errors = server.log_errors()
    rows = [
        (
            result["size"],
            result["auth"],
            result["listings"],
            result["total"],
            f"{result['per_account']:.3f}",
            result["batches"],
            f"{result['delivered']:.2f}",
            f"{result['elapsed']:.2f}",
            f"{result['size'] / result['elapsed']:.0f}",
        )
        for result in results
    ]
    print_table(
        "Burst: one item, Connect's webhooks sent one after the other "
        "(2 HTTP workers, 1 cron worker)",
        (
            "accounts",
            "auth calls",
            "listing calls",
            "Bridge calls/item",
            "calls/account",
            "cron batches",
            "last webhook answered (s)",
            "first webhook -> last linked (s)",
            "accounts/s",
        ),
        rows,
    )
    for result in results:
        print(f"  {result['size']} accounts: emulator counters {result['counters']}")
    if errors:
        print(f"  server log: {len(errors)} ERROR lines, first: {errors[0]}")
    for result in results:
        record_goal(
            "burst",
            f"Bridge calls per item ({result['size']} accounts) <= "
            f"{GOAL_CALLS_PER_ITEM}",
            f"{result['total']}",
            result["total"] <= GOAL_CALLS_PER_ITEM,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
