"""Benchmark 1, webhook acknowledgement, against a bare public route of the same
server, measured in the same run.

The bare route is `GET /openbanking/bridge/webhook`: the admins' reachability
check, through the same routing and database selection as Bridge's POST, that
reads and writes nothing. The webhook is `POST` of distinct, signed
`item.account.created` events for a Bridge user no signatory has: each is
checked, parsed, stored and triggers the processing cron, which the cron worker
runs meanwhile (each event ends "done", nothing linked, no Bridge call).

- latency: one client, requests one after the other, the two routes alternated
  request by request (the order rotated every round), after a warm-up; a third
  request in each round, a POST of the same size refused for its signature
  (403: nothing read, nothing written), shows what a POST through this route
  costs before anything is stored (no goal);
- throughput: CLIENTS concurrent clients sending a fixed number of requests to
  one route, the routes alternated in rounds (bare, webhook, webhook, bare).

Odoo's prefork workers answer HTTP/1.0 and close each connection, so each
request opens a connection (loopback), for both routes alike.

Measured twice, one server after the other on the same database: started with
`-d <db>` alone (Odoo serves that database without listing the databases: the
goals are read on this one), then with `--db-filter` too, as multi-database
servers run, where Odoo lists the databases through a new connection to
`postgres` on every request, which both routes pay.
Goals: p50 at most 1.3 x the bare route's; throughput at least 0.75 x.
"""

import itertools
import threading
import time

import requests

from .harness import (
    WEBHOOK_SECRET,
    OdooDatabase,
    OdooServer,
    event_body,
    median,
    percentile,
    print_table,
    record_goal,
    signature_header,
    wait_until,
)

WARM_UP = 200
LATENCY_REQUESTS = 2000
THROUGHPUT_REQUESTS = 2000
# the routes alternated in rounds, each round half the requests of a route
THROUGHPUT_ROUNDS = (("bare", "webhook"), ("webhook", "bare"))
PER_ROUND = THROUGHPUT_REQUESTS // len(THROUGHPUT_ROUNDS)
CLIENTS = 4
# seconds the whole measurement may take before it stops, unfinished
TIME_LIMIT = 600
GOAL_P50 = 1.3
GOAL_THROUGHPUT = 0.75


class Deadline(Exception):
    pass


class Load:
    """Pre-built requests, so that signing costs the measured loop nothing."""

    def __init__(self, server, count, first_serial):
        self.bare_url = server.webhook_url
        self.webhook_url = server.webhook_url
        self.bodies = [
            event_body(
                "item.account.created",
                {
                    "account_id": 10_000_000 + first_serial + serial,
                    "item_id": 900_001,
                    "user_uuid": "bench-user-without-signatory",
                    "balance": 12.5,
                },
                1_790_000_000_000 + first_serial + serial,
            )
            for serial in range(count)
        ]
        self.headers = [
            {
                "Content-Type": "application/json",
                "BridgeApi-Signature": signature_header(body, [WEBHOOK_SECRET]),
            }
            for body in self.bodies
        ]
        self.posted = 0
        self._lock = threading.Lock()
        self.deadline = time.monotonic() + TIME_LIMIT

    def take(self):
        with self._lock:
            self.posted += 1
            return self.posted - 1

    def bare(self, session):
        return self._timed(session.get, self.bare_url)

    def refused(self, session):
        return self._timed(
            session.post,
            self.webhook_url,
            expected=403,
            data=self.bodies[0],
            headers={**self.headers[0], "BridgeApi-Signature": "v1=" + "0" * 64},
        )

    def webhook(self, session):
        index = self.take()
        return self._timed(
            session.post,
            self.webhook_url,
            data=self.bodies[index],
            headers=self.headers[index],
        )

    def _timed(self, method, url, expected=200, **kwargs):
        if time.monotonic() > self.deadline:
            raise Deadline()
        started = time.perf_counter()
        response = method(url, timeout=30, **kwargs)
        elapsed = time.perf_counter() - started
        if response.status_code != expected:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
        return elapsed


def latency(load):
    """{route: [seconds]}: each round sends one request of each route, in an
    order rotated every round (each route as often first, second and last)."""
    routes = ("bare", "webhook", "refused")
    times = {route: [] for route in routes}
    with requests.Session() as session:
        for index in range(LATENCY_REQUESTS):
            shift = index % len(routes)
            for route in routes[shift:] + routes[:shift]:
                times[route].append(getattr(load, route)(session))
    return times


def throughput(load, send, count):
    """Requests per second of CLIENTS clients sending `count` requests."""
    remaining = itertools.count()
    lock = threading.Lock()
    errors = []

    def client():
        with requests.Session() as session:
            while True:
                with lock:
                    if next(remaining) >= count:
                        return
                try:
                    send(session)
                except Exception as error:  # noqa: BLE001 - reported below
                    errors.append(error)
                    return

    threads = [threading.Thread(target=client) for _index in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIME_LIMIT)
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return count / elapsed


def measure(db, server, first_serial):
    """Latency and throughput of both routes on `server`; the events are
    numbered from `first_serial` (distinct from any other run's)."""
    server.warm_up()
    load = Load(server, WARM_UP + LATENCY_REQUESTS + THROUGHPUT_REQUESTS, first_serial)
    with requests.Session() as session:
        for _index in range(WARM_UP):
            load.bare(session)
            load.webhook(session)
    times = latency(load)
    bare_latency, webhook_latency = times["bare"], times["webhook"]
    rates = {"bare": [], "webhook": []}
    for order in THROUGHPUT_ROUNDS:
        for name in order:
            send = load.bare if name == "bare" else load.webhook
            rates[name].append(throughput(load, send, PER_ROUND))
    expected = first_serial + load.posted
    wait_until(
        lambda: db.event_states().get("done", 0) >= expected,
        300,
        interval=0.5,
        what="every event processed",
    )
    ms = 1000
    return {
        "p50": (median(bare_latency) * ms, median(webhook_latency) * ms),
        "p95": (
            percentile(bare_latency, 0.95) * ms,
            percentile(webhook_latency, 0.95) * ms,
        ),
        "refused p50": median(times["refused"]) * ms,
        "throughput": (
            sum(rates["bare"]) / len(rates["bare"]),
            sum(rates["webhook"]) / len(rates["webhook"]),
        ),
        "posted": load.posted,
    }


def main():
    results = {}
    with OdooDatabase() as db:
        db.setup_bridge("http://127.0.0.1:9", "bench", "bench", "bench-user-uuid")
        serial = 0
        for db_filter in (False, True):
            with OdooServer(
                db, workers=2, cron_workers=1, db_filter=db_filter
            ) as server:
                results[db_filter] = measure(db, server, serial)
                serial += results[db_filter]["posted"]
                errors = server.log_errors()
                if errors:
                    print(f"  server log: {len(errors)} ERROR lines: {errors[0]}")
        states = db.event_states()
    rows = []
    for db_filter, label in ((False, "-d only"), (True, "-d and --db-filter")):
        figures = results[db_filter]
        for name, unit, digits in (
            ("p50", "ms", 2),
            ("p95", "ms", 2),
            ("throughput", "req/s", 0),
        ):
            bare, webhook = figures[name]
            rows.append(
                (
                    label,
                    f"{name} ({unit})",
                    f"{bare:.{digits}f}",
                    f"{webhook:.{digits}f}",
                    f"{webhook / bare:.2f}",
                )
            )
        bare = figures["p50"][0]
        refused = figures["refused p50"]
        rows.append(
            (
                label,
                "p50 (ms), refused POST (403)",
                f"{bare:.2f}",
                f"{refused:.2f}",
                f"{refused / bare:.2f}",
            )
        )
    print_table(
        f"Webhook acknowledgement (POST) vs the bare GET of the same route (2 HTTP "
        f"workers, 1 cron worker processing meanwhile; latency: {LATENCY_REQUESTS} "
        f"sequential requests each; throughput: {CLIENTS} clients, "
        f"{len(THROUGHPUT_ROUNDS)} rounds of {PER_ROUND} each)",
        ("server", "measure", "bare GET", "POST", "ratio"),
        rows,
    )
    print(
        f"  events posted: {sum(r['posted'] for r in results.values())}, "
        f"stored and processed: {states}"
    )

    def ratio(db_filter, name):
        bare, webhook = results[db_filter][name]
        return webhook / bare

    record_goal(
        "ack",
        f"p50 webhook / p50 bare <= {GOAL_P50}",
        f"{ratio(False, 'p50'):.2f}",
        ratio(False, "p50") <= GOAL_P50,
    )
    record_goal(
        "ack",
        f"throughput webhook / bare >= {GOAL_THROUGHPUT}",
        f"{ratio(False, 'throughput'):.2f}",
        ratio(False, "throughput") >= GOAL_THROUGHPUT,
    )
    record_goal(
        "ack",
        "p95 webhook / p95 bare (no goal)",
        f"{ratio(False, 'p95'):.2f}",
        None,
    )
    record_goal(
        "ack",
        "p50 refused POST (403) / p50 bare (no goal)",
        f"{results[False]['refused p50'] / results[False]['p50'][0]:.2f}",
        None,
    )
    record_goal(
        "ack",
        "with --db-filter: p50, throughput ratios (no goal)",
        f"{ratio(True, 'p50'):.2f}, {ratio(True, 'throughput'):.2f}",
        None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
