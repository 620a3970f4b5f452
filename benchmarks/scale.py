"""A million licenses: the sales API and the public endpoints one request at a time, and their query plans.

    .venv/bin/python benchmarks/scale.py [--customers 100000] [--seconds 4] [--revoked 10000]

1. A fresh PostgreSQL database (at 127.0.0.1:5432), migrated by ``licensing db upgrade``, with a signing
   key and a sales API key made by the command line.
2. Bulk-loaded with COPY (psycopg 3 ``cursor.copy``), not through the API: ``--customers`` customers
   (100,000) with 10 licenses each (1,000,000), as the service writes them: every license row signed
   by the service's key with the claims ``issue_license`` signs, ids that sort by creation time. Each
   customer has a free license and a 30-day trial (both from a confirmed self-serve request: the
   leads), a Professional line bought through Stripe (a checkout, a subscription, four renewals each
   superseding the one before) and an Enterprise line issued by sales (four renewals). About a third
   of the paid lines have ended (some in grace), the rest are active. ``--revoked`` (10,000) license
   rows are revoked as ``revoke_license`` does it (the newest license of an Enterprise line and every
   license it superseded whose grace had not ended then), each with its audit event; every license
   has its ``license.issued`` audit event. The revocation list is signed by the service itself on its
   first request. Then ``VACUUM ANALYZE``.
3. ``licensing serve --workers 2`` on it; wrk (``-t1 -c1``: one request at a time) for ``--seconds``
   per endpoint, cycling over many different customers, licenses and license files; p50, p95 and p99
   of each. Targets: p95 under 20 ms for each read, under 200 ms for a revocation (which re-signs the
   list). The baseline of the ratio: a primary-key read of one row through the same path
   (``GET /v1/customers/{id}``: the API key check, a session, one SELECT by primary key).
4. The query plans: every SQL statement each measured endpoint runs (captured from the service's
   own functions, in this process, on the same database) with ``EXPLAIN (ANALYZE, BUFFERS)``; the
   revocation's statements inside a transaction rolled back.

Exits 1 when a target is missed or a request failed. The database, the server and the temporary
files are removed on the way out, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import benchkit  # noqa: E402
import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from licensing.catalog import load_catalog  # noqa: E402
from licensing.models import Customer as CustomerRow  # noqa: E402
from licensing.verify import FORMAT_VERSION  # noqa: E402

LICENSES_PER_CUSTOMER = 10
READ_TARGET_MS = 20.0
REVOKE_TARGET_MS = 200.0
SEED = 20261207
PLAN_WIDTH = 240  # characters of a statement or plan line shown (the IN lists are long)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PRO_FEATURES: list[str] = []
ENT_FEATURES: list[str] = []


def make_id(prefix: str, at: datetime, rng: random.Random) -> str:
    """An id as ``licensing.kit.db.new_id`` makes it at ``at``: 48 bits of milliseconds, 80 random bits."""
    value = (int(at.timestamp() * 1000) << 80) | rng.getrandbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return f"{prefix}_{''.join(reversed(chars))}"


# --- the data ------------------------------------------------------------------------------------
@dataclass
class Row:
    """One license row, in the licenses table's column order (see ``LICENSE_COLUMNS``)."""

    id: str
    customer_id: str
    line_id: str
    supersedes_id: str | None
    tier: str
    trial: bool
    seats: int | None
    features: list[str]
    grace_days: int
    issued_at: datetime
    starts_at: datetime
    expires_at: datetime | None
    installation_id: str | None
    subscription_id: str | None
    source: str
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoked_reason: str | None = None
    line_of: str | None = None  # revoked with the line of this newer license

    @property
    def grace_ends_at(self) -> datetime | None:
        return self.expires_at + timedelta(days=self.grace_days) if self.expires_at else None


LICENSE_COLUMNS = (
    "id, customer_id, line_id, supersedes_id, tier, trial, seats, features, grace_days, issued_at, starts_at, "
    "expires_at, grace_ends_at, installation_id, subscription_id, key_id, license_file, source, note, created_by, "
    "revoked_at, revoked_reason, revoked_by"
)


@dataclass
class Customer:
    id: str
    name: str
    email: str
    company: str
    organisation: str
    created_at: datetime
    licenses: list[Row] = field(default_factory=list)
    subscription: dict[str, Any] | None = None
    checkout: dict[str, Any] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def claim(self) -> dict[str, str | None]:
        return {"name": self.name, "email": self.email, "company": self.company}


def claims_of(row: Row, customer: Customer, issuer: str) -> dict[str, Any]:
    """What ``licensing.licenses.issuance.license_claims`` signs for this row."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "jti": row.id,
        "sub": row.customer_id,
        "ver": FORMAT_VERSION,
        "iat": int(row.issued_at.timestamp()),
        "nbf": int(row.starts_at.timestamp()),
        "tier": row.tier,
        "trial": row.trial,
        "seats": row.seats,
        "features": sorted(row.features),
        "grace_days": row.grace_days,
        "customer": customer.claim(),
    }
    if row.expires_at is not None:
        claims["exp"] = int(row.expires_at.timestamp())
    for name, value in (
        ("installation_id", row.installation_id),
        ("subscription_id", row.subscription_id),
        ("supersedes", row.supersedes_id),
    ):
        if value is not None:
            claims[name] = value
    return claims


def _line(
    customer: Customer,
    rng: random.Random,
    *,
    tier: str,
    source: str,
    seats: int | None,
    features: list[str],
    grace_days: int,
    start: datetime,
    interval: timedelta,
    count: int,
    created_by: str,
    subscription_id: str | None = None,
) -> list[Row]:
    """A line of ``count`` licenses: the first from ``start``, each renewal issued a week before the end of
    the one it supersedes, starting then and running ``interval`` past that end (as ``renew_license`` does)."""
    rows: list[Row] = []
    for k in range(count):
        issued = start if k == 0 else start + interval * k - timedelta(days=7)
        issued += timedelta(seconds=rng.randrange(3600))
        expires = start + interval * (k + 1)
        lic_id = make_id("lic", issued, rng)
        rows.append(
            Row(
                id=lic_id,
                customer_id=customer.id,
                line_id=rows[0].id if rows else lic_id,
                supersedes_id=rows[-1].id if rows else None,
                tier=tier,
                trial=False,
                seats=seats,
                features=features,
                grace_days=grace_days,
                issued_at=issued,
                starts_at=issued,
                expires_at=expires,
                installation_id=None,
                subscription_id=subscription_id,
                source=source,
                created_by=created_by,
            )
        )
    return rows


def make_customer(index: int, now: datetime, rng: random.Random) -> Customer:
    """A customer with their 10 licenses, their subscription and checkout, and their 2 self-serve requests."""
    created = now - timedelta(days=250 + rng.random() * (5 * 365 - 250))
    organisation = f"org{index:06d}.example.com"
    email = f"it@{organisation}"
    customer = Customer(
        make_id("cus", created, rng), f"Buyer {index}", email, f"Org {index} Ltd", organisation, created
    )
    # Free, then a trial a day later: each from a self-serve request confirmed at once.
    for offset, kind in ((0, "free"), (1, "trial")):
        issued = created + timedelta(days=offset, minutes=rng.randrange(600))
        expires = None if kind == "free" else issued + timedelta(days=30)
        lic_id = make_id("lic", issued, rng)
        customer.licenses.append(
            Row(
                id=lic_id,
                customer_id=customer.id,
                line_id=lic_id,
                supersedes_id=None,
                tier="free" if kind == "free" else "professional",
                trial=kind == "trial",
                seats=None if kind == "free" else 250,
                features=[] if kind == "free" else PRO_FEATURES,
                grace_days=0,
                issued_at=issued,
                starts_at=issued,
                expires_at=expires,
                installation_id=f"inst-{index:06d}-{kind}",
                subscription_id=None,
                source=kind,
                created_by=f"public:10.{index % 250}.{index // 250 % 250}.1",
            )
        )
        asked = issued - timedelta(minutes=5)
        customer.requests.append(
            {
                "id": make_id("ssr", asked, rng),
                "kind": kind,
                "status": "issued",
                "email": email,
                "name": customer.name,
                "company": customer.company,
                "organisation": organisation,
                "installation_id": f"inst-{index:06d}-{kind}",
                "seats": None if kind == "free" else 250,
                "confirm_token_hash": rng.randbytes(32).hex(),
                "poll_token_hash": rng.randbytes(32).hex(),
                "created_at": asked,
                "expires_at": asked + timedelta(hours=24),
                "confirmed_at": issued,
                "license_id": lic_id,
                "refusal_code": None,
                "created_by": f"public:10.{index % 250}.{index // 250 % 250}.1",
            }
        )
    if index % 20 == 0:  # a lead that never confirmed: pending for a day, then expired
        asked = created - timedelta(days=3)
        customer.requests.append(
            {
                **customer.requests[-1],
                "id": make_id("ssr", asked, rng),
                "status": "pending_confirmation",
                "confirm_token_hash": rng.randbytes(32).hex(),
                "poll_token_hash": rng.randbytes(32).hex(),
                "created_at": asked,
                "expires_at": asked + timedelta(hours=24),
                "confirmed_at": None,
                "license_id": None,
            }
        )
    # Paid lines: renewals every `interval`, so that about a third have ended by now (some in grace).
    paid_at = created + timedelta(days=31)
    sub_id = make_id("sub", paid_at, rng)
    checkout_id = make_id("chk", paid_at - timedelta(minutes=3), rng)
    seats = rng.randrange(1, 200)
    ent_start = paid_at + timedelta(days=rng.randrange(1, 60))
    pro = _line(
        customer,
        rng,
        tier="professional",
        source="stripe",
        seats=seats,
        features=PRO_FEATURES,
        grace_days=10,
        start=paid_at,
        interval=(now - paid_at) / rng.uniform(3.6, 4.6),
        count=4,
        created_by="stripe",
        subscription_id=sub_id,
    )
    ent = _line(
        customer,
        rng,
        tier="enterprise",
        source="api",
        seats=rng.randrange(100, 5000),
        features=ENT_FEATURES,
        grace_days=30,
        start=ent_start,
        interval=(now - ent_start) / rng.uniform(3.6, 4.6),
        count=4,
        created_by="apikey:sales",
    )
    customer.licenses += pro + ent
    newest = pro[-1]
    ended = newest.expires_at is not None and newest.expires_at <= now
    customer.checkout = {
        "id": checkout_id,
        "email": email,
        "company": customer.company,
        "name": customer.name,
        "seats": seats,
        "interval": "year",
        "price_lookup_key": "professional_yearly",
        "trial_license_id": None,
        "installation_id": None,
        "poll_token_hash": None,
        "stripe_session_id": f"cs_bench_{index:08d}",
        "status": "complete",
        "customer_id": customer.id,
        "created_by": "public:10.0.0.1",
        "created_at": paid_at - timedelta(minutes=3),
        "completed_at": paid_at,
    }
    customer.subscription = {
        "id": sub_id,
        "checkout_id": checkout_id,
        "customer_id": customer.id,
        "stripe_subscription_id": f"sub_stripe_{index:08d}",
        "stripe_customer_id": f"cus_stripe_{index:08d}",
        "status": "canceled" if ended else "active",
        "seats": seats,
        "interval": "year",
        "price_lookup_key": "professional_yearly",
        "current_period_end": newest.expires_at,
        "cancel_at_period_end": False,
        "ended_at": newest.expires_at if ended else None,
        "line_id": newest.line_id,
        "license_id": newest.id,
        "created_at": paid_at,
        "updated_at": newest.issued_at,
        "synced_at": newest.issued_at,
    }
    return customer


def revoke_some(customers: list[Customer], target: int, now: datetime, rng: random.Random) -> list[Row]:
    """Revoke Enterprise lines as ``revoke_license`` does, until ``target`` license rows are revoked: the
    newest license of the line at a time after it was issued, and every license it superseded whose grace
    had not ended then."""
    revoked: list[Row] = []
    order = list(range(len(customers)))
    rng.shuffle(order)
    for index in order:
        if len(revoked) >= target:
            break
        line = [row for row in customers[index].licenses if row.tier == "enterprise"]
        newest = line[-1]
        latest = min(now, newest.grace_ends_at or now) - timedelta(hours=1)
        if latest <= newest.issued_at:
            continue
        at = newest.issued_at + (latest - newest.issued_at) * rng.random()
        at = at.replace(microsecond=0)
        chosen = [newest] + [row for row in line[:-1] if row.grace_ends_at is None or row.grace_ends_at > at]
        if len(revoked) + len(chosen) > target:
            continue
        for row in chosen:
            row.revoked_at, row.revoked_by, row.revoked_reason = at, "apikey:sales", "Contract terminated (bench)"
            row.line_of = newest.id if row is not newest else None
        revoked += chosen
    return revoked


def bulk_load(
    database_url: str, customer_count: int, revoked_target: int, keys_dir: Path, issuer: str
) -> dict[str, Any]:
    """Everything, by COPY, in one transaction; returns what the measurements pick from."""
    from licensing.signing.keys import KeyStore

    signer = KeyStore(keys_dir).signer()
    rng = random.Random(SEED)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    customers = [make_customer(i, now, rng) for i in range(customer_count)]
    revoked = revoke_some(customers, revoked_target, now, rng)
    print(f"  generated {customer_count:,} customers in {time.perf_counter() - started:.1f} s", flush=True)
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    license_count = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        t = time.perf_counter()
        with cur.copy("COPY customers (id, name, email, company, organisation, created_at) FROM STDIN") as copy:
            for c in customers:
                copy.write_row((c.id, c.name, c.email, c.company, c.organisation, c.created_at))
        # Licenses are referenced by checkouts (none here), subscriptions and requests: they go first, in
        # the order the service wrote them (supersedes_id points at an earlier row).
        with cur.copy(f"COPY licenses ({LICENSE_COLUMNS}) FROM STDIN") as copy:
            for c in customers:
                for row in c.licenses:
                    document = signer.sign_license(claims_of(row, c, issuer))
                    copy.write_row(
                        (
                            row.id,
                            row.customer_id,
                            row.line_id,
                            row.supersedes_id,
                            row.tier,
                            row.trial,
                            row.seats,
                            json.dumps(row.features),
                            row.grace_days,
                            row.issued_at,
                            row.starts_at,
                            row.expires_at,
                            row.grace_ends_at,
                            row.installation_id,
                            row.subscription_id,
                            signer.kid,
                            document,
                            row.source,
                            None,
                            row.created_by,
                            row.revoked_at,
                            row.revoked_reason,
                            row.revoked_by,
                        )
                    )
                    license_count += 1
        print(f"  {license_count:,} signed licenses copied in {time.perf_counter() - t:.1f} s", flush=True)
        columns = list(customers[0].checkout or {})
        with cur.copy(f"COPY checkouts ({', '.join(columns)}) FROM STDIN") as copy:
            for c in customers:
                assert c.checkout is not None
                copy.write_row(tuple(c.checkout.values()))
        columns = list(customers[0].subscription or {})
        with cur.copy(f"COPY subscriptions ({', '.join(columns)}) FROM STDIN") as copy:
            for c in customers:
                assert c.subscription is not None
                copy.write_row(tuple(c.subscription.values()))
        columns = list(customers[0].requests[0])
        with cur.copy(f"COPY self_serve_requests ({', '.join(columns)}) FROM STDIN") as copy:
            for c in customers:
                for req in c.requests:
                    copy.write_row(tuple(req.values()))
        t = time.perf_counter()
        audit = "COPY audit_events (occurred_at, actor, action, subject_type, subject_id, data) FROM STDIN"
        with cur.copy(audit) as copy:
            events: list[tuple[datetime, str, str, str, str, str]] = []
            for c in customers:
                for row in c.licenses:
                    data = {
                        "customer_id": row.customer_id,
                        "tier": row.tier,
                        "trial": row.trial,
                        "seats": row.seats,
                        "features": row.features,
                        "starts_at": row.starts_at.isoformat(),
                        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
                        "grace_days": row.grace_days,
                        "installation_id": row.installation_id,
                        "subscription_id": row.subscription_id,
                        "supersedes": row.supersedes_id,
                        "source": row.source,
                        "key_id": signer.kid,
                    }
                    data = {k: v for k, v in data.items() if v is not None}
                    events.append(
                        (row.issued_at, row.created_by, "license.issued", "license", row.id, json.dumps(data))
                    )
            for row in revoked:
                assert row.revoked_at is not None
                data = {"reason": row.revoked_reason}
                if row.line_of is not None:
                    data["line_of"] = row.line_of
                events.append((row.revoked_at, "apikey:sales", "license.revoked", "license", row.id, json.dumps(data)))
            events.sort(key=lambda e: e[0])
            for event in events:
                copy.write_row(event)
        print(f"  {len(events):,} audit events copied in {time.perf_counter() - t:.1f} s", flush=True)
        conn.commit()
    t = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE in {time.perf_counter() - t:.1f} s", flush=True)
    pick = random.Random(SEED + 1)
    everything = [(c, row) for c in pick.sample(customers, min(2000, len(customers))) for row in c.licenses]
    revoked_lines = {row.line_id for row in revoked}
    live = [(c, row) for c, row in everything if row.line_id not in revoked_lines]
    to_revoke = [
        row
        for c in customers[::-1]
        for row in c.licenses[-1:]
        if row.revoked_at is None and (row.grace_ends_at is None or row.grace_ends_at > now)
    ]
    return {
        "customers": [c.id for c in pick.sample(customers, min(1000, len(customers)))],
        "licenses": [row.id for _c, row in everything],
        "refresh": [signer.sign_license(claims_of(row, c, issuer)) for c, row in live[:500]],
        "to_revoke": [row.id for row in to_revoke[:5000]],
        "licenses_total": license_count,
        "revoked_total": len(revoked),
    }


# --- the measurements ------------------------------------------------------------------------------
@dataclass
class Endpoint:
    label: str
    requests: list[bytes]
    target_ms: float
    ok: Callable[[int], bool] = lambda s: s == 200
    figures: benchkit.Figures | None = None


def measure(server: benchkit.Server, work: Path, endpoint: Endpoint, seconds: float) -> benchkit.Figures:
    path = benchkit.write_requests(work / "requests.bin", endpoint.requests)
    try:
        return benchkit.wrk(server.url, path, seconds, connections=1, threads=1)
    finally:
        path.unlink()


def capture(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine runs while the caller holds the list."""
    statements: list[tuple[str, Any]] = []

    def listener(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)


def _execution_ms(lines: list[str]) -> float:
    return sum(float(m.group(1)) for x in lines if (m := re.search(r"Execution Time: ([\d.]+) ms", x)))


def _generic_plan(cur: psycopg.ClientCursor[Any], statement: str, parameters: dict[str, Any]) -> list[str]:
    """EXPLAIN ANALYZE of the statement's generic plan: what a server-side prepared statement (psycopg
    prepares a statement on its 5th run) may run, planned without the parameters' values."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return f"${len(names)}"

    prepared = re.sub(r"%\((\w+)\)s", number, statement)
    cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    cur.execute(f"PREPARE bench_generic AS {prepared}")
    try:
        values = ", ".join(["%s"] * len(names))
        cur.execute(f"EXPLAIN ANALYZE EXECUTE bench_generic({values})", [parameters[n] for n in names])
        return [line for (line,) in cur.fetchall()]
    finally:
        cur.execute("DEALLOCATE bench_generic")
        cur.execute("SET LOCAL plan_cache_mode = auto")


def explain(engine: sa.Engine, statements: list[tuple[str, Any]]) -> tuple[list[str], float]:
    """EXPLAIN (ANALYZE, BUFFERS) of each distinct statement, in a transaction rolled back, and of its
    generic plan (shown too when it takes more than twice as long); and the sum of the statements'
    execution times, the slower plan of the two (ms; the writes are explained, not run, so not counted)."""
    out: list[str] = []
    total = 0.0
    seen: set[str] = set()
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with psycopg.ClientCursor(raw) as cur:
            for statement, parameters in statements:
                if statement in seen or statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
                    continue
                seen.add(statement)
                select = statement.lstrip().upper().startswith("SELECT")
                cur.execute(f"EXPLAIN ({'ANALYZE, BUFFERS' if select else 'COSTS'}) {statement}", parameters)
                lines = [line for (line,) in cur.fetchall()]
                custom = _execution_ms(lines)
                text = f"    {' '.join(statement.split())[:PLAN_WIDTH]}\n"
                text += "\n".join(f"      {line[:PLAN_WIDTH]}" for line in lines)
                if select and isinstance(parameters, dict):
                    generic_lines = _generic_plan(cur, statement, parameters)
                    generic = _execution_ms(generic_lines)
                    text += f"\n      generic plan (a prepared statement's): {generic:.3f} ms"
                    if generic > 2 * custom and generic > 1:
                        text += "\n" + "\n".join(f"        {line[:PLAN_WIDTH]}" for line in generic_lines)
                    custom = max(custom, generic)
                total += custom
                out.append(text)
        raw.rollback()
    return out, total


def query_plans(database_url: str, env: dict[str, str], data: dict[str, Any]) -> dict[str, tuple[list[str], float]]:
    """The statements each measured endpoint's service functions run, with their plans."""
    import contextlib

    os.environ.update(env)
    from licensing.context import Core
    from licensing.kit.db import make_engine
    from licensing.kit.settings import Settings
    from licensing.licenses import queries
    from licensing.licenses.issuance import get_license, refresh_license
    from licensing.licenses.revocations import revocation_list, revoke_license
    from licensing.selfserve.requests import list_requests

    core = Core.from_settings(Settings())
    engine = make_engine(database_url)
    plans: dict[str, tuple[list[str], float]] = {}
    now = core.now()
    customer, license_id, license_file = data["customers"][0], data["licenses"][5], data["refresh"][0]
    revoke_id = data["to_revoke"][-1]
    steps: dict[str, Callable[[Session], Any]] = {
        "customer by id (baseline)": lambda s: s.get(CustomerRow, customer),
        "a customer's licenses": lambda s: queries.successors(
            s, queries.list_licenses(s, now, limit=50, cursor=None, customer_id=customer).items
        ),
        "one license": lambda s: queries.successors(s, [get_license(s, license_id)]),
        "refresh": lambda s: refresh_license(s, core, license_file),
        "subscriptions": lambda s: queries.newest_of_lines(
            s, [x.line_id for x in queries.list_subscriptions(s, limit=50, cursor=None).items]
        ),
        "a customer's subscriptions": lambda s: queries.newest_of_lines(
            s, [x.line_id for x in queries.list_subscriptions(s, limit=50, cursor=None, customer_id=customer).items]
        ),
        "leads": lambda s: list_requests(s, now, limit=50, cursor=None),
        "leads ?status=pending_confirmation": lambda s: list_requests(
            s, now, limit=50, cursor=None, status="pending_confirmation"
        ),
        "leads ?status=expired": lambda s: list_requests(s, now, limit=50, cursor=None, status="expired"),
        "revocation list": lambda s: revocation_list(s, core),
        "revoke one (re-signs)": lambda s: revoke_license(s, core, "apikey:bench", revoke_id, "bench"),
    }
    for status in STATUSES:
        steps[f"licenses ?status={status}"] = lambda s, st=status: queries.successors(  # type: ignore[misc]
            s, queries.list_licenses(s, now, limit=50, cursor=None, status=st).items
        )
    for label, step in steps.items():
        with contextlib.contextmanager(capture)(engine) as statements, Session(engine) as session:
            session.begin()
            step(session)
            session.rollback()
        plans[label] = explain(engine, statements)
    engine.dispose()
    return plans


STATUSES = ("revoked", "active", "grace", "expired", "superseded", "scheduled")


def run(args: argparse.Namespace) -> int:
    tag = f"{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix="licensing-bench-scale-"))
    endpoints: list[Endpoint] = []
    plans: dict[str, tuple[list[str], float]] = {}
    data: dict[str, Any] = {}
    try:
        with benchkit.fresh_database(f"licensing_bench_scale_{tag}") as url:
            env = benchkit.service_env(url, work, LICENSING_WORKER_IN_PROCESS="false")
            benchkit.cli(env, work, "keys", "generate")
            benchkit.cli(env, work, "db", "upgrade")
            token = benchkit.cli(env, work, "apikeys", "create", "--name", "bench", "--role", "sales")
            token = token.strip().splitlines()[-1]
            print(
                f"bulk-loading {args.customers:,} customers, {args.customers * LICENSES_PER_CUSTOMER:,} licenses "
                f"({args.revoked:,} revoked) into a fresh PostgreSQL database",
                flush=True,
            )
            data = bulk_load(url, args.customers, args.revoked, work / "keys", "bench")
            print(f"  {data['licenses_total']:,} licenses, {data['revoked_total']:,} revoked", flush=True)
            port = benchkit.free_port()
            auth = {"Authorization": f"Bearer {token}"}

            def gets(paths: list[str]) -> list[bytes]:
                return [benchkit.raw_request("GET", p, port, headers=auth) for p in paths]

            endpoints = [
                Endpoint("customer by id (baseline)", gets([f"/v1/customers/{c}" for c in data["customers"]]), 0),
                Endpoint(
                    "a customer's licenses", gets([f"/v1/licenses?customer_id={c}" for c in data["customers"]]), 20
                ),
                Endpoint("one license", gets([f"/v1/licenses/{x}" for x in data["licenses"]]), 20),
                Endpoint(
                    "refresh",
                    [
                        benchkit.raw_request(
                            "POST", "/v1/licenses/refresh", port, json.dumps({"license_file": f}), headers={}
                        )
                        for f in data["refresh"]
                    ],
                    20,
                ),
                *[
                    Endpoint(f"licenses ?status={s}", gets([f"/v1/licenses?status={s}"]), READ_TARGET_MS)
                    for s in STATUSES
                ],
                Endpoint("subscriptions", gets(["/v1/subscriptions"]), READ_TARGET_MS),
                Endpoint(
                    "a customer's subscriptions",
                    gets([f"/v1/subscriptions?customer_id={c}" for c in data["customers"]]),
                    READ_TARGET_MS,
                ),
                Endpoint("leads", gets(["/v1/self-serve-requests"]), READ_TARGET_MS),
                *[
                    Endpoint(f"leads ?status={s}", gets([f"/v1/self-serve-requests?status={s}"]), READ_TARGET_MS)
                    for s in ("pending_confirmation", "expired")
                ],
                Endpoint("revocation list", gets(["/v1/revocations"]), READ_TARGET_MS),
                Endpoint(
                    "revoke one (re-signs)",
                    [
                        benchkit.raw_request(
                            "POST",
                            f"/v1/licenses/{x}/revoke",
                            port,
                            json.dumps({"reason": "bench"}),
                            headers=auth,
                        )
                        for x in data["to_revoke"][: len(data["to_revoke"]) // 2]
                    ],
                    REVOKE_TARGET_MS,
                ),
            ]
            with benchkit.running(
                "licensing serve", benchkit.serve_argv(port), env, work, port, work / "serve.log"
            ) as server:
                # Warm-up: every endpoint once or twice (the first revocation list request signs it).
                for endpoint in endpoints[:-1]:
                    measure(server, work, Endpoint(endpoint.label, endpoint.requests[:1] * 3, 0), 1)
                print(
                    f"\nlicensing serve --workers {benchkit.WORKERS}; wrk -t1 -c1 (one request at a time), "
                    f"{args.seconds:g} s per endpoint, cycling over distinct ids",
                    flush=True,
                )
                for endpoint in endpoints:
                    endpoint.figures = measure(server, work, endpoint, args.seconds)
            plans = query_plans(url, env, data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report(endpoints, plans)


def report(endpoints: list[Endpoint], plans: dict[str, tuple[list[str], float]]) -> int:
    print()
    print(
        f"{'endpoint':<36} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'SQL ms':>7} {'target':>9} "
        f"{'errors':>6}"
    )
    ok = True
    baseline = endpoints[0].figures
    assert baseline is not None
    for endpoint in endpoints:
        f = endpoint.figures
        assert f is not None
        p95 = f.mean(f.p95)
        errors = f.errors(endpoint.ok)
        met = not endpoint.target_ms or p95 < endpoint.target_ms
        ok = ok and met and not errors
        target = f"< {endpoint.target_ms:g}" if endpoint.target_ms else "baseline"
        sql = plans.get(endpoint.label, ([], float("nan")))[1]
        print(
            f"{endpoint.label:<36} {f.requests:>8} {f.mean(f.p50):>7.1f} {p95:>7.1f} {f.mean(f.p99):>7.1f} {sql:>7.2f} "
            f"{target:>9} {errors:>6} {'' if met else 'MISSED'}"
        )
        if errors and f.first_output:
            print(f"    statuses {f.statuses}\n{f.first_output}")
    base95 = baseline.mean(baseline.p95)
    print("\np95 / baseline p95 (a primary-key read through the same path):")
    for endpoint in endpoints[1:]:
        f = endpoint.figures
        assert f is not None
        print(f"  {endpoint.label:<32} {f.mean(f.p95) / base95:>6.1f}x")
    print(
        "(SQL ms: the execution time of the endpoint's SELECTs by EXPLAIN ANALYZE, once, after the run; a\n"
        " revocation's writes are not run there. What is above it is the HTTP path and the machine's load.)"
    )
    print("\nquery plans (EXPLAIN (ANALYZE, BUFFERS) of every statement each endpoint runs):")
    for label, (lines, _total) in plans.items():
        print(f"\n  {label}:")
        for line in lines:
            print(line)
    print()
    print("all targets met" if ok else "a target was MISSED or a request failed")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000, help="10 licenses each")
    parser.add_argument("--revoked", type=int, default=10_000, help="license rows revoked")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds measured per endpoint")
    args = parser.parse_args()
    if not (100 <= args.customers <= 1_000_000 and 0 <= args.revoked <= args.customers and 1 <= args.seconds <= 60):
        parser.error("--customers in [100, 1000000], --revoked in [0, customers], --seconds in [1, 60]")
    benchkit.require_wrk(parser)
    catalog = load_catalog(None)
    PRO_FEATURES[:] = sorted(catalog.tier_features["professional"])
    ENT_FEATURES[:] = sorted(catalog.tier_features["enterprise"])
    benchkit.run_until_interrupted(run, args)


if __name__ == "__main__":
    main()
