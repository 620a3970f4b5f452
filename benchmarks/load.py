"""Sustained mixed load on PostgreSQL with 2 workers: throughput, p99, errors and each worker's memory.

    .venv/bin/python benchmarks/load.py [--duration 120] [--connections 32] [--segment 60]

Starts ``licensing serve --workers 2`` on a fresh PostgreSQL database (127.0.0.1:5432) with
``LICENSING_SELF_SERVE_CONFIRMATION=none`` (a trial is issued at once), ``LICENSING_PUBLIC_RATE_LIMIT=0``,
a Stripe webhook secret and ``LICENSING_WORKER_IN_PROCESS=false`` (the events are stored, not
processed: processing them would call Stripe), and the bare FastAPI app of ``benchmarks/bare_app.py``
(one SQLAlchemy insert) as the baseline, each on its own database.

wrk (``-t2``, ``--connections``) sends a mix rendered beforehand (``benchmarks/requests.lua``), in
every ten requests: 4 refreshes (``POST /v1/licenses/refresh`` of 20 different license files),
2 issuances (``POST /v1/licenses``), 2 trials (``POST /v1/trials``, each a new organisation) and
2 Stripe webhooks (``POST /v1/webhooks/stripe``, each a distinct signed event). A 10-second warm-up
measures the rate; then ``--duration`` seconds (2 minutes by default) in segments of ``--segment``
seconds, each with freshly signed events (Stripe's signatures are good for 5 minutes); after each
segment the bare app takes the same wrk load for ``--baseline`` seconds.

Prints throughput, p50/p99 and errors (target 0), the ratio mix/bare, and each uvicorn worker's
resident memory (``VmRSS`` from ``/proc``) after the warm-up and at the end (target: growth under 10%).
Exits 1 on an error or a missed target. Everything it started is stopped and removed on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchkit  # noqa: E402

THREADS = 2
WARMUP = 10.0
MEMORY_GROWTH_TARGET = 0.10
REFRESH_FILES = 20
HEADROOM = 2.5  # requests rendered per segment: this many times the warm-up's rate


class Mix:
    """Renders the mixed requests, every trial a new organisation and every webhook a new event."""

    def __init__(self, port: int, auth: dict[str, str], issue_body: str, license_files: list[str], tag: str) -> None:
        self.port, self.auth, self.issue_body, self.tag = port, auth, issue_body, tag
        self.refresh = [json.dumps({"license_file": f}) for f in license_files]
        self.template = json.loads((HERE / "stripe_event.json").read_text("utf-8"))
        self.trials = 0
        self.segments = 0

    def render(self, count: int) -> Iterator[bytes]:
        self.segments += 1
        tens = max(1, count // 10)
        hooks = iter(benchkit.webhook_requests(self.template, self.port, 2 * tens, f"{self.tag}s{self.segments}"))
        raw = benchkit.raw_request
        for i in range(tens):
            for j in range(4):
                yield raw("POST", "/v1/licenses/refresh", self.port, self.refresh[(4 * i + j) % len(self.refresh)])
            for _ in range(2):
                yield raw("POST", "/v1/licenses", self.port, self.issue_body, self.auth)
            for _ in range(2):
                self.trials += 1
                body = {
                    "email": f"it@load{self.tag}t{self.trials}.com",
                    "company": f"Load {self.trials} Ltd",
                    "seats": 25,
                    "accept_terms": True,
                }
                yield raw("POST", "/v1/trials", self.port, json.dumps(body))
            yield next(hooks)
            yield next(hooks)


def ok_status(status: int) -> bool:
    return status in (200, 201)


def run(args: argparse.Namespace) -> int:
    tag = f"{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="licensing-bench-load-"))
    mix_figures, bare_figures = benchkit.Figures(), benchkit.Figures()
    memory_start: dict[int, int] = {}
    memory_end: dict[int, int] = {}
    try:
        with (
            benchkit.fresh_database(f"licensing_bench_load_{tag}") as service_url,
            benchkit.fresh_database(f"licensing_bench_lbare_{tag}") as bare_url,
        ):
            env = benchkit.service_env(
                service_url,
                work,
                LICENSING_STRIPE_WEBHOOK_SECRET=benchkit.WEBHOOK_SECRET,
                LICENSING_WORKER_IN_PROCESS="false",
                LICENSING_SELF_SERVE_CONFIRMATION="none",
            )
            token = benchkit.prepare_service(env, work)
            with benchkit.service_and_bare(env, work, bare_url) as (s, bare):
                port, bare_port = s.port, bare.port
                auth = {"Authorization": f"Bearer {token}"}
                status, customer = benchkit.http_json(
                    "POST",
                    s.url + "/v1/customers",
                    {"name": "Load", "email": "load@example.com", "company": "Load"},
                    auth,
                )
                assert status == 201, customer
                issue = {"customer_id": customer["id"], "tier": "professional", "seats": 25, "duration_days": 365}
                files = []
                for _ in range(REFRESH_FILES):
                    status, issued = benchkit.http_json("POST", s.url + "/v1/licenses", issue, auth)
                    assert status == 201, issued
                    files.append(issued["license_file"])
                mix = Mix(port, auth, json.dumps(issue), files, tag)
                bare_requests = benchkit.write_requests(
                    work / "bare.bin",
                    [
                        benchkit.raw_request(
                            "POST", "/rows", bare_port, json.dumps({"name": "L", "email": "l@x.io", "seats": 2})
                        )
                    ],
                )

                def segment(seconds: float, rate: float) -> benchkit.Figures:
                    path = benchkit.write_requests(work / "mix.bin", mix.render(int(rate * seconds * HEADROOM) + 1000))
                    try:
                        return benchkit.wrk(s.url, path, seconds, args.connections, THREADS)
                    finally:
                        path.unlink()

                print(
                    f"licensing serve --workers {benchkit.WORKERS} on PostgreSQL; wrk -t{THREADS} -c{args.connections}; "
                    "per 10 requests: 4 refresh, 2 issuance, 2 trials, 2 webhooks",
                    flush=True,
                )
                warm = segment(WARMUP, 600)
                benchkit.wrk(bare.url, bare_requests, 3, args.connections, THREADS)
                rate = max(warm.rate, 50.0)
                workers = s.workers()
                memory_start = {pid: benchkit.rss_kib(pid) for pid in workers}
                print(f"warm-up: {warm.rate:.0f} req/s; workers {workers}; measuring {args.duration:g} s", flush=True)
                left = args.duration
                load_before = os.getloadavg()[0]
                while left > 0:
                    seconds = min(args.segment, left)
                    figures = segment(seconds, rate)
                    mix_figures.add(figures)
                    bare_figures.add(benchkit.wrk(bare.url, bare_requests, args.baseline, args.connections, THREADS))
                    left -= seconds
                    print(
                        f"  segment: {figures.rate:.0f} req/s, p99 {figures.mean(figures.p99):.0f} ms, "
                        f"errors {figures.errors(ok_status)}; bare {bare_figures.rate:.0f} req/s",
                        flush=True,
                    )
                memory_end = {pid: benchkit.rss_kib(pid) for pid in s.workers() if pid in memory_start}
                print(
                    f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report(mix_figures, bare_figures, memory_start, memory_end)


def report(mix: benchkit.Figures, bare: benchkit.Figures, start: dict[int, int], end: dict[int, int]) -> int:
    print()
    print(f"{'load':<38} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}")
    ok = True
    for label, f, good in (
        ("mix (refresh, issue, trial, webhook)", mix, ok_status),
        ("bare POST /rows (baseline)", bare, lambda s: s == 201),
    ):
        errors = f.errors(good)
        ok = ok and errors == 0
        print(f"{label:<38} {f.rate:>9.1f} {f.mean(f.p50):>8.1f} {f.mean(f.p99):>8.1f} {f.requests:>9} {errors:>7}")
        if errors:
            print(f"    statuses {f.statuses}\n{f.first_output}")
    print("(p50 and p99: the mean of the segments' figures)")
    print(f"statuses of the mix: {dict(sorted(mix.statuses.items()))}")
    ratio = mix.rate / bare.rate if bare.rate else 0.0
    print(f"\nmix/bare = {ratio:.2f} (no target: the mix signs, verifies and writes more than one insert)")
    print("\nuvicorn workers' resident memory (VmRSS):")
    for pid, before in start.items():
        after = end.get(pid)
        if after is None:
            ok = False
            print(f"  worker {pid}: {before / 1024:.1f} MiB after warm-up; GONE at the end (restarted?)")
            continue
        growth = (after - before) / before
        met = growth < MEMORY_GROWTH_TARGET
        ok = ok and met
        print(
            f"  worker {pid}: {before / 1024:.1f} MiB after warm-up, {after / 1024:.1f} MiB at the end: "
            f"{growth:+.1%} (target < {MEMORY_GROWTH_TARGET:.0%}) {'ok' if met else 'MISSED'}"
        )
    if not start:
        ok = False
        print("  no worker processes found")
    print("\nall targets met" if ok else "\na target was MISSED or a request failed")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--duration", type=float, default=120.0, help="seconds of mixed load measured (>= 120 by the issue)"
    )
    parser.add_argument("--segment", type=float, default=60.0, help="seconds per wrk run (signatures last 5 minutes)")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of the bare app after each segment")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not (5 <= args.duration <= 3600 and 5 <= args.segment <= 240 and 2 <= args.baseline <= 60):
        parser.error("--duration in [5, 3600], --segment in [5, 240], --baseline in [2, 60]")
    if not 2 <= args.connections <= 256:
        parser.error("--connections in [2, 256]")
    benchkit.require_wrk(parser)
    benchkit.run_until_interrupted(run, args)


if __name__ == "__main__":
    main()
