"""What every benchmark needs: a database of its own, a real Odoo server with
workers, the Bridge emulator, and a way to run code inside Odoo.

Run through `scripts/bench`, which starts PostgreSQL, installs the tool
environment and exports the settings read here. Everything binds 127.0.0.1,
every loop is bounded in count and time, and the database is dropped at the end.
"""

import contextlib
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time

import requests

REPO = pathlib.Path(__file__).resolve().parent.parent
VAR = REPO / "var" / "bench"
ODOO_HOME = pathlib.Path(os.environ.get("ODOO_HOME", "/opt/odoo18"))
ODOO_PY = ODOO_HOME / "venv" / "bin" / "python"
ODOO_BIN = ODOO_HOME / "src" / "odoo-bin"
DB_HOST = os.environ.get("OBB_DB_HOST", "127.0.0.1")
DB_USER = os.environ.get("OBB_DB_USER", "openbanking")
DB_PASSWORD = os.environ.get("OBB_DB_PASSWORD", "openbanking")

WEBHOOK_SECRET = "bench-webhook-secret"


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
        )
    )
    print(line)
    for row in rows:
        print(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            )
        )
    sys.stdout.flush()


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
        with log.open("w") as out:
            subprocess.run(
                [str(ODOO_PY), str(ODOO_BIN), "-c", str(self.config), "-d", self.name,
                 "-i", "openbanking_bridge", "--without-demo=all", "--stop-after-init",
                 "--log-level=warn"],
                check=True, stdout=out, stderr=subprocess.STDOUT, env=odoo_env(),
                timeout=600,
            )  # fmt: skip
        return self

    def __exit__(self, *exc_info):
        subprocess.run(
            ["dropdb", "--if-exists", "-h", DB_HOST, "-U", DB_USER, self.name],
            env={**os.environ, "PGPASSWORD": DB_PASSWORD},
            check=False,
            timeout=120,
        )
        self.config.unlink(missing_ok=True)

    def shell(self, code, timeout=1800):
        """Run `code` in `odoo-bin shell` on this database; return its stdout.

        The code sees `env`, and must commit what it wants kept (a benchmark's
        set-up, never business code).
        """
        result = subprocess.run(
            [str(ODOO_PY), str(ODOO_BIN), "shell", "-c", str(self.config),
             "-d", self.name, "--no-http", "--log-level=warn"],
            input=textwrap.dedent(code), capture_output=True, text=True,
            env=odoo_env(), timeout=timeout, check=False,
        )  # fmt: skip
        if result.returncode != 0 or "Traceback" in result.stderr:
            raise RuntimeError(f"odoo shell failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def sql(self, query):
        """One value from a read-only query, through psql."""
        result = subprocess.run(
            ["psql", "-XAtq", "-h", DB_HOST, "-U", DB_USER, "-d", self.name,
             "-c", query],
            capture_output=True, text=True, check=True, timeout=60,
            env={**os.environ, "PGPASSWORD": DB_PASSWORD},
        )  # fmt: skip
        return result.stdout.strip()


def odoo_env():
    return {**os.environ, "PYTHONPATH": f"{ODOO_HOME}/src"}


class OdooServer:
    """Odoo serving one database on 127.0.0.1 with HTTP and cron workers."""

    def __init__(self, database, workers=2, cron_workers=1, extra=()):
        self.database = database
        self.port = free_port()
        self.workers = workers
        self.cron_workers = cron_workers
        self.extra = list(extra)
        self.process = None
        self.log = VAR / f"{database.name}-server.log"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [str(ODOO_PY), str(ODOO_BIN), "-c", str(self.database.config),
             "-d", self.database.name, f"--db-filter=^{self.database.name}$",
             "--http-interface=127.0.0.1", f"--http-port={self.port}",
             f"--workers={self.workers}", f"--max-cron-threads={self.cron_workers}",
             "--log-level=warn", *self.extra],
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

    def worker_pids(self):
        """{pid: title} of the master's children (titled by setproctitle)."""
        children = pathlib.Path(
            f"/proc/{self.process.pid}/task/{self.process.pid}/children"
        )
        pids = [int(pid) for pid in children.read_text().split()]
        return {pid: cmdline(pid) for pid in pids}


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
