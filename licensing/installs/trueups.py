"""True-ups: a usage report over the licensed seats (SPEC section 8).

For a line fed by a self-serve subscription the true-up is a job of the background loop (``pending``):
billing's task (:mod:`billing.trueups`) raises the subscription's quantity in Stripe to the report's peak
(prorated and invoiced at once; never lowered), and the ``customer.subscription.updated`` webhook that
follows issues the line's next license with the new seats through the usual flow. It is ``raised`` once
Stripe says so, retried with backoff on failure and ``failed`` once given up (``licensing`` keeps the
attempts and the last error on the row). For any other line (sales') it is ``recorded`` for sales, with
the overage: ``GET /v1/true-ups``.
"""

from __future__ import annotations

import logging
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.access import audit
from licensing.context import Core
from licensing.kit.jobs import JobQueue
from licensing.licenses.queries import Page, page
from licensing.models import License, Subscription, TrueUp, UsageReport

log = logging.getLogger("licensing.installs")
QUEUE = JobQueue(TrueUp, done=TrueUp.completed_at)
TrueUpStatus = Literal["pending", "raised", "failed", "recorded"]
STATUSES: tuple[TrueUpStatus, ...] = ("pending", "raised", "failed", "recorded")
# The subscription statuses whose quantity a true-up raises (Stripe's; billing.lifecycle.LICENSED and
# past_due, which still bills the seats).
RAISABLE = ("active", "trialing", "past_due")


def record(session: Session, core: Core, report: UsageReport, newest: License) -> TrueUp:
    """The true-up of ``report`` (over ``newest``'s seats): a job for Stripe, or a record for sales."""
    now = core.now()
    subscription = (
        session.scalars(
            select(Subscription).where(Subscription.line_id == report.line_id).order_by(Subscription.created_at.desc())
        ).first()
        if newest.subscription_id is not None or newest.source == "stripe"
        else None
    )
    self_serve = subscription is not None and subscription.status in RAISABLE
    row = TrueUp(
        report_id=report.id,
        line_id=report.line_id,
        customer_id=newest.customer_id,
        subscription_id=subscription.id if subscription is not None else None,
        seats_before=report.seats,
        peak_users=report.peak_users,
        overage=report.overage,
        status="pending" if self_serve else "recorded",
        outcome=None if self_serve else "recorded for sales",
        created_at=now,
        completed_at=None if self_serve else now,
        attempts=0,
        next_attempt_at=now if self_serve else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        now,
        "usage report",
        "true_up.recorded" if not self_serve else "true_up.queued",
        "true_up",
        str(row.id),
        report_id=report.id,
        line_id=report.line_id,
        customer_id=row.customer_id,
        subscription_id=row.subscription_id,
        seats_before=row.seats_before,
        peak_users=row.peak_users,
        overage=row.overage,
    )
    log.info("true_up.%s", row.status, extra={"true_up": row.id, "report_id": report.id, "overage": row.overage})
    return row


def list_true_ups(
    session: Session,
    *,
    limit: int,
    cursor: str | None,
    status: TrueUpStatus | None = None,
    customer_id: str | None = None,
) -> Page[TrueUp]:
    """True-ups, newest first."""
    query = select(TrueUp)
    if status is not None:
        query = query.where(TrueUp.status == status)
    if customer_id is not None:
        query = query.where(TrueUp.customer_id == customer_id)
    return page(session, query, TrueUp.id, limit=limit, cursor=cursor)
