"""What every benchmark needs: a database of its own, a real Odoo server with
workers, the Bridge emulator, and a way to run code inside Odoo.

Run through `scripts/bench`, which starts PostgreSQL, installs the tool
environment and exports the settings read here. Everything binds 127.0.0.1,
every loop is bounded in count and time, and the database is dropped at the end.
"""

import contextlib
import json
import os
import pathlib
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import requests

from bridge_emulator.banks import french_iban
from bridge_emulator.webhooks import signature_header

REPO = pathlib.Path(__file__).resolve().parent.parent
VAR = REPO / "var" / "bench"
RESULTS = VAR / "results.jsonl"
ODOO_HOME = pathlib.Path(os.environ.get("ODOO_HOME", "/opt/odoo18"))
ODOO_PY = ODOO_HOME / "venv" / "bin" / "python"
ODOO_BIN = ODOO_HOME / "src" / "odoo-bin"
DB_HOST = os.environ.get("OBB_DB_HOST", "127.0.0.1")
DB_USER = os.environ.get("OBB_DB_USER", "openbanking")
DB_PASSWORD = os.environ.get("OBB_DB_PASSWORD", "openbanking")

WEBHOOK_ROUTE = "/openbanking/bridge/webhook"
WEBHOOK_SECRET = "bench-webhook-secret"
# Odoo's worker memory limits, raised so that no worker is recycled during a
# benchmark (the defaults are 2 GiB soft, 2.5 GiB hard).
MEMORY_LIMITS = (
    f"--limit-memory-soft={8 * 1024**3}",
    f"--limit-memory-hard={10 * 1024**3}",
)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values, fraction):
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[index]


def median(values):
    return statistics.median(values)


def wait_until(predicate, timeout, interval=0.05, what="the condition"):
    """Call `predicate` until it returns a true value, at most `timeout`
    seconds; return that value, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


def bench_iban(serial, branch="00077"):
    """A checksum-valid French IBAN numbered `serial` (bank code of the
    emulator's Demo Bank)."""
    return french_iban("30004", branch, f"{serial:011d}")


def signed_post(session, url, body, timeout=30):
    """POST a webhook body signed as Bridge signs it."""
    return session.post(
        url,
        data=body,
        headers={
            "Content-Type": "application/json",
            "BridgeApi-Signature": signature_header(body, [WEBHOOK_SECRET]),
        },
        timeout=timeout,
    )


def event_body(event_type, content, timestamp_ms):
    return json.dumps(
        {"type": event_type, "timestamp": timestamp_ms, "content": content},
        separators=(",", ":"),
    ).encode()


def print_table(title, header, rows):
    """A plain-text table, the form README.md quotes."""
    widths = [
        max(len(str(cell)) for cell in column)
        for column in zip(header, *rows, strict=True)
    ]
    line = "  ".join("-" * width for width in widths)
    print(f"\n{title}")
    print(
        "  ".join(
            str(cell).ljust(width) for cell, width in zip(header, widths, strict=True)
        ).rstrip()
    )
    print(line)
    for row in rows:
        print(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )
    sys.stdout.flush()


def record_goal(benchmark, goal, measured, passed):
    """Append one goal's outcome to var/bench/results.jsonl, which
    `bench.summary` prints as the final table."""
    VAR.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as out:
        out.write(
            json.dumps(
                {
                    "benchmark": benchmark,
                    "goal": goal,
                    "measured": measured,
                    # None: a figure shown with no goal
                    "passed": None if passed is None else bool(passed),
                }
            )
            + "\n"
        )


def machine():
    """Date and machine, as README.md quotes them."""
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
    }


class OdooDatabase:
    """A database created for one benchmark, with the addon, dropped on exit."""

    def __init__(self, name=None):
        self.name = name or f"obb_bench_{os.getpid()}_{int(time.time())}"
        self.data_dir = VAR / "data"
        self.config = VAR / f"{self.name}.conf"

    def __enter__(self):
        VAR.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            textwrap.dedent(
                f"""\
                [options]
                addons_path = {ODOO_HOME}/src/addons,{ODOO_HOME}/src/odoo/addons,{REPO}
                data_dir = {self.data_dir}
                db_host = {DB_HOST}
                db_user = {DB_USER}
                db_password = {DB_PASSWORD}
                list_db = False
                """
            )
        )
        log = VAR / f"{self.name}-install.log"
        try:
            with log.open("w") as out:
                subprocess.run(
                    [str(ODOO_PY), str(ODOO_BIN), "-c", str(self.config),
                     "-d", self.name, "-i", "openbanking_bridge",
                     "--without-demo=all", "--stop-after-init", "--log-level=warn"],
                    check=True, stdout=out, stderr=subprocess.STDOUT,
                    env=odoo_env(), timeout=600,
                )  # fmt: skip
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info):
        subprocess.run(
            ["dropdb", "--if-exists", "-h", DB_HOST, "-U", DB_USER, self.name],
            env={**os.environ, "PGPASSWORD": DB_PASSWORD},
            check=False,
            timeout=120,
        )
        self.config.unlink(missing_ok=True)
        filestore = self.data_dir / "filestore" / self.name
        if filestore.is_dir():
            subprocess.run(["rm", "-rf", str(filestore)], check=False, timeout=120)

    def shell(self, code, timeout=900):
        """Run `code` in `odoo-bin shell` on this database; return the value it
        printed as `print("RESULT", json.dumps(value))`, or None.

        The code sees `env` (superuser), and must commit what it wants kept (a
        benchmark's set-up, never business code).
        """
        result = subprocess.run(
            [str(ODOO_PY), str(ODOO_BIN), "shell", "-c", str(self.config),
             "-d", self.name, "--no-http", "--log-level=warn"],
            input=textwrap.dedent(code), capture_output=True, text=True,
            env=odoo_env(), timeout=timeout, check=False,
        )  # fmt: skip
        if result.returncode != 0 or "Traceback" in result.stderr:
            raise RuntimeError(f"odoo shell failed:\n{result.stderr[-3000:]}")
        for line in reversed(result.stdout.splitlines()):
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT ") :])
        return None

    def psql(self, query, timeout=600):
        """Run SQL through psql (autocommit); return its output, stripped."""
        with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
            script.write(query)
            script.flush()
            result = subprocess.run(
                ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", DB_HOST,
                 "-U", DB_USER, "-d", self.name, "-f", script.name],
                capture_output=True, text=True, check=False, timeout=timeout,
                env={**os.environ, "PGPASSWORD": DB_PASSWORD},
            )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr[-2000:]}")
        return result.stdout.strip()

    def sql(self, query):
        """One value from a query, through psql."""
        return self.psql(query, timeout=60)

    def setup_bridge(self, api_url, client_id, client_secret, user_uuid):
        """An Open Banking bank, its single active web service (on `api_url`,
        signed with WEBHOOK_SECRET), and a signatory registered as the Bridge
        user `user_uuid`. Return their ids and the company's partner id."""
        return self.shell(
            f"""
            import json
            env = env(context=dict(env.context, tracking_disable=True))
            env["openbanking.web.service"].search([]).action_archive()
            bank = env["res.bank"].create(
                {{"name": "Banque Bench", "openbanking_type": "open_banking",
                 "openbanking_timeout": 120}}
            )
            service = env["openbanking.web.service"].create({{
                "name": "Bridge Bench", "bank_id": bank.id, "api_url": {api_url!r},
                "client_id": {client_id!r}, "client_secret": {client_secret!r},
                "webhook_secret": {WEBHOOK_SECRET!r},
            }})
            user = env["res.users"].create({{
                "login": "bench_signatory", "name": "Bench Signatory",
                "email": "bench.signatory@example.com",
                "groups_id": [(6, 0, [
                    env.ref("openbanking_bridge.group_openbanking_user").id
                ])],
            }})
            signatory = env["openbanking.signatory"].create(
                {{"bank_id": bank.id, "user_id": user.id}}
            )
            signatory.write(
                {{"bridge_user_uuid": {user_uuid!r}, "state": "registered"}}
            )
            env.cr.commit()
            print("RESULT", json.dumps({{
                "bank_id": bank.id, "service_id": service.id,
                "signatory_id": signatory.id,
                "partner_id": env.company.partner_id.id,
                "company_id": env.company.id,
            }}))
            """
        )

    def add_bank_accounts(self, partner_id, bank_id, ibans):
        """Bank accounts of the partner, created through the ORM (sanitized
        numbers computed by Odoo)."""
        return self.shell(
            f"""
            import json
            env = env(context=dict(env.context, tracking_disable=True))
            accounts = env["res.partner.bank"].create([
                {{"acc_number": iban, "partner_id": {partner_id}, "bank_id": {bank_id}}}
                for iban in {list(ibans)!r}
            ])
            env.cr.commit()
            print("RESULT", json.dumps(accounts.ids))
            """
        )

    def forget_token(self):
        """Drop the signatories' stored Bridge tokens: the next processing
        authenticates again."""
        self.psql(
            "UPDATE openbanking_signatory SET bridge_access_token = NULL, "
            "bridge_token_expires_at = NULL, bridge_token_date = NULL"
        )

    def event_states(self):
        """{state: count} of the webhook events."""
        out = self.sql(
            "SELECT state, count(*) FROM openbanking_webhook_event GROUP BY state"
        )
        return {
            state: int(count)
            for state, count in (line.split("|") for line in out.splitlines() if line)
        }


def odoo_env():
    return {**os.environ, "PYTHONPATH": f"{ODOO_HOME}/src"}


class OdooServer:
    """Odoo serving one database on 127.0.0.1 with HTTP and cron workers."""

    def __init__(self, database, workers=2, cron_workers=1, extra=(), db_filter=False):
        self.database = database
        self.db_filter = db_filter
        self.port = free_port()
        self.workers = workers
        self.cron_workers = cron_workers
        self.extra = list(extra)
        self.process = None
        self.log = VAR / f"{database.name}-server.log"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self):
        return f"{self.url}{WEBHOOK_ROUTE}"

    def __enter__(self):
        # `-d` and no `--db-filter`: Odoo serves that database alone without
        # listing the databases (a new connection to `postgres`) per request;
        # with one, it lists them per request, as multi-database servers do
        db_filter = [f"--db-filter=^{self.database.name}$"] if self.db_filter else []
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [str(ODOO_PY), str(ODOO_BIN), "-c", str(self.database.config),
             "-d", self.database.name,
             "--http-interface=127.0.0.1", f"--http-port={self.port}",
             f"--workers={self.workers}", f"--max-cron-threads={self.cron_workers}",
             "--log-level=warn", *db_filter, *self.extra],
            stdout=self._log_file, stderr=subprocess.STDOUT, env=odoo_env(),
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Odoo exited; see {self.log}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/web/health", timeout=2).ok:
                    return self
            time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"Odoo did not answer within 120 s; see {self.log}")

    def __exit__(self, *exc_info):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._log_file.close()

    def warm_up(self, requests_count=20):
        """GET the webhook route a few times: every HTTP worker has loaded the
        registry before anything is measured."""
        with requests.Session() as session:
            for _index in range(requests_count):
                session.get(self.webhook_url, timeout=60).raise_for_status()

    def worker_pids(self):
        """{pid: title} of the master's children (titled by setproctitle)."""
        children = pathlib.Path(
            f"/proc/{self.process.pid}/task/{self.process.pid}/children"
        )
        pids = [int(pid) for pid in children.read_text().split()]
        return {pid: cmdline(pid) for pid in pids}

    def workers_titled(self, kind):
        """The pids of the workers whose title names `kind` ("WorkerHTTP",
        "WorkerCron"), sorted."""
        return sorted(
            pid for pid, title in self.worker_pids().items() if f" {kind} " in title
        )

    def log_errors(self):
        """The ERROR and CRITICAL lines of the server's log so far."""
        self._log_file.flush()
        return [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if " ERROR " in line or " CRITICAL " in line
        ]


def cmdline(pid):
    with contextlib.suppress(OSError):
        raw = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return ""


def rss_kib(pid):
    """Resident memory of a process, in KiB (VmRSS)."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")
