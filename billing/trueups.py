"""Raising a self-serve subscription's seats to a usage report's peak (SPEC section 8's true-up).

A background task of the loop, as webhook events are: the ``pending`` rows of ``true_ups``
(:mod:`licensing.installs.trueups`) are claimed (``FOR UPDATE SKIP LOCKED``, leased), Stripe is read and
written with no transaction open, and the outcome is recorded in a short transaction. The subscription's
quantity becomes the report's peak, prorated and invoiced at once (``proration_behavior=always_invoice``),
and never lower than it is (a report never lowers what was bought; a quantity already at or above the
peak is left alone). Setting an absolute quantity is idempotent, so a retry after a crash changes nothing
twice. The ``customer.subscription.updated`` webhook that follows issues the line's next license with the
new seats through :func:`billing.checkout.sync_subscription`, as a seat change in Stripe's portal does.
Failures are retried with backoff; once given up the row is ``failed`` (its last error kept).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from billing.client import call, is_configured, stripe_client
from licensing.access import audit
from licensing.context import Runtime
from licensing.installs.trueups import QUEUE
from licensing.kit import jobs
from licensing.models import Subscription, TrueUp

log = logging.getLogger("billing.trueups")
OFFER = "professional"


@dataclass(frozen=True)
class _Claimed:
    id: int
    peak: int
    stripe_subscription_id: str | None


class TrueUpTask:
    name = "true_ups"

    def run_due(self, runtime: Runtime, limit: int) -> int:
        if not is_configured(runtime.core):
            return 0  # stays pending until Stripe is configured
        with runtime.unit_of_work() as session:
            claimed = []
            for row in QUEUE.claim(session, runtime.core.now(), limit):
                sub = session.get(Subscription, row.subscription_id) if row.subscription_id else None
                claimed.append(_Claimed(row.id, row.peak_users, sub.stripe_subscription_id if sub else None))
        for item in claimed:
            if jobs.stopping():
                break
            self._raise(runtime, item)
        return len(claimed)

    def _raise(self, runtime: Runtime, item: _Claimed) -> None:
        core = runtime.core
        try:
            if item.stripe_subscription_id is None:
                raise RuntimeError("the true-up names no subscription")
            outcome, before, after = _set_quantity(runtime, item.stripe_subscription_id, item.peak)
        except Exception as exc:
            with runtime.unit_of_work() as session:
                retry_at = QUEUE.failed(session, item.id, core.now(), exc)
                if retry_at is None:
                    row = session.get(TrueUp, item.id)
                    if row is not None and row.completed_at is None:
                        row.status, row.outcome = "failed", f"given up: {str(exc)[:250]}"
            log.warning("true_up.failed", extra={"true_up": item.id, "error": str(exc)[:300], "retry_at": retry_at})
            return
        with runtime.unit_of_work() as session:
            if QUEUE.done(session, item.id, core.now(), status="raised", outcome=outcome):
                audit.record(
                    session,
                    core.now(),
                    f"stripe ({item.stripe_subscription_id})",
                    "true_up.raised",
                    "true_up",
                    str(item.id),
                    stripe_subscription_id=item.stripe_subscription_id,
                    quantity_before=before,
                    quantity_after=after,
                    peak_users=item.peak,
                )
        log.info("true_up.raised", extra={"true_up": item.id, "outcome": outcome})


def _set_quantity(runtime: Runtime, subscription_id: str, peak: int) -> tuple[str, int, int]:
    """Raise the subscription's (only) item to ``peak``, capped at the offer's seat range; never lower."""
    client = stripe_client(runtime.core)
    sub = call("read the subscription", lambda: client.v1.subscriptions.retrieve(subscription_id))
    item = sub["items"].data[0]
    before = int(item.quantity or 0)
    maximum = runtime.core.catalog.offer(OFFER).seats.maximum
    wanted = min(peak, maximum) if maximum is not None else peak
    if before >= wanted:
        return f"quantity already {before} (peak {peak}): nothing raised", before, before
    call(
        "raise the subscription's quantity",
        lambda: client.v1.subscriptions.update(
            subscription_id,
            params={"items": [{"id": item.id, "quantity": wanted}], "proration_behavior": "always_invoice"},
        ),
    )
    return f"quantity {before} -> {wanted}, prorated and invoiced at once", before, wanted
