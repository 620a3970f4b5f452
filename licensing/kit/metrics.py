"""The service's Prometheus metrics (SPEC section 7), counted where things happen and served at
``/metrics`` (:mod:`api.metrics`).

prometheus-client picks its storage when first imported: in this process's memory, or, when
``PROMETHEUS_MULTIPROC_DIR`` is set (``licensing serve`` sets it before its workers start), in files in
that directory that every worker process writes and a scrape sums, so the counts are the service's
whichever worker answers. Labels take a few known values only (never an id, an address or a path).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import Counter, Histogram, values
from sqlalchemy import event
from sqlalchemy.orm import Session

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

http_requests = Counter(
    "licensing_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
http_duration = Histogram(
    "licensing_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
licenses_issued = Counter(
    "licensing_licenses_issued", "Licenses issued (committed), by tier and source.", ["tier", "source"]
)
webhooks_received = Counter(
    "licensing_stripe_webhooks_received",
    "Stripe webhook calls received, by outcome (stored, duplicate, ignored, rejected, malformed).",
    ["outcome"],
)
webhooks_processed = Counter("licensing_stripe_webhooks_processed", "Stripe events processed.")
webhooks_failed = Counter("licensing_stripe_webhooks_failed", "Attempts at processing a Stripe event that failed.")
emails_sent = Counter("licensing_emails_sent", "E-mails the mail server accepted.")
emails_failed = Counter("licensing_emails_failed", "Attempts at sending an e-mail that failed (retried later).")
self_serve_requests = Counter(
    "licensing_self_serve_requests",
    "Self-serve trial and free license requests and confirmations, by kind and outcome.",
    ["kind", "outcome"],
)

_ON_COMMIT = "licensing.metrics.on_commit"


# Decided by prometheus-client when it was first imported (the variable set then, or not).
_MULTIPROCESS = values.ValueClass is not values.MutexValue


def multiprocess_dir() -> str | None:
    """The directory the worker processes share their counts through, when this process writes there."""
    return (os.environ.get(MULTIPROCESS_ENV) or None) if _MULTIPROCESS else None


def on_commit(session: Session, count: Callable[[], None]) -> None:
    """Run ``count`` once ``session``'s transaction commits; never if it rolls back (what a rolled back
    transaction wrote did not happen, so it is not counted)."""
    session.info.setdefault(_ON_COMMIT, []).append(count)


# Listened to on every session once (a listener added to each session costs every request that counts).
@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    pending: list[Callable[[], None]] = session.info.pop(_ON_COMMIT, None) or []
    for count in pending:
        count()


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)
