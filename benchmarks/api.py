"""API throughput against a baseline measured in the same run.

Starts, each on PostgreSQL at 127.0.0.1:5432 in a fresh database of its own and with 2 uvicorn workers:

- the service (``licensing serve --workers 2``: migrated, a signing key, a sales API key,
  ``LICENSING_PUBLIC_RATE_LIMIT=0``, ``LICENSING_LOG_LEVEL=WARNING``);
- a bare FastAPI app (``benchmarks/bare_app.py``, the same ``uvicorn.run`` settings) whose one
  endpoint inserts one row through SQLAlchemy.

Then drives each with the same load: 32 concurrent connections (one async httpx client) on
127.0.0.1, a warm-up, then a fixed duration per endpoint (10 s), taken in alternating rounds so a
change in the machine's other load falls on all three alike. Prints requests/s, p50 and p99 latency
and errors for license issuance (POST /v1/licenses), refresh (POST /v1/licenses/refresh) and the
bare insert, and the ratios issuance/bare (target >= 0.6) and refresh/bare (target >= 0.8).

    .venv/bin/python benchmarks/api.py [--duration 10] [--warmup 2] [--rounds 5] [--connections 32]

Everything shares the machine's CPUs (on 2 cores the httpx load generator itself takes about as much
CPU per request as the service), so the ratios, not the absolute figures, are what to compare.

Exits 1 when a target is missed or a request failed. Everything it started (processes, databases,
temporary files) is stopped and removed on the way out, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("LICENSING_BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
WORKERS = 2
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
ISSUANCE_TARGET = 0.6
REFRESH_TARGET = 0.8
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bare_app  # noqa: E402


def _free_port() -> int:
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


@contextlib.contextmanager
def running(name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int, log: Path) -> Iterator[str]:
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
                httpx.get(base_url + "/readyz", timeout=2)
                break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start in {START_TIMEOUT:.0f} s:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield base_url
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


# --- load --------------------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


MakeRequest = Callable[[int], dict[str, Any]]


async def _drive(
    base_url: str, make: MakeRequest, expect: int, connections: int, seconds: float
) -> tuple[int, int, list[float], str | None]:
    """Keep ``connections`` requests in flight for ``seconds``; count answers, errors, latencies."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    counter = 0
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def loop() -> None:
            nonlocal errors, first_error, counter
            while time.perf_counter() < deadline:
                counter += 1
                kwargs = make(counter)
                started = time.perf_counter()
                try:
                    response = await client.post(**kwargs)
                except httpx.HTTPError as exc:
                    errors += 1
                    first_error = first_error or f"{type(exc).__name__}: {exc}"
                    continue
                elapsed = time.perf_counter() - started
                if response.status_code != expect:
                    errors += 1
                    first_error = first_error or f"{response.status_code}: {response.text[:300]}"
                    continue
                latencies.append(elapsed)

        await asyncio.gather(*(loop() for _ in range(connections)))
    return len(latencies), errors, latencies, first_error


def measure(
    plan: list[tuple[str, str, MakeRequest, int]], connections: int, warmup: float, seconds: float, rounds: int
) -> dict[str, Result]:
    """Warm each endpoint up, then measure them in turns: ``rounds`` rounds of ``seconds / rounds`` each.

    Taking turns spreads any change in the machine's other load over all three alike, and each round
    opens new connections, so how the kernel happens to share them between the workers evens out too.
    """
    for _name, base_url, make, expect in plan:
        asyncio.run(_drive(base_url, make, expect, connections, warmup))
    results = {name: Result(name, 0, 0, 0.0, []) for name, *_ in plan}
    for _ in range(rounds):
        for name, base_url, make, expect in plan:
            started = time.perf_counter()
            count, errors, latencies, first_error = asyncio.run(
                _drive(base_url, make, expect, connections, seconds / rounds)
            )
            result = results[name]
            result.seconds += time.perf_counter() - started
            result.requests += count
            result.errors += errors
            result.latencies += latencies
            result.first_error = result.first_error or first_error
    return results


# --- the run -----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    tag = f"{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="licensing-bench-"))
    results: dict[str, Result] = {}
    try:
        with (
            fresh_database(f"licensing_bench_api_{tag}") as service_url,
            fresh_database(f"licensing_bench_bare_{tag}") as bare_url,
        ):
            # The service: a key, the schema, an API key, before it serves.
            env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
            env.update(
                LICENSING_DATABASE_URL=service_url,
                LICENSING_KEYS_DIR=str(work / "keys"),
                LICENSING_PUBLIC_RATE_LIMIT="0",
                LICENSING_LOG_LEVEL="WARNING",
                LICENSING_ISSUER="bench",
            )
            cli(env, work, "keys", "generate")
            cli(env, work, "db", "upgrade")
            token = cli(env, work, "apikeys", "create", "--name", "bench", "--role", "sales").strip().splitlines()[-1]
            # The baseline's table, by plain DDL in its own database.
            engine = sa.create_engine(bare_url)
            with engine.begin() as conn:
                conn.exec_driver_sql(bare_app.TABLE_DDL)
            engine.dispose()
            bare_env = {**env, "BENCH_DATABASE_URL": bare_url}

            service_port, bare_port = _free_port(), _free_port()
            service_argv = [str(BIN / "licensing"), "serve", "--port", str(service_port), "--workers", str(WORKERS)]
            bare_argv = [sys.executable, str(ROOT / "benchmarks" / "bare_app.py"), "--port", str(bare_port)]
            bare_argv += ["--workers", str(WORKERS)]
            with (
                running("licensing serve", service_argv, env, work, service_port, work / "serve.log") as service,
                running("bare app", bare_argv, bare_env, work, bare_port, work / "bare.log") as bare,
            ):
                auth = {"Authorization": f"Bearer {token}"}
                customer = httpx.post(
                    service + "/v1/customers",
                    json={"name": "Bench", "email": "bench@example.com", "company": "Bench Ltd"},
                    headers=auth,
                    timeout=30,
                )
                customer.raise_for_status()
                issue_body = {
                    "customer_id": customer.json()["id"],
                    "tier": "professional",
                    "seats": 25,
                    "duration_days": 365,
                }
                first = httpx.post(service + "/v1/licenses", json=issue_body, headers=auth, timeout=30)
                first.raise_for_status()
                refresh_body = {"license_file": first.json()["license_file"]}
                bare_body = {"name": "Bench Ltd", "email": "bench@example.com", "seats": 25}

                plan: list[tuple[str, str, MakeRequest, int]] = [
                    ("bare insert", bare, lambda i: {"url": "/rows", "json": bare_body}, 201),
                    (
                        "issuance",
                        service,
                        lambda i: {"url": "/v1/licenses", "json": issue_body, "headers": auth},
                        201,
                    ),
                    ("refresh", service, lambda i: {"url": "/v1/licenses/refresh", "json": refresh_body}, 200),
                ]
                print(
                    f"{WORKERS} uvicorn workers each; {args.connections} connections; {args.warmup:g} s warm-up, then "
                    f"{args.duration:g} s per endpoint in {args.rounds} alternating rounds; PostgreSQL at 127.0.0.1",
                    flush=True,
                )
                load_before = os.getloadavg()[0]
                results = measure(plan, args.connections, args.warmup, args.duration, args.rounds)
                print(
                    f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs "
                    "(the load generator, both servers and PostgreSQL share them; other load skews the figures)"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report(results)


def report(results: dict[str, Result]) -> int:
    print()
    print(f"{'endpoint':<34} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'requests':>9} {'errors':>7}")
    labels = {
        "issuance": "issuance  POST /v1/licenses",
        "refresh": "refresh   POST /v1/licenses/refresh",
        "bare insert": "bare      POST /rows (one insert)",
    }
    for key in ("issuance", "refresh", "bare insert"):
        r = results[key]
        print(
            f"{labels[key]:<34} {r.rate:>9.1f} {r.percentile(50) * 1000:>9.1f} {r.percentile(99) * 1000:>9.1f} "
            f"{r.requests:>9} {r.errors:>7}"
        )
        if r.first_error:
            print(f"    first error: {r.first_error}")
    bare = results["bare insert"].rate
    ok = True
    print()
    for key, target in (("issuance", ISSUANCE_TARGET), ("refresh", REFRESH_TARGET)):
        ratio = results[key].rate / bare if bare else 0.0
        met = ratio >= target
        ok = ok and met
        print(f"{key}/bare = {ratio:.2f} (target >= {target}) {'ok' if met else 'MISSED'}")
    if any(r.errors for r in results.values()):
        ok = False
        print("some requests failed")
    return 0 if ok else 1


def run_until_interrupted(run: Any, args: argparse.Namespace) -> None:
    """Exit with ``run(args)``'s code; a stop signal or Ctrl-C stops everything started, once, and exits 130."""

    def terminate(signum: int, _frame: Any) -> None:
        # Once: a second Ctrl-C must not cut the clean-up short.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in STOP_SIGNALS:
        signal.signal(sig, terminate)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # no "Task exception was never retrieved" on Ctrl-C
    try:
        code = run(args)
    except KeyboardInterrupt:
        print("\ninterrupted; everything started was stopped", file=sys.stderr)
        code = 130
    sys.exit(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per endpoint")
    parser.add_argument("--rounds", type=int, default=5, help="the endpoints take turns, this many times")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not (0 < args.duration <= 120 and 0 <= args.warmup <= 60 and 1 <= args.connections <= 256):
        parser.error("--duration must be in (0, 120], --warmup in [0, 60], --connections in [1, 256]")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be in [1, 20]")

    run_until_interrupted(run, args)


if __name__ == "__main__":
    main()
