"""Processing stored webhook events in the background loop: each re-reads its object from Stripe and
runs the one idempotent step (``fulfil_checkout``, ``sync_subscription``, or for a refunded charge or a
dispute :mod:`billing.money`'s). Stripe is read with no
transaction open; what it said is applied in a short transaction that also marks the event processed.
The step is atomic: when it fails, nothing it wrote is kept and the failure is recorded on the row,
retried with backoff; the attempts, the next attempt and the last error stay on the row (``licensing
billing events``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import money
from billing.checkout import Fulfilment, Then, fulfil_checkout, sync_subscription
from billing.client import is_configured
from licensing.context import Runtime
from licensing.kit import jobs, metrics
from licensing.kit.errors import DomainError
from licensing.kit.jobs import JobQueue
from licensing.models import StripeEvent

log = logging.getLogger("billing.events")
QUEUE = JobQueue(StripeEvent, done=StripeEvent.processed_at)


def handle(runtime: Runtime, object_type: str, object_id: str, *, then: Then | None = None) -> Fulfilment:
    if object_type == "checkout.session":
        return fulfil_checkout(runtime, object_id, then=then)
    if object_type == "charge":
        return money.refund(runtime, object_id, then=then)
    if object_type == "dispute":
        return money.dispute(runtime, object_id, then=then)
    return sync_subscription(runtime, object_id, then=then)


def describe(result: Fulfilment) -> str:
    issued = f" {result.license.id}" if result.issued_now and result.license is not None else ""
    return f"{result.status}{issued}: {result.detail}"[:200]


@dataclass(frozen=True)
class _Claimed:
    id: int
    event_id: str
    type: str
    object_type: str
    object_id: str


class StripeEventTask:
    name = "stripe_events"

    def __init__(self) -> None:
        self._warned = False

    def run_due(self, runtime: Runtime, limit: int) -> int:
        if not is_configured(runtime.core):
            # Events stay due until a key is configured; say so once, when there are some.
            if not self._warned:
                with runtime.unit_of_work() as session:
                    waiting = session.scalar(select(StripeEvent.id).where(QUEUE.due(runtime.core.now())).limit(1))
                if waiting is not None:
                    log.warning(
                        "events.stripe_not_configured",
                        extra={"detail": "webhook events wait: LICENSING_STRIPE_SECRET_KEY is not set"},
                    )
                    self._warned = True
            return 0
        with runtime.unit_of_work() as session:
            claimed = [
                _Claimed(row.id, row.event_id, row.type, row.object_type, row.object_id)
                for row in QUEUE.claim(session, runtime.core.now(), limit)
            ]
        for item in claimed:
            if jobs.stopping():
                break  # the worker hands the rest back
            try:
                self._process(runtime, item)
            except Exception:  # the database failed the transaction: the event is retried after its lease
                log.exception("webhook.unrecorded", extra={"event": item.event_id, "type": item.type})
        return len(claimed)

    def _process(self, runtime: Runtime, item: _Claimed) -> None:
        """One event: its object read from Stripe with no transaction open, then what Stripe said applied
        in one transaction that also marks the event done. When processing fails, nothing it wrote is kept
        (the step is atomic, its transaction rolled back) and the failure is recorded on the row in a
        transaction of its own, to be retried with backoff. Should that fail too (the database), the event
        stays leased and is retried once its lease ends."""

        def done(session: Session, result: Fulfilment) -> None:
            QUEUE.done(session, item.id, runtime.core.now(), outcome=describe(result))

        try:
            result = handle(runtime, item.object_type, item.object_id, then=done)
        except Exception as exc:  # any failure: undone, retried later, visible on the row
            with runtime.unit_of_work() as session:
                retry_at = QUEUE.failed(session, item.id, runtime.core.now(), exc)
            metrics.webhooks_failed.inc()
            log.warning(
                "webhook.failed",
                extra={"event": item.event_id, "type": item.type, "error": str(exc)[:300], "retry_at": retry_at},
                exc_info=not isinstance(exc, DomainError),  # a traceback for the unexpected
            )
            return
        metrics.webhooks_processed.inc()
        log.info("webhook.processed", extra={"event": item.event_id, "type": item.type, "outcome": describe(result)})


def unfinished(session: Session, *, include_processed: bool = False, limit: int = 100) -> Sequence[StripeEvent]:
    """Events not processed yet (pending, retrying, given up), oldest first; all of them with ``include_processed``."""
    query = select(StripeEvent).order_by(StripeEvent.id.desc() if include_processed else StripeEvent.id).limit(limit)
    if not include_processed:
        query = query.where(StripeEvent.processed_at.is_(None))
    return session.scalars(query).all()


def state_of(event: StripeEvent) -> str:
    if event.processed_at is not None:
        return "processed"
    if event.next_attempt_at is None:
        return "failed"
    if event.attempts and event.last_error:
        return "retrying"
    return "pending"
