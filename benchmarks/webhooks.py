"""Stripe webhook intake (verify the signature, store the event once, answer) against the bare insert
baseline of benchmarks/api.py, measured in the same run with the same load generator (wrk).

Starts, each on PostgreSQL at 127.0.0.1:5432 in a fresh database of its own and with 2 uvicorn workers:

- the service (``licensing serve --workers 2``: migrated, a signing key, a webhook secret,
  ``LICENSING_WORKER_IN_PROCESS=false`` so only intake is measured, ``LICENSING_LOG_LEVEL=WARNING``);
- the bare FastAPI app of ``benchmarks/bare_app.py``, whose one endpoint inserts one row.

The load is ``wrk`` (Debian's package; ``make bench`` installs it) with 2 threads and 32 connections on
127.0.0.1. Every webhook request is a distinct Stripe event (a real ``checkout.session.completed``
payload of about 3.5 KB with its own id), signed as Stripe signs it just before its round, so each
one is verified and stored; a round's events are written to a file the wrk script
(``benchmarks/webhooks.lua``) reads. The two endpoints take turns in ``--rounds`` rounds, so a change
in the machine's other load falls on both alike. At the end the stored events are counted: every
answered request must have stored one.

Prints requests/s, p50 and p99 latency and errors for each, and the ratio webhook/bare (target >= 0.5).

    .venv/bin/python benchmarks/webhooks.py [--duration 10] [--warmup 2] [--rounds 5] [--connections 32]

Exits 1 when the target is missed or a request failed. Everything it started (processes, databases,
temporary files) is stopped and removed on the way out, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
WORKERS = 2
THREADS = 2
TARGET = 0.5
SECRET = "whsec_benchmark_9b1c4d7e2f0a8c6b5d3e1f7a9c2b4d6e"
EVENTS_PER_SECOND_CEILING = 6000  # events signed per round: far above what 2 cores take in


sys.path.insert(0, str(HERE))
import bare_app  # noqa: E402
import benchkit as bench_api  # noqa: E402  (fresh databases, servers, the CLI: shared with api.py)


# --- the load ----------------------------------------------------------------------------------
def signed_events(template: dict[str, Any], count: int, tag: str) -> bytes:
    """``count`` distinct events as wrk's script reads them: ``signature\\tbody\\0`` each, signed now."""
    records = []
    now = int(time.time())
    for i in range(count):
        event = copy.copy(template)
        event["id"] = f"evt_bench{tag}{i:08d}"
        event["created"] = now
        body = json.dumps(event, indent=2).encode()
        digest = hmac.new(SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
        records.append(f"t={now},v1={digest}\t".encode() + body + b"\0")
    return b"".join(records)


@dataclass
class Result:
    name: str
    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _millis(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, seconds: float, connections: int, script: Path | None = None, *args: str) -> dict[str, Any]:
    """One wrk run; its figures."""
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "30s",
    ]
    if script is not None:
        command += ["-s", str(script), url, "--", *args]
    else:
        command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, check=False)
    out = done.stdout
    if done.returncode != 0 or "requests in" not in out:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{out}{done.stderr}")
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    assert total is not None
    figures: dict[str, Any] = {
        "requests": int(total.group(1)),
        "seconds": _millis(total.group(2) + total.group(3)) / 1000,
        "non2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
        "socket": sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
        "p50": _millis(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99": _millis(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "output": out,
    }
    return figures


def bare_script(work: Path) -> Path:
    """wrk script for the baseline: the same JSON body as benchmarks/api.py's bare insert."""
    body = json.dumps({"name": "Bench Ltd", "email": "bench@example.com", "seats": 25})
    script = work / "bare.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {json.dumps(body)}\n',
        "utf-8",
    )
    return script


def record(result: Result, figures: dict[str, Any]) -> None:
    result.requests += figures["requests"]
    result.seconds += figures["seconds"]
    errors = figures["non2xx"] + figures["socket"]
    result.errors += errors
    result.p50.append(figures["p50"])
    result.p99.append(figures["p99"])
    if errors and result.first_error is None:
        result.first_error = figures["output"][-600:]


# --- the run -----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    tag = f"{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="licensing-bench-webhooks-"))
    template = json.loads((HERE / "stripe_event.json").read_text("utf-8"))
    round_seconds = args.duration / args.rounds
    per_round = int(EVENTS_PER_SECOND_CEILING * (max(round_seconds, args.warmup) + 1))
    results = {"webhook": Result("webhook"), "bare": Result("bare")}
    stored = 0
    try:
        with (
            bench_api.fresh_database(f"licensing_bench_hooks_{tag}") as service_url,
            bench_api.fresh_database(f"licensing_bench_hbare_{tag}") as bare_url,
        ):
            env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
            env.update(
                LICENSING_DATABASE_URL=service_url,
                LICENSING_KEYS_DIR=str(work / "keys"),
                LICENSING_LOG_LEVEL="WARNING",
                LICENSING_ISSUER="bench",
                LICENSING_STRIPE_WEBHOOK_SECRET=SECRET,
                LICENSING_WORKER_IN_PROCESS="false",
                LICENSING_PUBLIC_RATE_LIMIT="0",
            )
            bench_api.cli(env, work, "keys", "generate")
            bench_api.cli(env, work, "db", "upgrade")
            engine = sa.create_engine(bare_url)
            with engine.begin() as conn:
                conn.exec_driver_sql(bare_app.TABLE_DDL)
            engine.dispose()
            service_port, bare_port = bench_api.free_port(), bench_api.free_port()
            service_argv = [str(BIN / "licensing"), "serve", "--port", str(service_port), "--workers", str(WORKERS)]
            bare_argv = [sys.executable, str(HERE / "bare_app.py"), "--port", str(bare_port), "--workers", str(WORKERS)]
            with (
                bench_api.running(
                    "licensing serve", service_argv, env, work, service_port, work / "serve.log"
                ) as service_server,
                bench_api.running(
                    "bare app", bare_argv, {**env, "BENCH_DATABASE_URL": bare_url}, work, bare_port, work / "bare.log"
                ) as bare_server,
            ):
                service, bare = service_server.url, bare_server.url
                bare_lua = bare_script(work)
                hooks_lua = HERE / "webhooks.lua"

                def webhooks(seconds: float, label: str) -> dict[str, Any]:
                    events = work / f"events-{label}.bin"
                    events.write_bytes(signed_events(template, per_round, f"{tag}{label}"))
                    try:
                        return wrk(service, seconds, args.connections, hooks_lua, str(events), str(THREADS))
                    finally:
                        events.unlink()

                print(
                    f"{WORKERS} uvicorn workers each; wrk -t{THREADS} -c{args.connections}; {args.warmup:g} s warm-up, "
                    f"then {args.duration:g} s per endpoint in {args.rounds} alternating rounds; PostgreSQL at "
                    f"127.0.0.1; each webhook a distinct signed {len(json.dumps(template, indent=2))}-byte event",
                    flush=True,
                )
                load_before = os.getloadavg()[0]
                wrk(bare + "/rows", args.warmup, args.connections, bare_lua)
                warm_hooks = webhooks(args.warmup, "w")
                for round_number in range(args.rounds):
                    record(results["bare"], wrk(bare + "/rows", round_seconds, args.connections, bare_lua))
                    record(results["webhook"], webhooks(round_seconds, str(round_number)))
                print(
                    f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs "
                    "(wrk, both servers and PostgreSQL share them)"
                )
            engine = sa.create_engine(service_url)
            with engine.connect() as conn:
                stored = int(conn.exec_driver_sql("SELECT count(*) FROM stripe_events").scalar_one())
            engine.dispose()
            answered = warm_hooks["requests"] - warm_hooks["non2xx"] + results["webhook"].requests
            answered -= results["webhook"].errors
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # wrk does not count the requests still in flight when a run ends, though the server may have stored them.
    return report(results, stored, answered, in_flight=args.connections * (args.rounds + 1))


def report(results: dict[str, Result], stored: int, answered: int, in_flight: int) -> int:
    print()
    print(f"{'endpoint':<40} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'requests':>9} {'errors':>7}")
    labels = {
        "webhook": "webhook   POST /v1/webhooks/stripe",
        "bare": "bare      POST /rows (one insert)",
    }
    for key in ("webhook", "bare"):
        r = results[key]
        p50 = sum(r.p50) / len(r.p50) if r.p50 else float("nan")
        p99 = sum(r.p99) / len(r.p99) if r.p99 else float("nan")
        print(f"{labels[key]:<40} {r.rate:>9.1f} {p50:>9.1f} {p99:>9.1f} {r.requests:>9} {r.errors:>7}")
        if r.first_error:
            print(f"    first error: {r.first_error}")
    print("(p50 and p99: the mean of the rounds' figures)")
    ok = True
    ratio = results["webhook"].rate / results["bare"].rate if results["bare"].rate else 0.0
    met = ratio >= TARGET
    print()
    print(f"webhook/bare = {ratio:.2f} (target >= {TARGET}) {'ok' if met else 'MISSED'}")
    print(f"stored events: {stored} for {answered} answered webhook requests")
    if not answered <= stored <= answered + in_flight:
        ok = False
        print("MISMATCH: every answered webhook should have stored exactly one new event")
    if any(r.errors for r in results.values()):
        ok = False
        print("some requests failed")
    return 0 if ok and met else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per endpoint")
    parser.add_argument("--rounds", type=int, default=5, help="the endpoints take turns, this many times")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not (0 < args.duration <= 120 and 1 <= args.warmup <= 60 and 2 <= args.connections <= 256):
        parser.error("--duration must be in (0, 120], --warmup in [1, 60], --connections in [2, 256]")
    if not 1 <= args.rounds <= 20 or args.duration / args.rounds < 1:
        parser.error("--rounds must be in [1, 20], with at least one second per round")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed: `make bench` installs it (apt-get install wrk)")

    bench_api.run_until_interrupted(run, args)


if __name__ == "__main__":
    main()
