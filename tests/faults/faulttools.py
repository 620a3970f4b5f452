"""Dependencies a fault test may stop and start again, all private to the test: a PostgreSQL cluster and a
Redis server on free loopback ports (never the shared ones at 5432 and 6379), and ``licensing serve`` as
a real process configured only through its environment.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from livetools import free_port, serve_process, served_environment

STOP_TIMEOUT = 20.0


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> None:
    """Wait until ``condition()`` is true, failing the test with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(poll)


# --- a private PostgreSQL cluster ----------------------------------------------------------------
def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own in a temporary folder, on a free port of 127.0.0.1.
    initdb refuses to run as root, so as root the cluster runs as the ``postgres`` user."""

    def __init__(self, bindir: Path, root: Path, as_user: str | None) -> None:
        self.bindir, self.root, self.as_user = bindir, root, as_user
        self.data = root / "data"
        self.logfile = root / "postgres.log"
        self.port = free_port()

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = [*(["runuser", "-u", self.as_user, "--"] if self.as_user else []), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.root)

    def _pg_ctl(self, *args: str) -> None:
        done = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-w", *args)
        if done.returncode != 0:
            pytest.fail(f"pg_ctl {' '.join(args)} failed:\n{done.stdout}{done.stderr}\n{self.log()}")

    def log(self) -> str:
        try:
            return self.logfile.read_text("utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def init(self) -> None:
        done = self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "-N"
        )
        if done.returncode != 0:
            pytest.skip(f"initdb could not make a private PostgreSQL cluster: {done.stderr.strip()[-500:]}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._pg_ctl("-o", options, "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self._pg_ctl("-m", "fast", "restart")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            admin.dispose()
        return self.url(name)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private cluster, stopped and deleted afterwards; the test is skipped (saying why) when
    this machine cannot make one (no PostgreSQL server binaries, no ``postgres`` user for root)."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin for a private cluster")
    as_user = None
    root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: initdb refuses root")
        try:
            shutil.chown(root, user="postgres", group=None)
        except (LookupError, OSError) as exc:
            shutil.rmtree(root, ignore_errors=True)
            pytest.skip(f"running as root and no postgres user to run initdb as: {exc}")
        as_user = "postgres"
    cluster = PrivatePostgres(bindir, root, as_user)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster._run(str(bindir / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(root, ignore_errors=True)


# --- a private Redis -----------------------------------------------------------------------------
class PrivateRedis:
    """``redis-server`` on a free port of 127.0.0.1, without persistence; :meth:`stop` and :meth:`start`
    take it away and bring it back on the same port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.skip("no redis-server on this machine for a private Redis")
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir"]
        with (self.root / "redis.log").open("ab") as sink:
            self.proc = subprocess.Popen(
                [server, "--port", str(self.port), *options, str(self.root)],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.answers, 20, f"the private redis-server on port {self.port} answering")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=STOP_TIMEOUT)
        self.proc = None


@contextmanager
def private_redis(root: Path) -> Iterator[PrivateRedis]:
    redis_server = PrivateRedis(root)
    redis_server.start()
    try:
        yield redis_server
    finally:
        redis_server.stop()


# --- licensing serve -----------------------------------------------------------------------------
def service_environment(root: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of ``licensing serve``: only what is given here (no ``LICENSING_*`` inherited),
    logging at INFO so the tests can read what the service said about the fault."""
    return served_environment(root, database_url, LICENSING_ISSUER="faults-test", LICENSING_LOG_LEVEL="INFO", **extra)


# ``licensing serve ARGS`` on a free port until the block ends, once ``/readyz`` answers 200.
serve = contextmanager(serve_process)


# --- an SMTP server that goes away and comes back ------------------------------------------------
class StoppableSmtp:
    """tests/mailtools.py's aiosmtpd server on a fixed loopback port that :meth:`stop` and :meth:`start`
    take away and bring back; what it received is in ``inbox``."""

    def __init__(self) -> None:
        from mailtools import Inbox

        self.inbox = Inbox()
        self.inbox.port = free_port()
        self._controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.inbox.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def stoppable_smtp() -> Iterator[StoppableSmtp]:
    """A :class:`StoppableSmtp`, not yet listening; stopped afterwards."""
    server = StoppableSmtp()
    try:
        yield server
    finally:
        server.stop()
