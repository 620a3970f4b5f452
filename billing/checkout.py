"""Self-serve checkout: starting one (our checkout row, then Stripe's Checkout Session) and fulfilling it.

:func:`fulfil_checkout` is SPEC section 6's one idempotent step, run by the webhook processing, the
success page and reconcile alike. It settles races in the database: the checkout row is locked
(``SELECT ... FOR UPDATE``) before Stripe is read, so of a success page and twenty webhook deliveries
arriving together one does the work and the others find it done. :func:`sync_subscription` does the
same for a subscription already recorded, under the subscription row's lock. Locks are always taken
in the order checkout, subscription, license.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import lifecycle
from billing.catalog_sync import find_price
from billing.client import (
    STRIPE_ID,
    CheckoutState,
    StripeUnavailable,
    call,
    is_missing,
    read_checkout,
    read_subscription,
    stripe_client,
)
from licensing.access import audit
from licensing.context import Core
from licensing.kit import fields
from licensing.kit.db import atomic, new_id
from licensing.kit.errors import ServiceUnavailable, ValidationFailed
from licensing.licenses.customers import create_customer
from licensing.models import Checkout, License, Subscription

log = logging.getLogger("billing.checkout")
Interval = Literal["month", "year"]
INTERVALS: tuple[Interval, ...] = ("month", "year")
OFFER = lifecycle.OFFER


@dataclass(frozen=True)
class CheckoutStarted:
    id: str  # ours, chk_...
    url: str  # Stripe's hosted checkout page: send the buyer there


FulfilmentStatus = Literal["issued", "pending", "failed", "unknown", "not_ours", "unlicensable"]


@dataclass(frozen=True)
class Fulfilment:
    """What fulfilling a checkout (or syncing a subscription) found.

    * ``issued``: paid; ``license`` is the newest license of the subscription (``issued_now`` when this
      call issued it), ``subscription`` our record of it.
    * ``pending``: not paid yet (the buyer is still on Stripe's page, or an asynchronous payment such as a
      SEPA debit is clearing); the license is e-mailed once it is paid.
    * ``failed``: the checkout expired, or its payment failed, or the subscription ended before it was paid.
    * ``unknown``: Stripe knows no such Checkout Session (or subscription).
    * ``not_ours``: Stripe knows it, but it was not started by this service's checkout.
    * ``unlicensable``: paid, but not for the catalog's price at a quantity in its seat range (SPEC 6, last
      row): nothing issued, ``detail`` says why; ``license`` is the newest license issued before, if any.
    """

    status: FulfilmentStatus
    checkout_id: str | None = None
    license: License | None = None
    subscription: Subscription | None = None
    issued_now: bool = False
    detail: str = ""


# --- starting a checkout ----------------------------------------------------------------------------
@atomic
def create_checkout(
    session: Session,
    core: Core,
    *,
    interval: str,
    seats: int,
    email: str,
    company: str,
    name: str | None = None,
    actor: str = "public",
) -> CheckoutStarted:
    """Validate the buyer's choice, open a Stripe Checkout Session for the catalog's price x seats and
    store our checkout row (``chk_...``) with what the buyer typed, in the caller's transaction.

    Raises ``ValidationFailed`` (``invalid_interval``, ``invalid_seats``, ``invalid_email``, ``invalid_text``,
    ``too_long``, ``company_required``), ``BillingDisabled`` (no Stripe key, 404) or ``StripeUnavailable`` (503).
    """
    offer = core.catalog.offer(OFFER)
    if interval not in INTERVALS:
        raise ValidationFailed(
            f"interval must be month or year, not {str(interval)[:20]!r}.", field="interval", code="invalid_interval"
        )
    if isinstance(seats, bool) or not isinstance(seats, int):
        raise ValidationFailed("seats must be a whole number.", field="seats", code="invalid_seats")
    checked_seats = offer.seats.check(seats)
    assert checked_seats is not None
    email = fields.normalize_email(email)
    company = fields.check_text(company, "company", fields.NAME_MAX)
    if not company:
        raise ValidationFailed("Give the company the license is for.", field="company", code="company_required")
    name = fields.check_text(name or "", "name", fields.NAME_MAX) or None
    price = next((p for p in offer.prices if p.interval == interval), None)
    if price is None:
        raise ValidationFailed(f"No {interval}ly price in the catalog.", field="interval", code="invalid_interval")

    client = stripe_client(core)
    found = find_price(client, price.lookup_key)
    if found is None:
        log.error("billing.price_missing", extra={"lookup_key": price.lookup_key})
        raise ServiceUnavailable(
            "Checkout is not available right now: the catalog's prices are not in Stripe yet "
            "(the operator runs `licensing billing sync-catalog`).",
            code="checkout_unavailable",
        )
    checkout_id = new_id("chk")
    public_url = core.settings.public_url.rstrip("/")
    metadata = {"checkout_id": checkout_id}
    stripe_session = call(
        "open a checkout session",
        lambda: client.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "line_items": [{"price": found.id, "quantity": checked_seats}],
                "client_reference_id": checkout_id,
                "customer_email": email,
                "metadata": metadata,
                "subscription_data": {"metadata": metadata},
                "success_url": f"{public_url}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
                "cancel_url": f"{public_url}/checkout/cancel?checkout={checkout_id}",
            },
            options={"idempotency_key": f"{checkout_id}-session"},
        ),
    )
    if not stripe_session.url:
        raise StripeUnavailable("Stripe opened a checkout session without a payment page; try again.")
    now = core.now()
    session.add(
        Checkout(
            id=checkout_id,
            email=email,
            company=company,
            name=name,
            seats=checked_seats,
            interval=interval,
            price_lookup_key=price.lookup_key,
            stripe_session_id=stripe_session.id,
            status="open",
            created_by=actor[: fields.ACTOR_MAX],
            created_at=now,
        )
    )
    session.flush()
    audit.record(
        session, now, actor, "checkout.started", "checkout", checkout_id, seats=checked_seats, interval=interval
    )
    log.info("checkout.started", extra={"checkout": checkout_id, "stripe_session": stripe_session.id})
    return CheckoutStarted(id=checkout_id, url=stripe_session.url)


# --- fulfilling it -----------------------------------------------------------------------------------
def _locked_checkout(session: Session, stripe_session_id: str) -> Checkout | None:
    return session.scalars(
        select(Checkout)
        .where(Checkout.stripe_session_id == stripe_session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _locked_subscription(session: Session, **where: str) -> Subscription | None:
    query = select(Subscription).with_for_update().execution_options(populate_existing=True)
    for column, value in where.items():
        query = query.where(getattr(Subscription, column) == value)
    return session.scalars(query).first()


def _foreign(core: Core, read: str, what: str) -> Fulfilment:
    """Not one of our checkouts: does Stripe know it at all?"""
    client = stripe_client(core)
    try:
        if what == "checkout":
            call("read the checkout session", lambda: client.v1.checkout.sessions.retrieve(read))
        else:
            call("read the subscription", lambda: client.v1.subscriptions.retrieve(read))
    except StripeUnavailable as exc:
        if is_missing(exc):
            return Fulfilment("unknown", detail=f"Stripe knows no {what} {read}")
        raise
    return Fulfilment("not_ours", detail=f"{what} {read} was not started by this service")


@atomic
def fulfil_checkout(session: Session, core: Core, stripe_session_id: str) -> Fulfilment:
    """Fulfil the Stripe Checkout Session ``stripe_session_id`` (``cs_...``) once, in the caller's transaction.

    Reads the session (and its subscription) from Stripe under the lock of our checkout row; when paid,
    records the customer (from what the buyer typed at checkout) and the subscription, issues the license
    to period end + grace through ``issue_license`` (superseding a running trial of the same organisation)
    and writes its e-mail to the outbox. Calling it again, from any process, changes nothing more.
    Raises ``BillingDisabled`` without a Stripe key and ``StripeUnavailable`` when Stripe cannot be read.
    """
    if not STRIPE_ID.fullmatch(stripe_session_id or ""):
        return Fulfilment("unknown", detail="not a Checkout Session id")
    checkout = _locked_checkout(session, stripe_session_id)
    if checkout is None:
        return _foreign(core, stripe_session_id, "checkout")
    state = read_checkout(stripe_client(core), stripe_session_id)
    return _fulfil(session, core, checkout, state)


def _fulfil(session: Session, core: Core, checkout: Checkout, state: CheckoutState) -> Fulfilment:
    now = core.now()
    if state.status == "expired":
        if checkout.status != "expired":
            checkout.status = "expired"
            audit.record(session, now, "stripe", "checkout.expired", "checkout", checkout.id)
        return Fulfilment("failed", checkout.id, detail="the checkout expired unpaid")
    if state.status != "complete" or state.subscription is None:
        return Fulfilment("pending", checkout.id, detail="the buyer has not finished paying")
    sub = state.subscription
    if checkout.status != "complete":
        checkout.status, checkout.completed_at = "complete", now
    if checkout.customer_id is None:
        # SPEC 1: a customer record of this purchase's own, from what the buyer typed; never looked up.
        customer = create_customer(
            session,
            core,
            f"stripe ({sub.id})",
            name=checkout.name,
            email=checkout.email,
            company=checkout.company,
        )
        checkout.customer_id = customer.id
        session.flush()
    row = _locked_subscription(session, checkout_id=checkout.id)
    if row is None:
        row = Subscription(
            checkout_id=checkout.id,
            customer_id=checkout.customer_id,
            stripe_subscription_id=sub.id,
            stripe_customer_id=sub.customer,
            status=sub.status,
            seats=sub.seats,
            interval=sub.interval,
            price_lookup_key=sub.lookup_key,
            current_period_end=sub.period_end,
            cancel_at_period_end=sub.cancel_at_period_end,
            created_at=now,
            updated_at=now,
            synced_at=now,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            now,
            f"stripe ({sub.id})",
            "subscription.recorded",
            "subscription",
            row.id,
            checkout_id=checkout.id,
            stripe_subscription_id=sub.id,
            stripe_customer_id=sub.customer,
        )
    return _result(checkout, row, lifecycle.apply(session, core, row, sub))


def _result(checkout: Checkout, row: Subscription, applied: lifecycle.Applied) -> Fulfilment:
    if applied.unlicensable is not None:
        return Fulfilment("unlicensable", checkout.id, applied.newest, row, detail=applied.reason)
    if applied.newest is not None:
        return Fulfilment(
            "issued", checkout.id, applied.newest, row, issued_now=applied.issued is not None, detail=applied.reason
        )
    if row.status in ("incomplete", "past_due", "unpaid"):
        return Fulfilment("pending", checkout.id, subscription=row, detail="the payment has not cleared yet")
    return Fulfilment("failed", checkout.id, subscription=row, detail=f"subscription {row.status}: {applied.reason}")


@atomic
def sync_subscription(session: Session, core: Core, stripe_subscription_id: str) -> Fulfilment:
    """Bring our record of a Stripe subscription and its licenses to what Stripe says now (SPEC 6's table),
    in the caller's transaction; a subscription not recorded yet is fulfilled through its checkout."""
    if not STRIPE_ID.fullmatch(stripe_subscription_id or ""):
        return Fulfilment("unknown", detail="not a subscription id")
    row = _locked_subscription(session, stripe_subscription_id=stripe_subscription_id)
    client = stripe_client(core)
    if row is None:
        try:
            state = read_subscription(client, stripe_subscription_id)
        except StripeUnavailable as exc:
            if is_missing(exc):
                return Fulfilment("unknown", detail=f"Stripe knows no subscription {stripe_subscription_id}")
            raise
        checkout = session.get(Checkout, state.checkout_id) if state.checkout_id else None
        if checkout is None:
            return Fulfilment("not_ours", detail=f"subscription {stripe_subscription_id} was not started here")
        return fulfil_checkout(session, core, checkout.stripe_session_id)
    checkout = session.get(Checkout, row.checkout_id)
    assert checkout is not None
    state = read_subscription(client, stripe_subscription_id)
    return _result(checkout, row, lifecycle.apply(session, core, row, state))
