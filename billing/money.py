"""SPEC section 6's money rows: refunds (``charge.refunded``) and disputes (``charge.dispute.created``,
``charge.dispute.closed``), driven by the charge or dispute as Stripe says it is now, never by the payload.

| Stripe says                                         | here                                                  |
|-----------------------------------------------------|-------------------------------------------------------|
| the charge of the subscription's latest paid        | the subscription's line revoked (reason ``refunded``),|
| invoice refunded in full                            | the revocation list re-signed, the customer e-mailed  |
| a partial refund, or a refund of an older invoice   | audited only (``subscription.refunded``)              |
| a dispute, whatever its status                      | audited (``subscription.disputed``), sales e-mailed   |
|                                                     | (``LICENSING_SALES_EMAIL``); nothing revoked          |
| a dispute closed ``lost``                           | the line revoked (reason ``dispute_lost``), e-mail    |
| a dispute closed ``won`` / ``warning_closed``       | audited only (``subscription.dispute_closed``)        |

As the rest of billing: Stripe is read with no transaction open (the charge, the invoice it paid through
``invoice_payments``, the subscription's latest paid invoice), then a short transaction locks our
subscription row and applies. Each step is idempotent whatever the order and the number of deliveries:
audits are recorded once per state (the charge's refunded amount, the dispute's status), e-mails have
dedupe keys, and a line already revoked (by us or by hand) is not revoked again. A revoked line is never
renewed (:func:`billing.lifecycle.apply`), so neither a renewal nor reconcile undoes it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import lifecycle, notices
from billing.checkout import Fulfilment, Then, _locked_subscription
from billing.client import (
    STRIPE_ID,
    ChargeState,
    DisputeState,
    _id_of,
    call,
    read_charge,
    read_dispute,
    read_subscription,
    stripe_client,
)
from licensing.access import audit
from licensing.context import Core, Runtime
from licensing.kit.db import atomic
from licensing.kit.errors import ServiceUnavailable
from licensing.leads.records import account_owner
from licensing.licenses.revocations import revoke_license
from licensing.mail.outbox import enqueue
from licensing.models import AuditEvent, Checkout, License, Subscription

log = logging.getLogger("billing.money")
REFUNDED = "refunded"
DISPUTE_LOST = "dispute_lost"


class NotRecordedYet(ServiceUnavailable):
    """The charge paid a subscription started by a checkout of ours that is not fulfilled yet: the event is
    retried (the checkout's own events record it first)."""

    code = "subscription_not_recorded"


def refund(runtime: Runtime, charge_id: str, *, then: Then | None = None) -> Fulfilment:
    """A ``charge.refunded``: the charge re-read from Stripe, then applied (see the module's table)."""
    if not STRIPE_ID.fullmatch(charge_id or ""):
        return _finish(runtime, Fulfilment("unknown", detail="not a charge id"), then)
    charge = read_charge(stripe_client(runtime.core), charge_id)
    if charge.fully_refunded and charge.of_latest_invoice and charge.subscription:
        _stop_billing(runtime, charge.subscription, REFUNDED)
    with runtime.unit_of_work() as session:
        outcome = _apply_refund(session, runtime.core, charge)
        if then is not None:
            then(session, outcome)
        return outcome


def dispute(runtime: Runtime, dispute_id: str, *, then: Then | None = None) -> Fulfilment:
    """A ``charge.dispute.created`` or ``charge.dispute.closed``: the dispute re-read from Stripe (with its
    charge), then applied (see the module's table)."""
    if not STRIPE_ID.fullmatch(dispute_id or ""):
        return _finish(runtime, Fulfilment("unknown", detail="not a dispute id"), then)
    said = read_dispute(stripe_client(runtime.core), dispute_id)
    if said.status == "lost" and said.charge.subscription:
        _stop_billing(runtime, said.charge.subscription, DISPUTE_LOST)
    with runtime.unit_of_work() as session:
        outcome = _apply_dispute(session, runtime.core, said)
        if then is not None:
            then(session, outcome)
        return outcome


def heal(runtime: Runtime, stripe_subscription_id: str) -> list[Fulfilment]:
    """What ``licensing billing reconcile`` does about money: the charges of the subscription's latest paid
    invoice re-read, and any refund or dispute of them applied as its event would have been, so a dropped
    ``charge.refunded`` or ``charge.dispute.*`` is healed (applying one twice changes nothing)."""
    client = stripe_client(runtime.core)
    paid = call(
        "list the subscription's paid invoices",
        lambda: client.v1.invoices.list(params={"subscription": stripe_subscription_id, "status": "paid", "limit": 1}),
    )
    if not paid.data:
        return []
    invoice_id = paid.data[0].id
    payments = call(
        "list the invoice's payments",
        lambda: client.v1.invoice_payments.list(params={"invoice": invoice_id, "status": "paid", "limit": 10}),
    )
    outcomes: list[Fulfilment] = []
    for payment in payments.data:
        intent = _id_of(payment.payment.payment_intent) if payment.payment is not None else None
        if intent is None:
            continue
        charges = call(
            "list the payment's charges",
            lambda intent=intent: client.v1.charges.list(params={"payment_intent": intent, "limit": 10}),  # type: ignore[misc]
        )
        for charge in charges.data:
            if charge.amount_refunded:
                outcomes.append(refund(runtime, charge.id))
            if charge.disputed:
                disputes = call(
                    "list the charge's disputes",
                    lambda charge_id=charge.id: client.v1.disputes.list(params={"charge": charge_id, "limit": 10}),  # type: ignore[misc]
                )
                outcomes += [dispute(runtime, found.id) for found in disputes.data]
    return outcomes


def _stop_billing(runtime: Runtime, stripe_subscription_id: str, reason: str) -> None:
    """Cancel in Stripe, at once, a subscription of ours whose money was taken back: its line is revoked and
    never licensed again, so Stripe must not go on charging for it. Before our rows are touched (no
    transaction open across the Stripe calls): when Stripe cannot be reached the event is retried whole.
    Only a subscription we recorded is cancelled, and one that has ended is left alone."""
    with runtime.unit_of_work() as session:
        ours = session.scalar(
            select(Subscription.id).where(Subscription.stripe_subscription_id == stripe_subscription_id)
        )
    if ours is None:
        return
    client = stripe_client(runtime.core)
    state = read_subscription(client, stripe_subscription_id)
    if state.status in ("canceled", "incomplete_expired"):
        return
    call(
        "cancel the subscription",
        lambda: client.v1.subscriptions.cancel(
            stripe_subscription_id,
            params={"cancellation_details": {"comment": f"licensing: {reason}, the license line was revoked"}},
            options={"idempotency_key": f"cancel-{stripe_subscription_id}-{reason}"},
        ),
    )
    log.warning("billing.subscription_cancelled", extra={"subscription": ours, "reason": reason})


def _finish(runtime: Runtime, outcome: Fulfilment, then: Then | None) -> Fulfilment:
    if then is not None:
        with runtime.unit_of_work() as session:
            then(session, outcome)
    return outcome


def _subscription(session: Session, charge: ChargeState) -> Subscription | Fulfilment:
    """Our subscription row the charge paid, locked; a :class:`Fulfilment` when there is none of ours."""
    if charge.subscription is None:
        return Fulfilment("not_ours", detail=f"charge {charge.id} paid no subscription invoice")
    row = _locked_subscription(session, stripe_subscription_id=charge.subscription)
    if row is not None:
        return row
    if charge.checkout_id and session.get(Checkout, charge.checkout_id) is not None:
        raise NotRecordedYet(
            f"Subscription {charge.subscription} (checkout {charge.checkout_id}) is not recorded yet; retried later."
        )
    return Fulfilment("not_ours", detail=f"subscription {charge.subscription} was not started here")


def _audit_once(
    session: Session, core: Core, actor: str, action: str, row: Subscription, key: str, **data: Any
) -> bool:
    """Record ``action`` on the subscription unless one with this ``key`` is there already (a duplicate
    or reordered delivery of the same state); True when recorded."""
    seen = session.scalars(
        select(AuditEvent.data).where(AuditEvent.action == action, AuditEvent.subject_id == row.id)
    ).all()
    if any(isinstance(d, dict) and d.get("key") == key for d in seen):
        return False
    audit.record(session, core.now(), actor, action, "subscription", row.id, key=key, **data)
    return True


def _revoke(session: Session, core: Core, actor: str, row: Subscription, reason: str) -> tuple[License | None, bool]:
    """Revoke the subscription's line (its newest license and what it superseded), re-sign the revocation
    list and e-mail the customer; (the newest license, revoked by this call). A line revoked already (by
    an earlier delivery, or by hand) is left as it is."""
    newest = lifecycle.newest_license(session, row)
    if newest is None:
        return None, False
    if newest.revoked_at is not None:
        return newest, False
    revoke_license(session, core, actor, newest.id, reason)
    enqueue(
        session,
        core.now(),
        f"revoked:{newest.id}",
        notices.license_revoked(row, newest, reason, core.settings.public_url),
    )
    log.warning("billing.line_revoked", extra={"subscription": row.id, "license": newest.id, "reason": reason})
    return newest, True


@atomic
def _apply_refund(session: Session, core: Core, charge: ChargeState) -> Fulfilment:
    found = _subscription(session, charge)
    if isinstance(found, Fulfilment):
        return found
    row = found
    actor = f"stripe ({charge.id})"
    revokes = charge.fully_refunded and charge.of_latest_invoice
    lic, now_revoked = _revoke(session, core, actor, row, REFUNDED) if revokes else (None, False)
    _audit_once(
        session,
        core,
        actor,
        "subscription.refunded",
        row,
        f"{charge.id}:{charge.amount_refunded}",
        charge=charge.id,
        invoice=charge.invoice,
        amount=charge.amount,
        amount_refunded=charge.amount_refunded,
        currency=charge.currency,
        full=charge.fully_refunded,
        latest_invoice=charge.of_latest_invoice,
        revoked=lic.id if lic is not None and revokes else None,
    )
    session.flush()
    if not revokes:
        what = "a partial refund" if not charge.fully_refunded else "a refund of an older invoice"
        return Fulfilment("audited", row.checkout_id, subscription=row, detail=f"{what} ({charge.id}): audited only")
    if lic is None:
        return Fulfilment("audited", row.checkout_id, subscription=row, detail="refunded in full; no license to revoke")
    detail = f"refunded in full: line of {lic.id} revoked" if now_revoked else f"refunded; {lic.id} revoked already"
    return Fulfilment("revoked", row.checkout_id, lic, row, detail=detail)


@atomic
def _apply_dispute(session: Session, core: Core, said: DisputeState) -> Fulfilment:
    found = _subscription(session, said.charge)
    if isinstance(found, Fulfilment):
        return found
    row = found
    actor = f"stripe ({said.id})"
    newest = lifecycle.newest_license(session, row)
    # The customer's account owner in sales (else the sales address) hears of every dispute once, whatever
    # order its events come in (a dispute first seen lost too).
    if _audit_once(
        session,
        core,
        actor,
        "subscription.disputed",
        row,
        said.id,
        dispute=said.id,
        charge=said.charge.id,
        invoice=said.charge.invoice,
        status=said.status,
        reason=said.reason,
        amount=said.amount,
        currency=said.currency,
    ):
        enqueue(
            session,
            core.now(),
            f"dispute_opened:{said.id}",
            notices.dispute_opened(
                account_owner(session, core, row.customer),
                row,
                newest,
                dispute_id=said.id,
                charge_id=said.charge.id,
                status=said.status,
                reason=said.reason,
                amount=said.amount,
                currency=said.currency,
                evidence_due_by=said.evidence_due_by,
                invoice=said.charge.invoice,
            ),
        )
        log.warning("billing.disputed", extra={"subscription": row.id, "dispute": said.id, "reason": said.reason})
    if not said.closed:
        session.flush()
        return Fulfilment("audited", row.checkout_id, newest, row, detail=f"dispute {said.id} {said.status}")
    lost = said.status == "lost"
    lic, now_revoked = _revoke(session, core, actor, row, DISPUTE_LOST) if lost else (None, False)
    _audit_once(
        session,
        core,
        actor,
        "subscription.dispute_closed",
        row,
        f"{said.id}:{said.status}",
        dispute=said.id,
        charge=said.charge.id,
        status=said.status,
        revoked=lic.id if lic is not None else None,
    )
    session.flush()
    if not lost or lic is None:
        return Fulfilment("audited", row.checkout_id, newest, row, detail=f"dispute {said.id} {said.status}")
    detail = f"dispute lost: line of {lic.id} revoked" if now_revoked else f"dispute lost; {lic.id} revoked already"
    return Fulfilment("revoked", row.checkout_id, lic, row, detail=detail)
