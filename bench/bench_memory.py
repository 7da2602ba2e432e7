"""Benchmark 4, memory: the resident memory of Odoo's workers before and after
processing EVENTS webhook events.

The events are `item.account.created` of ITEMS items of ACCOUNTS_PER_ITEM
accounts each, whose IBANs are those of bank accounts in Odoo (inserted with
SQL): each is received by an HTTP worker (CLIENTS concurrent clients, signed
POSTs to the real server) and linked by the cron worker (Bridge = the emulator,
its rate limits off: one Bridge user lists 100 items here in a few minutes).

"Before" is read once a warm-up of WARM_UP_ITEMS items is processed (every code
path loaded); "after" once the EVENTS events are all processed. The workers'
memory limits are raised (`--limit-memory-soft` 8 GiB, `--limit-memory-hard`
10 GiB) so that none is recycled; a worker replaced anyway is reported.
Goal: the cron worker's growth under 10 %.
"""

import threading
import time
import uuid

import requests

from bridge_emulator import BridgeEmulator

from .harness import (
    MEMORY_LIMITS,
    WEBHOOK_SECRET,
    OdooDatabase,
    OdooServer,
    bench_iban,
    event_body,
    print_table,
    record_goal,
    rss_kib,
    signed_post,
    wait_until,
)

ITEMS = 100
ACCOUNTS_PER_ITEM = 100
EVENTS = ITEMS * ACCOUNTS_PER_ITEM
WARM_UP_ITEMS = 5
CLIENTS = 4
# seconds to post, then to process, the events, before giving up
POST_TIMEOUT = 600
PROCESS_TIMEOUT = 600
GOAL_GROWTH = 0.10


def insert_bank_accounts(db, ids, ibans):
    values = ",\n".join(
        f"({ids['partner_id']}, {ids['bank_id']}, '{iban}', '{iban}', true, false, "
        f"{ids['company_id']}, 10, 1, 1, now() at time zone 'UTC', "
        "now() at time zone 'UTC')"
        for iban in ibans
    )
    db.psql(
        "INSERT INTO res_partner_bank (partner_id, bank_id, acc_number, "
        "sanitized_acc_number, active, allow_out_payment, openbanking_company_id, "
        "sequence, create_uid, write_uid, create_date, write_date) VALUES\n"
        f"{values};\nANALYZE res_partner_bank;"
    )


def make_items(db, emu, ids, user_uuid, count, first_serial):
    """`count` items at the emulator, their accounts' IBANs in Odoo; return the
    signed bodies of their item.account.created events."""
    ibans = [
        bench_iban(first_serial + index) for index in range(count * ACCOUNTS_PER_ITEM)
    ]
    insert_bank_accounts(db, ids, ibans)
    bodies = []
    for start in range(0, len(ibans), ACCOUNTS_PER_ITEM):
        item = emu.add_item(
            user_uuid,
            accounts=[
                {"iban": iban} for iban in ibans[start : start + ACCOUNTS_PER_ITEM]
            ],
        )
        bodies.extend(
            event_body(
                "item.account.created",
                {
                    "account_id": account["id"],
                    "item_id": item["id"],
                    "user_uuid": user_uuid,
                    "balance": 100.0,
                },
                1_790_000_000_000 + account["id"],
            )
            for account in item["accounts"]
        )
    return bodies


def post_all(url, bodies):
    """POST every body with CLIENTS clients; stop at POST_TIMEOUT."""
    queue = iter(bodies)
    lock = threading.Lock()
    errors = []
    deadline = time.monotonic() + POST_TIMEOUT

    def client():
        with requests.Session() as session:
            while time.monotonic() < deadline:
                with lock:
                    body = next(queue, None)
                if body is None:
                    return
                response = signed_post(session, url, body)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:100]}")
                    return
            errors.append(f"not all posted within {POST_TIMEOUT} s")

    threads = [threading.Thread(target=client) for _index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=POST_TIMEOUT + 60)
    if errors:
        raise RuntimeError(f"posting failed: {errors[0]}")


def wait_processed(db, count, timeout):
    def done():
        states = db.event_states()
        pending = sum(states.get(state, 0) for state in ("received", "processing"))
        return not pending and sum(states.values()) >= count and states

    return wait_until(done, timeout, interval=1, what=f"{count} events processed")


def snapshot(server):
    return {
        kind: {pid: rss_kib(pid) for pid in server.workers_titled(kind)}
        for kind in ("WorkerCron", "WorkerHTTP")
    }


def main():
    user_uuid = str(uuid.uuid4())
    with (
        OdooDatabase() as db,
        BridgeEmulator(webhook_secret=WEBHOOK_SECRET, rate_limits=False) as emu,
    ):
        emu.add_user(uuid=user_uuid)
        ids = db.setup_bridge(emu.url, emu.client_id, emu.client_secret, user_uuid)
        warm_bodies = make_items(db, emu, ids, user_uuid, WARM_UP_ITEMS, 2_000_001)
        bodies = make_items(db, emu, ids, user_uuid, ITEMS, 3_000_001)
        with OdooServer(db, workers=2, cron_workers=1, extra=MEMORY_LIMITS) as server:
            server.warm_up()
            post_all(server.webhook_url, warm_bodies)
            wait_processed(db, len(warm_bodies), PROCESS_TIMEOUT)
            before = snapshot(server)
            emu.reset_counters()
            started = time.monotonic()
            post_all(server.webhook_url, bodies)
            posted = time.monotonic() - started
            states = wait_processed(db, len(warm_bodies) + EVENTS, PROCESS_TIMEOUT)
            processed = time.monotonic() - started
            after = snapshot(server)
            counters = emu.counters()
            linked = int(
                db.sql(
                    "SELECT count(*) FROM res_partner_bank "
                    "WHERE bridge_account_ref IS NOT NULL"
                )
            )
            errors = server.log_errors()
    rows = []
    growth = {}
    for kind in ("WorkerCron", "WorkerHTTP"):
        for index, pid in enumerate(sorted(before[kind])):
            if pid not in after[kind]:
                rows.append((f"{kind} {index + 1}", before[kind][pid], "replaced", "-"))
                growth.setdefault(kind, []).append(None)
                continue
            change = after[kind][pid] / before[kind][pid] - 1
            growth.setdefault(kind, []).append(change)
            rows.append(
                (
                    f"{kind} {index + 1}",
                    f"{before[kind][pid] / 1024:.1f}",
                    f"{after[kind][pid] / 1024:.1f}",
                    f"{change * 100:+.1f} %",
                )
            )
    print_table(
        f"Memory: resident memory (VmRSS) of the workers before and after {EVENTS:,} "
        f"events ({ITEMS} items x {ACCOUNTS_PER_ITEM} accounts, linked)",
        ("worker", "before (MiB)", "after (MiB)", "growth"),
        rows,
    )
    print(
        f"  posted in {posted:.0f} s ({EVENTS / posted:.0f}/s, {CLIENTS} clients), "
        f"all processed after {processed:.0f} s; events {states}; "
        f"bank accounts linked {linked}; Bridge calls {counters}"
    )
    if errors:
        print(f"  server log: {len(errors)} ERROR lines, first: {errors[0]}")
    cron_growth = growth.get("WorkerCron") or [None]
    worst = None if None in cron_growth else max(cron_growth)
    record_goal(
        "memory",
        f"cron worker memory growth after {EVENTS:,} events < "
        f"{GOAL_GROWTH * 100:.0f} %",
        "worker replaced" if worst is None else f"{worst * 100:+.1f} %",
        worst is not None and worst < GOAL_GROWTH,
    )
    http_growth = [change for change in growth.get("WorkerHTTP", []) if change]
    if http_growth:
        record_goal(
            "memory",
            "HTTP workers memory growth (no goal)",
            ", ".join(f"{change * 100:+.1f} %" for change in http_growth),
            None,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
