"""API throughput against a baseline measured in the same run, driven by wrk.

Starts, each on PostgreSQL at 127.0.0.1:5432 in a fresh database of its own and with 2 uvicorn workers:

- the service (``licensing serve --workers 2``: migrated, a signing key, a sales API key, a Stripe
  webhook secret, ``LICENSING_PUBLIC_RATE_LIMIT=0``, ``LICENSING_WORKER_IN_PROCESS=false`` so only
  intake is measured, ``LICENSING_LOG_LEVEL=WARNING``);
- a bare FastAPI app (``benchmarks/bare_app.py``, the same ``uvicorn.run`` settings) whose one
  endpoint inserts one row through SQLAlchemy: the baseline.

The load is wrk (Debian's package; ``make bench`` installs it), 2 threads and 32 connections on
127.0.0.1, sending requests rendered beforehand (``benchmarks/requests.lua``): a warm-up, then
``--duration`` seconds per endpoint taken in ``--rounds`` alternating rounds, so a change in the
machine's other load falls on all alike. Endpoints:

- issuance ``POST /v1/licenses`` (a sales API key), refresh ``POST /v1/licenses/refresh``;
- webhook intake ``POST /v1/webhooks/stripe``: every request a distinct ``checkout.session.completed``
  event (``stripe_event.json``, about 3.5 KB) signed as Stripe signs it just before its round; at the
  end the stored events are counted, and every answered request must have stored one;
- the poll of a self-hosted server: ``GET /.well-known/jwks.json`` and ``GET /v1/revocations``, each
  without and with ``If-None-Match`` (the ``ETag`` the first answer gave). The benchmark works whether
  or not the service answers ``ETag``/``304``, and says which it did.

Prints requests/s, p50 and p99 latency (the mean of the rounds' figures) and errors of each, and the
ratios issuance/bare (target >= 0.6), refresh/bare (>= 0.8), webhook/bare (>= 0.5); the poll's ratios
are printed without a target.

    .venv/bin/python benchmarks/api.py [--duration 10] [--warmup 2] [--rounds 5] [--connections 32]

Everything shares the machine's CPUs (wrk, both servers and PostgreSQL), so compare the ratios, not the
absolute figures. Exits 1 when a target is missed or a request failed. Everything it started
(processes, databases, temporary files) is stopped and removed on the way out, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchkit  # noqa: E402
import sqlalchemy as sa  # noqa: E402

ISSUANCE_TARGET = 0.6
REFRESH_TARGET = 0.8
WEBHOOK_TARGET = 0.5
THREADS = 2
EVENTS_PER_SECOND_CEILING = 3000  # webhook events signed per second of a round: above what 2 cores take in


@dataclass
class Plan:
    """One measured endpoint: the server, its requests (made fresh for each run) and what counts as an answer."""

    key: str
    label: str
    url: str
    make: Callable[[float, str], list[bytes]]
    ok: Callable[[int], bool]
    result: benchkit.Figures


def run(args: argparse.Namespace) -> int:
    tag = f"{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="licensing-bench-api-"))
    template = json.loads((HERE / "stripe_event.json").read_text("utf-8"))
    plans: list[Plan] = []
    etags: dict[str, str | None] = {}
    stored = 0
    try:
        with (
            benchkit.fresh_database(f"licensing_bench_api_{tag}") as service_url,
            benchkit.fresh_database(f"licensing_bench_bare_{tag}") as bare_url,
        ):
            env = benchkit.service_env(
                service_url,
                work,
                LICENSING_STRIPE_WEBHOOK_SECRET=benchkit.WEBHOOK_SECRET,
                LICENSING_WORKER_IN_PROCESS="false",
            )
            token = benchkit.prepare_service(env, work)
            with benchkit.service_and_bare(env, work, bare_url) as (service, bare):
                service_port, bare_port = service.port, bare.port
                auth = {"Authorization": f"Bearer {token}"}
                status, customer = benchkit.http_json(
                    "POST",
                    service.url + "/v1/customers",
                    {"name": "Bench", "email": "bench@example.com", "company": "Bench Ltd"},
                    auth,
                )
                assert status == 201, customer
                issue_body = json.dumps(
                    {"customer_id": customer["id"], "tier": "professional", "seats": 25, "duration_days": 365}
                )
                status, first = benchkit.http_json("POST", service.url + "/v1/licenses", json.loads(issue_body), auth)
                assert status == 201, first
                refresh_body = json.dumps({"license_file": first["license_file"]})
                bare_body = json.dumps({"name": "Bench Ltd", "email": "bench@example.com", "seats": 25})
                for path in ("/.well-known/jwks.json", "/v1/revocations"):
                    status, _body, headers = benchkit.http_get(service.url + path)
                    assert status == 200, (path, status)
                    etags[path] = headers.get("ETag")

                def fixed(raw: bytes) -> Callable[[float, str], list[bytes]]:
                    return lambda _seconds, _label: [raw]

                def conditional(path: str) -> bytes:
                    # Without an ETag from the service, a tag it never gave: the answer must be a 200.
                    etag = etags[path] or '"no-etag-given"'
                    return benchkit.raw_request("GET", path, service_port, headers={"If-None-Match": etag})

                def hooks(seconds: float, label: str) -> list[bytes]:
                    count = int(EVENTS_PER_SECOND_CEILING * (seconds + 1))
                    return benchkit.webhook_requests(template, service_port, count, f"{tag}{label}")

                two = lambda s: 200 <= s < 300  # noqa: E731
                poll_ok = lambda s: s in (200, 304)  # noqa: E731
                raw = benchkit.raw_request
                plans = [
                    Plan(
                        "bare",
                        "bare      POST /rows (one insert)",
                        bare.url,
                        fixed(raw("POST", "/rows", bare_port, bare_body)),
                        lambda s: s == 201,
                        benchkit.Figures(),
                    ),
                    Plan(
                        "issuance",
                        "issuance  POST /v1/licenses",
                        service.url,
                        fixed(raw("POST", "/v1/licenses", service_port, issue_body, auth)),
                        lambda s: s == 201,
                        benchkit.Figures(),
                    ),
                    Plan(
                        "refresh",
                        "refresh   POST /v1/licenses/refresh",
                        service.url,
                        fixed(raw("POST", "/v1/licenses/refresh", service_port, refresh_body)),
                        lambda s: s == 200,
                        benchkit.Figures(),
                    ),
                    Plan("webhook", "webhook   POST /v1/webhooks/stripe", service.url, hooks, two, benchkit.Figures()),
                    Plan(
                        "jwks",
                        "jwks      GET /.well-known/jwks.json",
                        service.url,
                        fixed(raw("GET", "/.well-known/jwks.json", service_port)),
                        lambda s: s == 200,
                        benchkit.Figures(),
                    ),
                    Plan(
                        "jwks304",
                        "jwks      ... If-None-Match",
                        service.url,
                        fixed(conditional("/.well-known/jwks.json")),
                        poll_ok,
                        benchkit.Figures(),
                    ),
                    Plan(
                        "revocations",
                        "revoked   GET /v1/revocations",
                        service.url,
                        fixed(raw("GET", "/v1/revocations", service_port)),
                        lambda s: s == 200,
                        benchkit.Figures(),
                    ),
                    Plan(
                        "revocations304",
                        "revoked   ... If-None-Match",
                        service.url,
                        fixed(conditional("/v1/revocations")),
                        poll_ok,
                        benchkit.Figures(),
                    ),
                ]
                print(
                    f"{benchkit.WORKERS} uvicorn workers each; wrk -t{THREADS} -c{args.connections}; "
                    f"{args.warmup:g} s warm-up, then {args.duration:g} s per endpoint in {args.rounds} alternating "
                    "rounds; PostgreSQL at 127.0.0.1",
                    flush=True,
                )
                load_before = os.getloadavg()[0]
                warm_hooks = 0
                for plan in plans:
                    figures = drive(plan, work, args.warmup, args.connections, "w")
                    if plan.key == "webhook":
                        warm_hooks = sum(n for s, n in figures.statuses.items() if plan.ok(s))
                for round_number in range(args.rounds):
                    for plan in plans:
                        seconds = args.duration / args.rounds
                        plan.result.add(drive(plan, work, seconds, args.connections, str(round_number)))
                print(
                    f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} "
                    "CPUs (wrk, both servers and PostgreSQL share them; other load skews the figures)"
                )
            engine = sa.create_engine(service_url)
            with engine.connect() as conn:
                stored = int(conn.exec_driver_sql("SELECT count(*) FROM stripe_events").scalar_one())
            engine.dispose()
            hooks_plan = next(p for p in plans if p.key == "webhook")
            answered = warm_hooks + sum(n for s, n in hooks_plan.result.statuses.items() if hooks_plan.ok(s))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # wrk does not count the requests still in flight when a run ends, though the server may have stored them.
    in_flight = args.connections * (args.rounds + 1)
    return report(plans, etags, stored, answered, in_flight)


def drive(plan: Plan, work: Path, seconds: float, connections: int, label: str) -> benchkit.Figures:
    path = benchkit.write_requests(work / f"{plan.key}-{label}.bin", plan.make(seconds, label))
    try:
        return benchkit.wrk(plan.url, path, seconds, connections, THREADS)
    finally:
        path.unlink()


def report(plans: list[Plan], etags: dict[str, str | None], stored: int, answered: int, in_flight: int) -> int:
    print()
    print(f"{'endpoint':<40} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'requests':>9} {'errors':>7}")
    by_key = {plan.key: plan for plan in plans}
    ok = True
    for plan in plans:
        r = plan.result
        errors = r.errors(plan.ok)
        ok = ok and not errors
        print(
            f"{plan.label:<40} {r.rate:>9.1f} {r.mean(r.p50):>9.1f} {r.mean(r.p99):>9.1f} {r.requests:>9} {errors:>7}"
        )
        if errors and r.first_output:
            print(f"    statuses {r.statuses}; wrk said:\n{r.first_output}")
    print("(p50 and p99: the mean of the rounds' figures)")
    print()
    for key, path in (("jwks304", "/.well-known/jwks.json"), ("revocations304", "/v1/revocations")):
        statuses = by_key[key].result.statuses
        if etags[path]:
            print(
                f"{path}: ETag {etags[path]}; with If-None-Match answered {statuses.get(304, 0)} x 304, "
                f"{statuses.get(200, 0)} x 200"
            )
        else:
            print(f"{path}: no ETag answered (no 304 possible); with If-None-Match: {statuses.get(200, 0)} x 200")
    bare = by_key["bare"].result.rate
    print()
    for key, target in (("issuance", ISSUANCE_TARGET), ("refresh", REFRESH_TARGET), ("webhook", WEBHOOK_TARGET)):
        ratio = by_key[key].result.rate / bare if bare else 0.0
        met = ratio >= target
        ok = ok and met
        print(f"{key}/bare = {ratio:.2f} (target >= {target}) {'ok' if met else 'MISSED'}")
    for key in ("jwks", "jwks304", "revocations", "revocations304"):
        ratio = by_key[key].result.rate / bare if bare else 0.0
        print(f"{key}/bare = {ratio:.2f} (no target)")
    print(f"stored webhook events: {stored} for {answered} answered webhook requests")
    if not answered <= stored <= answered + in_flight:
        ok = False
        print("MISMATCH: every answered webhook should have stored exactly one new event")
    if not ok:
        print("a target was MISSED or a request failed")
    return 0 if ok else 1


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
    benchkit.require_wrk(parser)
    benchkit.run_until_interrupted(run, args)


if __name__ == "__main__":
    main()
