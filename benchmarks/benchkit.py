"""What the HTTP benchmarks share: fresh PostgreSQL databases, the servers they start and stop, the
``licensing`` command line, and wrk (Debian's native load generator; ``make bench`` installs it)
driven with pre-rendered raw requests (``benchmarks/requests.lua``).

A Python client is never the load: it would take as much CPU per request as the service on 2 cores.
Python only renders the requests beforehand and reads wrk's figures.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("LICENSING_BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
WORKERS = 2
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
REQUESTS_LUA = HERE / "requests.lua"
WEBHOOK_SECRET = "whsec_benchmark_9b1c4d7e2f0a8c6b5d3e1f7a9c2b4d6e"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- databases and processes -------------------------------------------------------------------
@contextlib.contextmanager
def fresh_database(name: str) -> Iterator[str]:
    """A new empty PostgreSQL database, dropped on the way out."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    port: int

    def workers(self) -> list[int]:
        """The pids of the uvicorn worker processes (the children of the supervisor, not its helpers)."""
        pids = []
        for child in _children(self.proc.pid):
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"resource_tracker" not in cmdline:
                pids.append(child)
        return sorted(pids)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def rss_kib(pid: int) -> int:
    """A process's resident set size from /proc, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def http_get(url: str, headers: Mapping[str, str] | None = None, timeout: float = 10) -> tuple[int, bytes, Any]:
    """One plain GET (set-up and checks only, never the load): status, body, headers."""
    request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310 (loopback URLs we built)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


def http_json(method: str, url: str, body: Any, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
    """One JSON request (set-up only): status and the decoded answer."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@contextlib.contextmanager
def running(name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int, log: Path) -> Iterator[Server]:
    """Start a server process (in its own process group), wait for it to answer, stop it on the way out."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            try:
                # Any HTTP answer means it is listening (the bare app has no health endpoint).
                http_get(base_url + "/readyz", timeout=2)
                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start in {START_TIMEOUT:.0f} s:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        server = Server(name, base_url, proc, port)
        # Every worker answers before the figures start (2 workers, 2 processes under the supervisor).
        while len(server.workers()) < WORKERS and time.monotonic() < deadline:
            time.sleep(0.1)
        yield server
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)


def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "licensing"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"licensing {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def service_env(database_url: str, work: Path, **extra: str) -> dict[str, str]:
    """The environment of ``licensing serve`` for a benchmark: this database, keys under ``work``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
    env.update(
        LICENSING_DATABASE_URL=database_url,
        LICENSING_KEYS_DIR=str(work / "keys"),
        LICENSING_PUBLIC_RATE_LIMIT="0",
        LICENSING_LOG_LEVEL="WARNING",
        LICENSING_ISSUER="bench",
    )
    env.update(extra)
    return env


def prepare_service(env: dict[str, str], work: Path) -> str:
    """A signing key, the schema and a sales API key for ``licensing serve`` in ``env``: the key's token."""
    cli(env, work, "keys", "generate")
    cli(env, work, "db", "upgrade")
    return cli(env, work, "apikeys", "create", "--name", "bench", "--role", "sales").strip().splitlines()[-1]


@contextlib.contextmanager
def service_and_bare(env: dict[str, str], work: Path, bare_url: str) -> Iterator[tuple[Server, Server]]:
    """``licensing serve`` in ``env`` and the bare app (its table made in ``bare_url``), both running."""
    import bare_app

    engine = sa.create_engine(bare_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(bare_app.TABLE_DDL)
    engine.dispose()
    port, bare_port = free_port(), free_port()
    bare_env = {**env, "BENCH_DATABASE_URL": bare_url}
    with (
        running("licensing serve", serve_argv(port), env, work, port, work / "serve.log") as service,
        running("bare app", bare_argv(bare_port), bare_env, work, bare_port, work / "bare.log") as bare,
    ):
        yield service, bare


def serve_argv(port: int) -> list[str]:
    return [str(BIN / "licensing"), "serve", "--port", str(port), "--workers", str(WORKERS)]


def bare_argv(port: int) -> list[str]:
    return [sys.executable, str(HERE / "bare_app.py"), "--port", str(port), "--workers", str(WORKERS)]


def run_until_interrupted(run: Callable[[Any], int], args: Any) -> None:
    """Exit with ``run(args)``'s code; a stop signal or Ctrl-C stops everything started, once, and exits 130."""

    def terminate(signum: int, _frame: Any) -> None:
        # Once: a second Ctrl-C must not cut the clean-up short.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in STOP_SIGNALS:
        signal.signal(sig, terminate)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        code = run(args)
    except KeyboardInterrupt:
        print("\ninterrupted; everything started was stopped", file=sys.stderr)
        code = 130
    sys.exit(code)


def require_wrk(parser: Any) -> None:
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed: `make bench` installs it (apt-get install wrk)")


# --- requests and wrk --------------------------------------------------------------------------
def raw_request(
    method: str, path: str, port: int, body: bytes | str | None = None, headers: Mapping[str, str] | None = None
) -> bytes:
    """One whole HTTP/1.1 request as wrk sends it (keep-alive; JSON when there is a body)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    payload = body.encode() if isinstance(body, str) else body
    all_headers = dict(headers or {})
    if payload is not None:
        all_headers.setdefault("Content-Type", "application/json")
        all_headers["Content-Length"] = str(len(payload))
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + (payload or b"")
    if b"\0" in raw:
        raise ValueError("a request with a NUL byte cannot go through requests.lua")
    return raw


def write_requests(path: Path, requests: Iterable[bytes]) -> Path:
    with path.open("wb") as sink:
        for raw in requests:
            sink.write(raw + b"\0")
    return path


@dataclass
class Figures:
    """One wrk run's (or several runs') figures: latencies in milliseconds."""

    requests: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    socket_errors: int = 0
    p50: list[float] = field(default_factory=list)
    p95: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    first_output: str | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def errors(self, ok: Callable[[int], bool] = lambda s: 200 <= s < 400) -> int:
        return self.socket_errors + sum(n for status, n in self.statuses.items() if not ok(status))

    def add(self, other: Figures) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.socket_errors += other.socket_errors
        self.p50 += other.p50
        self.p95 += other.p95
        self.p99 += other.p99
        self.first_output = self.first_output or other.first_output

    @staticmethod
    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else float("nan")


def wrk(
    base_url: str, requests_file: Path, seconds: float, connections: int, threads: int = 2, timeout: str = "30s"
) -> Figures:
    """One wrk run of ``requests.lua`` over ``requests_file``; its figures."""
    threads = max(1, min(threads, connections))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", timeout]
    command += ["-s", str(REQUESTS_LUA), base_url, "--", str(requests_file), str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, check=False)
    match = re.search(r"^BENCH (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    data = json.loads(match.group(1))
    figures = Figures(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        statuses={int(k): v for k, v in data["statuses"].items()},
        socket_errors=data["socket_errors"],
        p50=[data["p50"] / 1000],
        p95=[data["p95"] / 1000],
        p99=[data["p99"] / 1000],
    )
    if figures.errors():
        figures.first_output = done.stdout[-800:]
    return figures


# --- Stripe webhooks --------------------------------------------------------------------------
def signed_event(template: dict[str, Any], event_id: str, now: int) -> tuple[str, bytes]:
    """One Stripe event with its own id, and its ``Stripe-Signature`` header as Stripe makes it."""
    event = copy.copy(template)
    event["id"] = event_id
    event["created"] = now
    body = json.dumps(event, indent=2).encode()
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={now},v1={digest}", body


def webhook_requests(template: dict[str, Any], port: int, count: int, tag: str) -> list[bytes]:
    now = int(time.time())
    requests = []
    for i in range(count):
        signature, body = signed_event(template, f"evt_bench{tag}{i:08d}", now)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": signature,
        }
        requests.append(raw_request("POST", "/v1/webhooks/stripe", port, body, headers))
    return requests
