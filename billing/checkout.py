"""Self-serve checkout: starting one (our checkout row, then Stripe's Checkout Session) and fulfilling it.

:func:`fulfil_checkout` is SPEC section 6's one idempotent step, run by the webhook processing, the
success page and reconcile alike; :func:`sync_subscription` does the same for a subscription. Neither
holds a database transaction while Stripe answers: our rows are looked up in a short transaction (a
session that is not ours is never read from Stripe), Stripe is read with none open, and what it said is
applied in another short transaction under the rows' locks (``SELECT ... FOR UPDATE``), where it is
re-checked: of a success page and twenty webhook deliveries arriving together one does the work and
the others find it done, and a read that another step overtook is read again. Locks are always taken
in the order checkout, subscription, license.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session
from stripe.params.checkout import SessionCreateParams

from billing import lifecycle
from billing.catalog_sync import find_price
from billing.client import (
    STRIPE_ID,
    CheckoutState,
    StripeUnavailable,
    SubscriptionState,
    call,
    is_missing,
    read_checkout,
    read_subscription,
    stripe_client,
)
from licensing.access import audit
from licensing.context import Core, Runtime
from licensing.kit import fields
from licensing.kit.db import atomic, new_id
from licensing.kit.errors import NotFound, ServiceUnavailable, ValidationFailed
from licensing.kit.tokens import matches, new_token, token_hash
from licensing.licenses.buylinks import require_trial
from licensing.licenses.customers import create_customer
from licensing.licenses.queries import newest_of_line
from licensing.models import Checkout, License, Subscription

log = logging.getLogger("billing.checkout")
POLL_PREFIX = "chp"  # of checkout poll tokens
Interval = Literal["month", "year"]
INTERVALS: tuple[Interval, ...] = ("month", "year")
OFFER = lifecycle.OFFER


@dataclass(frozen=True)
class CheckoutStarted:
    id: str  # ours, chk_...
    url: str  # Stripe's hosted checkout page: send the buyer there
    poll_token: str  # shown once (only its hash is kept): GET /v1/checkout/sessions/{id} with it


FulfilmentStatus = Literal["issued", "pending", "failed", "unknown", "not_ours", "unlicensable", "revoked", "audited"]


@dataclass(frozen=True)
class Fulfilment:
    """What fulfilling a checkout (or syncing a subscription) found.

    * ``issued``: paid; ``license`` is the newest license of the subscription (``issued_now`` when this
      call issued it), ``subscription`` our record of it, ``completed_at`` when our checkout completed.
    * ``pending``: not paid yet (the buyer is still on Stripe's page, or an asynchronous payment such as a
      SEPA debit is clearing); the license is e-mailed once it is paid.
    * ``failed``: the checkout expired, or its payment failed, or the subscription ended before it was paid.
    * ``unknown``: not a Stripe id, or Stripe knows no such subscription.
    * ``not_ours``: no checkout of ours names this Checkout Session (Stripe is not asked), or the
      subscription was not started by this service's checkout.
    * ``unlicensable``: paid, but not for the catalog's price at a quantity in its seat range (SPEC 6, last
      row): nothing issued, ``detail`` says why; ``license`` is the newest license issued before, if any.
    * ``revoked`` / ``audited`` (a refund or a dispute, :mod:`billing.money`): the subscription's line was
      revoked (now or before: ``license``), or the money event was only audited; ``detail`` says what.
    """

    status: FulfilmentStatus
    checkout_id: str | None = None
    license: License | None = None
    subscription: Subscription | None = None
    issued_now: bool = False
    detail: str = ""
    completed_at: datetime | None = None  # when our checkout was first seen complete (paid, or paying)


def collect(core: Core, params: SessionCreateParams) -> None:
    """What Stripe's checkout page collects besides the card, as configured: with Stripe Tax, automatic tax,
    a required billing address and tax IDs (SPEC 6); promotion codes when allowed."""
    if core.settings.stripe_automatic_tax:
        params["automatic_tax"] = {"enabled": True}
        params["billing_address_collection"] = "required"
        params["tax_id_collection"] = {"enabled": True}
    if core.settings.stripe_promotion_codes:
        params["allow_promotion_codes"] = True


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
    trial_token: str | None = None,
    installation_id: str | None = None,
    actor: str = "public",
) -> CheckoutStarted:
    """Validate the buyer's choice, open a Stripe Checkout Session for the catalog's price x seats and
    store our checkout row (``chk_...``) with what the buyer typed, in the caller's transaction.
    ``trial_token``: a trial's buy link (licensing.licenses.buylinks), the holder's proof that the
    purchase replaces her trial; without it the purchase starts a line of its own. ``installation_id``:
    the license (and its renewals) is bound to that installation (a purchase from inside a self-hosted
    server, which then polls with ``CheckoutStarted.poll_token``).

    Raises ``ValidationFailed`` (``invalid_interval``, ``invalid_seats``, ``invalid_email``, ``invalid_text``,
    ``too_long``, ``company_required``, ``invalid_trial_link``), ``BillingDisabled`` (no Stripe key, 404) or
    ``StripeUnavailable`` (503).
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
    installation_id = fields.check_installation_id(installation_id)
    trial = require_trial(session, core, trial_token) if trial_token else None

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
    poll_token = new_token(POLL_PREFIX)
    public_url = core.settings.public_url.rstrip("/")
    metadata = {"checkout_id": checkout_id}
    params: SessionCreateParams = {
        "mode": "subscription",
        "line_items": [{"price": found.id, "quantity": checked_seats}],
        "client_reference_id": checkout_id,
        "customer_email": email,
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
        "success_url": f"{public_url}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{public_url}/checkout/cancel?checkout={checkout_id}",
    }
    collect(core, params)
    stripe_session = call(
        "open a checkout session",
        lambda: client.v1.checkout.sessions.create(
            params=params, options={"idempotency_key": f"{checkout_id}-session"}
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
            trial_license_id=trial.id if trial is not None else None,
            installation_id=installation_id,
            poll_token_hash=poll_token.hash,
            stripe_session_id=stripe_session.id,
            status="open",
            created_by=actor[: fields.ACTOR_MAX],
            created_at=now,
        )
    )
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "checkout.started",
        "checkout",
        checkout_id,
        seats=checked_seats,
        interval=interval,
        replaces_trial=trial.id if trial is not None else None,
    )
    log.info("checkout.started", extra={"checkout": checkout_id, "stripe_session": stripe_session.id})
    return CheckoutStarted(id=checkout_id, url=stripe_session.url, poll_token=poll_token.secret)


# --- fulfilling it -----------------------------------------------------------------------------------
# Stripe is never read with a database transaction open: a short transaction looks our rows up (and
# commits), Stripe is read with none open, and another short transaction locks the rows, checks that
# what they hold is what they held before Stripe was read (else Stripe is read again) and applies
# what Stripe said. On SQLite every transaction holds the one write lock from its first statement, so
# a slow Stripe would otherwise stall every write of the service.
ROUNDS = 4  # reads of Stripe one step makes at most (an unrecorded subscription takes two, races more)

Then = Callable[[Session, Fulfilment], None]
Mirrored = tuple[str, int, str, str | None, datetime, bool, datetime | None]


class StripeKeepsChanging(ServiceUnavailable):
    code = "stripe_changing"


def _mirrored(row: Subscription) -> Mirrored:
    """What our subscription row mirrors of Stripe's."""
    return (
        row.status,
        row.seats,
        row.interval,
        row.price_lookup_key,
        row.current_period_end,
        row.cancel_at_period_end,
        row.ended_at,
    )


def _said(state: SubscriptionState) -> Mirrored:
    return (
        state.status,
        state.seats,
        state.interval,
        state.lookup_key,
        state.period_end,
        state.cancel_at_period_end,
        state.ended_at,
    )


@dataclass(frozen=True)
class _Read:
    """What to read from Stripe next (a Checkout Session of ours or a subscription), and what our
    subscription row held when it was looked up (None: not recorded), in a transaction committed
    before Stripe is asked."""

    what: Literal["checkout", "subscription"]
    stripe_id: str
    recorded: Mirrored | None


def _still_current(read: _Read, row: Subscription, state: SubscriptionState) -> bool:
    """Under the row's lock: may what Stripe said be applied? Yes when nobody changed the row since it
    was looked up (so whatever was applied before was read before this read), or when what is there is
    what Stripe said (applying it changes nothing more). Otherwise another step applied a read made
    while this one was under way, which may be newer: Stripe is read again."""
    now = _mirrored(row)
    return now == read.recorded or now == _said(state)


def _look_up_checkout(session: Session, stripe_session_id: str, reuse_issued: bool) -> Fulfilment | _Read:
    """Our checkout of ``stripe_session_id``, read without a lock. A session that no checkout of ours
    names is not read from Stripe at all: whether Stripe knows it changes nothing we would do."""
    if not STRIPE_ID.fullmatch(stripe_session_id or ""):
        return Fulfilment("unknown", detail="not a Checkout Session id")
    checkout = session.scalars(select(Checkout).where(Checkout.stripe_session_id == stripe_session_id)).first()
    if checkout is None:
        return Fulfilment("not_ours", detail=f"no checkout of ours has the session {stripe_session_id}")
    row = session.scalars(select(Subscription).where(Subscription.checkout_id == checkout.id)).first()
    if reuse_issued and row is not None:
        newest = lifecycle.newest_license(session, row)
        if newest is not None:  # fulfilled already; the webhooks keep it current
            return _result(checkout, row, lifecycle.Applied(issued=None, newest=newest, reason="fulfilled already"))
    return _Read("checkout", stripe_session_id, _mirrored(row) if row is not None else None)


def _look_up_subscription(session: Session, stripe_subscription_id: str) -> Fulfilment | _Read:
    if not STRIPE_ID.fullmatch(stripe_subscription_id or ""):
        return Fulfilment("unknown", detail="not a subscription id")
    row = session.scalars(
        select(Subscription).where(Subscription.stripe_subscription_id == stripe_subscription_id)
    ).first()
    return _Read("subscription", stripe_subscription_id, _mirrored(row) if row is not None else None)


def _ask_stripe(core: Core, read: _Read) -> CheckoutState | SubscriptionState | Fulfilment:
    """What Stripe says now; called with no database transaction open."""
    client = stripe_client(core)
    if read.what == "checkout":
        return read_checkout(client, read.stripe_id)
    try:
        return read_subscription(client, read.stripe_id)
    except StripeUnavailable as exc:
        if read.recorded is None and is_missing(exc):
            return Fulfilment("unknown", detail=f"Stripe knows no subscription {read.stripe_id}")
        raise


@atomic
def _settle(session: Session, core: Core, read: _Read, said: CheckoutState | SubscriptionState) -> Fulfilment | _Read:
    """Apply what Stripe said under the rows' locks (checkout, then subscription, then license), in a
    savepoint of the caller's transaction; a :class:`_Read` when Stripe must be read (again) first."""
    if isinstance(said, CheckoutState):
        checkout = _locked_checkout(session, read.stripe_id)
        if checkout is None:  # checkouts are never deleted; a session looked up is ours
            return Fulfilment("not_ours", detail=f"no checkout of ours has the session {read.stripe_id}")
        row = _locked_subscription(session, checkout_id=checkout.id)
        if row is not None and said.subscription is not None and not _still_current(read, row, said.subscription):
            return _Read("checkout", read.stripe_id, _mirrored(row))
        return _fulfil(session, core, checkout, row, said)
    row = _locked_subscription(session, stripe_subscription_id=read.stripe_id)
    if row is None:
        # Not recorded yet: its metadata names the checkout of ours it came from, which fulfils it.
        checkout = session.get(Checkout, said.checkout_id) if said.checkout_id else None
        if checkout is None:
            return Fulfilment("not_ours", detail=f"subscription {read.stripe_id} was not started here")
        return _Read("checkout", checkout.stripe_session_id, None)
    if not _still_current(read, row, said):
        return _Read("subscription", read.stripe_id, _mirrored(row))
    checkout = session.get(Checkout, row.checkout_id)
    assert checkout is not None
    return _result(checkout, row, lifecycle.apply(session, core, row, said))


def _step(runtime: Runtime, look_up: Callable[[Session], Fulfilment | _Read], then: Then | None) -> Fulfilment:
    """Look up, read Stripe with no transaction open, settle; again while the rows changed under the read.
    ``then`` runs in the transaction of the outcome (the webhook event marked processed with it)."""
    with runtime.unit_of_work() as session:
        found = look_up(session)
        if isinstance(found, Fulfilment):
            if then is not None:
                then(session, found)
            return found
    for _ in range(ROUNDS):
        said = _ask_stripe(runtime.core, found)
        if isinstance(said, Fulfilment) and then is None:
            return said
        with runtime.unit_of_work() as session:
            outcome = said if isinstance(said, Fulfilment) else _settle(session, runtime.core, found, said)
            if isinstance(outcome, Fulfilment):
                if then is not None:
                    then(session, outcome)
                return outcome
        found = outcome
    raise StripeKeepsChanging(
        f"What Stripe says about {found.stripe_id} changed on each of {ROUNDS} reads; try again shortly."
    )


def fulfil_checkout(
    runtime: Runtime, stripe_session_id: str, *, reuse_issued: bool = False, then: Then | None = None
) -> Fulfilment:
    """Fulfil the Stripe Checkout Session ``stripe_session_id`` (``cs_...``) once.

    A session no checkout of ours names is ``not_ours`` without asking Stripe. Ours is read from Stripe
    (with its subscription) with no transaction open; then, in a short transaction under our checkout
    row's lock, when paid: the customer recorded (from what the buyer typed at checkout) and the
    subscription, the license issued to period end + grace through ``issue_license`` (superseding a
    running trial of the same organisation) and its e-mail written to the outbox. Calling it again, from
    any process, changes nothing more. With ``reuse_issued`` (the success page) a checkout whose license
    is issued already is answered from our rows, without asking Stripe.

    It runs its own transactions (so it takes the runtime, not a session): ``then`` runs in the one of
    the outcome. Raises ``BillingDisabled`` without a Stripe key, ``StripeUnavailable`` when Stripe cannot
    be read; a failure keeps nothing it wrote.
    """
    return _step(runtime, lambda session: _look_up_checkout(session, stripe_session_id, reuse_issued), then)


def sync_subscription(runtime: Runtime, stripe_subscription_id: str, *, then: Then | None = None) -> Fulfilment:
    """Bring our record of a Stripe subscription and its licenses to what Stripe says now (SPEC 6's
    table), read from Stripe with no transaction open and applied under the subscription row's lock; a
    subscription not recorded yet is fulfilled through its checkout (``not_ours`` when its metadata names
    none of ours). Its own transactions, ``then`` and failures as :func:`fulfil_checkout`."""
    return _step(runtime, lambda session: _look_up_subscription(session, stripe_subscription_id), then)


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


def _fulfil(
    session: Session, core: Core, checkout: Checkout, row: Subscription | None, state: CheckoutState
) -> Fulfilment:
    """What the Checkout Session says, applied under the checkout's lock (and its subscription's, ``row``)."""
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
    completed_at = checkout.completed_at
    if applied.unlicensable is not None:
        return Fulfilment(
            "unlicensable", checkout.id, applied.newest, row, detail=applied.reason, completed_at=completed_at
        )
    if applied.newest is not None:
        return Fulfilment(
            "issued",
            checkout.id,
            applied.newest,
            row,
            issued_now=applied.issued is not None,
            detail=applied.reason,
            completed_at=completed_at,
        )
    if row.status in ("incomplete", "past_due", "unpaid"):
        return Fulfilment(
            "pending",
            checkout.id,
            subscription=row,
            detail="the payment has not cleared yet",
            completed_at=completed_at,
        )
    return Fulfilment(
        "failed",
        checkout.id,
        subscription=row,
        detail=f"subscription {row.status}: {applied.reason}",
        completed_at=completed_at,
    )


# --- polling (in-product purchase) ------------------------------------------------------------------
CheckoutProgress = Literal["open", "expired", "pending", "issued"]
CHECKOUT_NOT_FOUND = "checkout_not_found"
_NO_HASH = token_hash("no checkout")  # compared against when no checkout has the id: a miss costs the same


@dataclass(frozen=True)
class Progress:
    """Where a checkout stands for the holder of its poll token: ``open`` (not paid yet), ``expired``,
    ``pending`` (paid, the license not issued yet: a payment clearing, or the webhook not processed), or
    ``issued`` with the newest license of its subscription's line (renewals included)."""

    status: CheckoutProgress
    license: License | None = None


def poll_checkout(session: Session, checkout_id: str, poll_token: str | None) -> Progress:
    """What the buyer's server sees when it polls; ``NotFound`` (``checkout_not_found``) for an unknown id
    and for a wrong or missing token alike (the hashes are compared in constant time either way). Reads
    our rows only: fulfilment is the webhooks' and the success page's."""
    checkout = session.get(Checkout, checkout_id) if checkout_id.isascii() and len(checkout_id) <= 40 else None
    stored = checkout.poll_token_hash if checkout is not None and checkout.poll_token_hash else _NO_HASH
    right = matches(poll_token or "", stored)
    if checkout is None or not poll_token or not right:
        raise NotFound("No such checkout, or not its poll token.", code=CHECKOUT_NOT_FOUND)
    if checkout.status == "expired":
        return Progress("expired")
    if checkout.status != "complete":
        return Progress("open")
    row = session.scalars(select(Subscription).where(Subscription.checkout_id == checkout.id)).first()
    if row is None or row.line_id is None:
        return Progress("pending")
    return Progress("issued", newest_of_line(session, row.line_id))
