"""SPEC section 6's table, driven by a subscription as Stripe says it is now (never by an event's payload).

The desired license of a subscription is (seats, current period end) while Stripe calls it ``active``
or ``trialing``; it is compared with the newest license of the subscription's line, and a license is
issued (through licensing's ``issue_license``, superseding the newest) only when they differ. That
comparison is what makes every event, duplicate, retry and reconcile run idempotent: re-reading the
same subscription twice issues nothing the second time. An interval change restarts Stripe's billing
cycle, so it always moves the period end and is covered by the same comparison.

| Stripe says                          | here                                                        |
|--------------------------------------|-------------------------------------------------------------|
| active, first time                   | license to period end + grace (superseding the trial of the |
|                                      | buy link the checkout was started from, if any)             |
| active, new period end (renewal)     | new license superseding the last; e-mail                    |
| active, other seats / interval       | new license superseding the last; e-mail                    |
| past_due / unpaid                    | no license; e-mail once per failed invoice, with Stripe's   |
|                                      | hosted invoice link (3-D Secure: pay and confirm it there)  |
| paused, or pause_collection set      | nothing issued for a period not paid                        |
| active, latest invoice not paid      | nothing issued until it is (a resumed subscription: from    |
|                                      | its next paid period)                                       |
| cancel_at_period_end                 | no renewal; e-mail once per period                          |
| canceled (deleted)                   | nothing issued; e-mail once                                 |
| not the catalog's price, or seats    | nothing issued; logged, audited once per period             |
| outside its range (quantity 0 too)   | (``subscription.unlicensable``); the reason is the outcome  |

What licenses is what is paid for: the catalog's price (its lookup key, one of the offer ``professional``'s
prices) times a quantity inside the offer's seat range. The amount is not looked at: a coupon the operator
granted on a catalog price may bring an invoice to 0, and that renewal is licensed as any other.

Callers read Stripe with no transaction open, then lock the subscription row (``SELECT ... FOR UPDATE``),
check that it still holds what it held before Stripe was read (``billing.checkout``) and call
:func:`apply`, so concurrent steps for one subscription apply one after the other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import notices
from billing.client import SubscriptionState
from licensing.access import audit
from licensing.context import Core
from licensing.kit.errors import Conflict
from licensing.licenses.issuance import IssueRequest, issue_license
from licensing.licenses.queries import newest_of_line
from licensing.mail.outbox import enqueue
from licensing.models import AuditEvent, Checkout, License, Subscription

log = logging.getLogger("billing.lifecycle")
LICENSED = ("active", "trialing")
PAYMENT_FAILED = ("past_due", "unpaid")
ENDED = ("canceled", "incomplete_expired")
PAUSED = "paused"  # a trial ended without a payment method (Stripe's pause); resumed by a paid invoice
OFFER = "professional"


@dataclass(frozen=True)
class Applied:
    issued: License | None  # issued by this step
    newest: License | None  # the newest license of the subscription's line, after this step
    reason: str  # what this step did, for logs and reconcile's report
    unlicensable: str | None = None  # why Stripe's subscription licenses nothing (SPEC 6, last row)


def unlicensable(core: Core, state: SubscriptionState) -> str | None:
    """Why ``state`` licenses nothing, or None when it licenses its seats: it must pay one of the catalog's
    prices (by lookup key) of the offer ``professional``, at a quantity inside the offer's seat range."""
    offer = core.catalog.offer(OFFER)
    keys = [price.lookup_key for price in offer.prices]
    if state.lookup_key is None or state.lookup_key not in keys:
        named = f"lookup key {state.lookup_key!r}" if state.lookup_key is not None else "no lookup key"
        return f"price {state.price} ({named}) is not one of the catalog's prices ({', '.join(keys)})"
    rule = offer.seats
    if state.seats < rule.minimum or (rule.maximum is not None and state.seats > rule.maximum):
        seat_range = f"{rule.minimum}-{rule.maximum}" if rule.maximum is not None else f"{rule.minimum} or more"
        return f"quantity {state.seats} is outside the catalog's seat range ({seat_range})"
    return None


def _report_unlicensable(session: Session, core: Core, row: Subscription, state: SubscriptionState, why: str) -> None:
    """Log it each time, and tell sales once per reason and period: the audit log's
    ``subscription.unlicensable`` (``GET /v1/audit-events?action=subscription.unlicensable``)."""
    period_end = state.period_end.isoformat()
    log.warning(
        "billing.unlicensable",
        extra={
            "subscription": row.id,
            "stripe_subscription": state.id,
            "price": state.price,
            "lookup_key": state.lookup_key,
            "seats": state.seats,
            "reason": why,
        },
    )
    last = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "subscription.unlicensable", AuditEvent.subject_id == row.id)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    if last is not None and last.data.get("reason") == why and last.data.get("current_period_end") == period_end:
        return
    audit.record(
        session,
        core.now(),
        f"stripe ({state.id})",
        "subscription.unlicensable",
        "subscription",
        row.id,
        reason=why,
        price=state.price,
        price_lookup_key=state.lookup_key,
        seats=state.seats,
        status=state.status,
        current_period_end=period_end,
    )


def newest_license(session: Session, row: Subscription) -> License | None:
    return newest_of_line(session, row.line_id) if row.line_id else None


def _issue(
    session: Session, core: Core, row: Subscription, state: SubscriptionState, newest: License | None
) -> License:
    actor = f"stripe ({state.id})"

    def request(supersedes: License | None, installation_id: str | None) -> IssueRequest:
        return IssueRequest(
            customer=row.customer,
            offer=core.catalog.offer(OFFER),
            actor=actor,
            source="stripe",
            seats=state.seats,
            expires_at=state.period_end,
            installation_id=installation_id,
            subscription_id=row.id,
            supersedes=supersedes,
        )

    if newest is not None:  # a line keeps its installation binding
        return issue_license(session, core, request(newest, newest.installation_id))
    checkout = session.get(Checkout, row.checkout_id)
    bound = checkout.installation_id if checkout is not None else None  # bought from inside that installation
    trial = session.get(License, checkout.trial_license_id) if checkout and checkout.trial_license_id else None
    if trial is not None:  # its holder started the checkout from the trial's buy link (SPEC 6)
        try:  # the paid license supersedes the trial
            return issue_license(session, core, request(trial, bound or trial.installation_id))
        except Conflict:  # the trial was renewed, replaced or revoked meanwhile: start a line of our own
            log.info("billing.trial_not_superseded", extra={"trial": trial.id, "subscription": row.id})
    return issue_license(session, core, request(None, bound))


def _describe(newest: License | None, state: SubscriptionState, interval_before: str, issued: License) -> str:
    if newest is None:
        return "converted the trial" if issued.supersedes_id is not None else "first license"
    changes = []
    if newest.seats != state.seats:
        changes.append(f"seats {newest.seats} -> {state.seats}")
    if interval_before != state.interval:
        changes.append(f"billed per {state.interval} instead of per {interval_before}")
    return "; ".join(changes) or "renewal"


def apply(session: Session, core: Core, row: Subscription, state: SubscriptionState) -> Applied:
    """Bring ``row`` (locked) and its license line to what ``state`` (read from Stripe just before) says."""
    now = core.now()
    public_url = core.settings.public_url
    interval_before = row.interval
    changed = (row.status, row.seats, row.interval, row.current_period_end, row.cancel_at_period_end) != (
        state.status,
        state.seats,
        state.interval,
        state.period_end,
        state.cancel_at_period_end,
    )
    row.status, row.seats, row.interval = state.status, state.seats, state.interval
    row.price_lookup_key = state.lookup_key
    row.current_period_end, row.cancel_at_period_end = state.period_end, state.cancel_at_period_end
    row.ended_at = state.ended_at
    row.synced_at = now
    if changed:
        row.updated_at = now
        audit.record(
            session,
            now,
            f"stripe ({state.id})",
            "subscription.synced",
            "subscription",
            row.id,
            status=state.status,
            seats=state.seats,
            interval=state.interval,
            current_period_end=state.period_end.isoformat(),
            cancel_at_period_end=state.cancel_at_period_end,
        )
    newest = newest_license(session, row)
    issued: License | None = None
    reason = "unchanged"
    why_not = unlicensable(core, state) if state.status in LICENSED else None
    if why_not is not None:
        reason = f"{why_not}; nothing issued"
        _report_unlicensable(session, core, row, state, why_not)
    elif state.status in LICENSED:
        wanted = (state.seats, state.period_end)
        if state.collection_paused:
            reason = "collection paused: nothing issued for a period not paid"
        elif state.invoice_status is not None and state.invoice_status != "paid":
            reason = f"latest invoice {state.latest_invoice} is {state.invoice_status}: nothing issued until paid"
        elif newest is not None and newest.revoked_at is not None:
            reason = f"not renewed: license {newest.id} was revoked"
            log.warning("billing.revoked_line", extra={"subscription": row.id, "license": newest.id})
        elif state.period_end <= now:
            reason = "period already ended; waiting for Stripe to renew"
        elif newest is None or (newest.seats, newest.expires_at) != wanted:
            issued = _issue(session, core, row, state, newest)
            reason = _describe(newest, state, interval_before, issued)
            row.line_id, row.license_id = issued.line_id, issued.id
            enqueue(session, now, f"license:{issued.id}", notices.license_issued(issued, public_url, reason))
            newest = issued
    if state.status == PAUSED:
        reason = "subscription paused: nothing issued"
    if state.status in PAYMENT_FAILED:
        reason = "payment failed: no new license"
        # Once per invoice, whichever event said so first (invoice.payment_failed or, for a payment the
        # bank wants confirmed, invoice.payment_action_required): the link to pay it is Stripe's hosted
        # invoice page, read from Stripe with the subscription.
        invoice_url = state.invoice_url if state.invoice_status == "open" else None
        enqueue(
            session,
            now,
            f"payment_failed:{state.id}:{state.latest_invoice or state.period_end.isoformat()}",
            notices.payment_failed(row, newest, public_url, invoice_url),
        )
    elif state.status == "canceled":
        reason = "subscription ended: no renewal"
        enqueue(session, now, f"ended:{state.id}", notices.ended(row, newest, public_url))
    elif state.cancel_at_period_end and state.status in LICENSED:
        if issued is None and why_not is None:
            reason = "cancels at period end: no renewal"
        enqueue(
            session,
            now,
            f"cancel_scheduled:{state.id}:{int(state.period_end.timestamp())}",
            notices.cancel_scheduled(row, newest, public_url),
        )
    session.flush()
    if issued is not None:
        log.info("billing.license_issued", extra={"subscription": row.id, "license": issued.id, "reason": reason})
    return Applied(issued=issued, newest=newest, reason=reason, unlicensable=why_not)
