"""The Stripe client built from the settings, its errors as domain errors, and plain snapshots of the
Stripe objects the rest of billing reads (so only this module knows the SDK's object shapes).

The API version is the SDK's own (stripe 16: ``current_period_end`` is on the subscription items, an
invoice's subscription is ``invoice.parent.subscription_details.subscription``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

import stripe

from licensing.context import Core
from licensing.kit.errors import DomainError, ServiceUnavailable

log = logging.getLogger("billing")
HTTP_TIMEOUT = 20.0
STRIPE_ID = re.compile(r"^[A-Za-z0-9_]{1,255}$")
T = TypeVar("T")


class BillingDisabled(DomainError):
    """No Stripe secret key is configured: self-serve checkout is not offered by this service."""

    status = 404
    code = "billing_disabled"
    title = "Not available"


class StripeUnavailable(ServiceUnavailable):
    code = "stripe_unavailable"


@lru_cache(maxsize=8)
def _client(secret_key: str, api_base: str | None, retries: int) -> stripe.StripeClient:
    options: dict[str, Any] = {}
    if api_base:  # a stand-in for Stripe (tests): every kind of call goes there
        base = api_base.rstrip("/")
        options["base_addresses"] = {"api": base, "files": base, "connect": base, "meter_events": base}
    return stripe.StripeClient(
        secret_key,
        **options,
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=HTTP_TIMEOUT),
    )


def is_configured(core: Core) -> bool:
    key = core.settings.stripe_secret_key
    return key is not None and bool(key.get_secret_value().strip())


def stripe_client(core: Core, *, retries: int | None = None) -> stripe.StripeClient:
    """The SDK client for ``LICENSING_STRIPE_SECRET_KEY`` at ``LICENSING_STRIPE_API_BASE`` (Stripe's own
    address when unset); :class:`BillingDisabled` without a key. ``retries`` overrides
    ``LICENSING_STRIPE_MAX_NETWORK_RETRIES`` (0 for a page that must not wait on a failing Stripe)."""
    settings = core.settings
    if not is_configured(core):
        raise BillingDisabled(
            "Self-serve checkout is not enabled on this service (LICENSING_STRIPE_SECRET_KEY is not set).",
        )
    assert settings.stripe_secret_key is not None
    return _client(
        settings.stripe_secret_key.get_secret_value().strip(),
        settings.stripe_api_base,
        settings.stripe_max_network_retries if retries is None else retries,
    )


def call(what: str, function: Callable[[], T]) -> T:
    """Run one Stripe call; Stripe's failures become :class:`StripeUnavailable` (503), with Stripe's
    request id in the log, never the key."""
    try:
        return function()
    except stripe.StripeError as exc:
        log.log(
            logging.INFO if exc.http_status == 404 else logging.WARNING,
            "stripe.not_found" if exc.http_status == 404 else "stripe.failed",
            extra={
                "call": what,
                "error": type(exc).__name__,
                "status": exc.http_status,
                "code": exc.code,
                "request_id": exc.request_id,
                "stripe_message": exc.user_message,
            },
        )
        raise StripeUnavailable(f"Stripe could not {what} ({type(exc).__name__}); try again shortly.") from exc


def is_missing(exc: BaseException) -> bool:
    """A Stripe 404 (``resource_missing``), behind a :class:`StripeUnavailable` or not."""
    cause = exc.__cause__ if isinstance(exc, StripeUnavailable) else exc
    return isinstance(cause, stripe.InvalidRequestError) and (
        cause.http_status == 404 or cause.code == "resource_missing"
    )


def timestamp(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


# --- snapshots of what billing reads ---------------------------------------------------------------
@dataclass(frozen=True)
class SubscriptionState:
    """A Stripe subscription as billing needs it: the desired license is (seats, period end) while active.

    ``seats`` is the item's quantity as Stripe says it, 0 included (never a default: a subscription at
    quantity 0 pays for no seat); ``price`` and ``lookup_key`` say which price it pays, for
    :func:`billing.lifecycle.unlicensable` to check against the catalog."""

    id: str
    customer: str
    status: str
    seats: int
    interval: str
    price: str
    lookup_key: str | None
    period_end: datetime
    cancel_at_period_end: bool
    ended_at: datetime | None
    latest_invoice: str | None
    checkout_id: str | None
    # Collection paused (``pause_collection`` set: the periods' invoices voided, kept as drafts or marked
    # uncollectible); the subscription stays ``active`` meanwhile.
    collection_paused: bool = False
    # The latest invoice's status (``paid``, ``open``, ``void``, ``draft``, ``uncollectible``) and Stripe's
    # hosted invoice page (where the customer pays it, completing 3-D Secure if the bank asks); None when
    # the subscription was read without its latest invoice expanded.
    invoice_status: str | None = None
    invoice_url: str | None = None

    @classmethod
    def of(cls, sub: stripe.Subscription) -> SubscriptionState:
        items = sub["items"].data
        if not items:
            raise StripeUnavailable(f"Stripe subscription {sub.id} has no items.")
        item = items[0]
        price = item.price
        recurring = price.recurring
        customer = sub.customer if isinstance(sub.customer, str) else sub.customer.id
        invoice = sub.latest_invoice
        expanded = invoice if isinstance(invoice, stripe.Invoice) else None
        metadata = sub.metadata.to_dict() if sub.metadata else {}
        period_end = timestamp(item.current_period_end)
        assert period_end is not None
        return cls(
            id=sub.id,
            customer=customer,
            status=sub.status,
            seats=int(item.quantity) if item.quantity is not None else 0,
            interval=recurring.interval if recurring is not None else "month",
            price=price.id,
            lookup_key=price.lookup_key,
            period_end=period_end,
            cancel_at_period_end=bool(sub.cancel_at_period_end),
            ended_at=timestamp(sub.ended_at),
            latest_invoice=invoice if isinstance(invoice, str) or invoice is None else invoice.id,
            checkout_id=metadata.get("checkout_id"),
            collection_paused=sub.pause_collection is not None,
            invoice_status=expanded.status if expanded is not None else None,
            invoice_url=expanded.hosted_invoice_url if expanded is not None else None,
        )


@dataclass(frozen=True)
class CheckoutState:
    """A Stripe Checkout Session: ``open``, ``complete`` or ``expired``; paid, unpaid (async) or no payment needed."""

    id: str
    status: str | None
    payment_status: str
    customer: str | None
    client_reference_id: str | None
    subscription: SubscriptionState | None

    @classmethod
    def of(cls, session: stripe.checkout.Session, subscription: stripe.Subscription | None) -> CheckoutState:
        customer = session.customer
        return cls(
            id=session.id,
            status=session.status,
            payment_status=session.payment_status,
            customer=customer if isinstance(customer, str) or customer is None else customer.id,
            client_reference_id=session.client_reference_id,
            subscription=SubscriptionState.of(subscription) if subscription is not None else None,
        )


def read_checkout(client: stripe.StripeClient, session_id: str) -> CheckoutState:
    """The Checkout Session with its subscription (and the subscription's latest invoice), read from Stripe now."""
    session = call(
        "read the checkout session",
        lambda: client.v1.checkout.sessions.retrieve(
            session_id, params={"expand": ["subscription", "subscription.latest_invoice"]}
        ),
    )
    expanded = session.subscription
    if isinstance(expanded, str):  # not expanded after all: read it
        sub_id = expanded
        expanded = call(
            "read the subscription",
            lambda: client.v1.subscriptions.retrieve(sub_id, params={"expand": ["latest_invoice"]}),
        )
    return CheckoutState.of(session, expanded)


def read_subscription(client: stripe.StripeClient, subscription_id: str) -> SubscriptionState:
    """The subscription with its latest invoice (whether it is paid, and its hosted page), read now."""
    return SubscriptionState.of(
        call(
            "read the subscription",
            lambda: client.v1.subscriptions.retrieve(subscription_id, params={"expand": ["latest_invoice"]}),
        )
    )


def _id_of(value: Any) -> str | None:
    """The id of an expandable field, expanded or not."""
    if value is None or isinstance(value, str):
        return value
    found = getattr(value, "id", None)
    return found if isinstance(found, str) else None


@dataclass(frozen=True)
class ChargeState:
    """A Stripe charge as the money rows of SPEC 6 need it: how much was captured and refunded, and which
    invoice it paid (found through ``invoice_payments``: in this API version a charge does not name its
    invoice), that invoice's subscription and whether it is the subscription's latest paid invoice.
    ``invoice`` and ``subscription`` are None for a charge that paid no subscription invoice."""

    id: str
    amount: int
    amount_refunded: int
    refunded: bool
    currency: str
    invoice: str | None = None
    subscription: str | None = None
    checkout_id: str | None = None  # the subscription's metadata as the invoice snapshotted it
    latest_paid_invoice: str | None = None

    @property
    def fully_refunded(self) -> bool:
        return self.refunded or (self.amount > 0 and self.amount_refunded >= self.amount)

    @property
    def of_latest_invoice(self) -> bool:
        return self.invoice is not None and self.invoice == self.latest_paid_invoice


@dataclass(frozen=True)
class DisputeState:
    """A Stripe dispute: ``status`` (``warning_needs_response``, ``needs_response``, ``under_review``,
    ``won``, ``lost``, ``warning_closed``...), what is disputed, and the charge it disputes."""

    id: str
    status: str
    reason: str
    amount: int
    currency: str
    evidence_due_by: datetime | None
    charge: ChargeState

    @property
    def closed(self) -> bool:
        return self.status in ("won", "lost", "warning_closed")


def read_charge(client: stripe.StripeClient, charge_id: str) -> ChargeState:
    """The charge, read from Stripe now, with the invoice it paid (if any) and that subscription's latest
    paid invoice: a charge, an invoice-payment list, an invoice and an invoice list."""
    charge = call("read the charge", lambda: client.v1.charges.retrieve(charge_id))
    state = ChargeState(
        id=charge.id,
        amount=int(charge.amount_captured or charge.amount or 0),
        amount_refunded=int(charge.amount_refunded or 0),
        refunded=bool(charge.refunded),
        currency=str(charge.currency or ""),
    )
    intent = _id_of(charge.payment_intent)
    if intent is None:  # a charge of no payment intent pays no subscription invoice of ours
        return state
    payments = call(
        "find the invoice of the charge",
        lambda: client.v1.invoice_payments.list(
            params={"payment": {"type": "payment_intent", "payment_intent": intent}, "limit": 10}
        ),
    )
    invoice_id = next((_id_of(p.invoice) for p in payments.data if p.status == "paid"), None)
    if invoice_id is None:
        return state
    invoice = call("read the invoice", lambda: client.v1.invoices.retrieve(invoice_id))
    details = invoice.parent.subscription_details if invoice.parent is not None else None
    subscription = _id_of(details.subscription) if details is not None else None
    if subscription is None:
        return state
    metadata = details.metadata.to_dict() if details is not None and details.metadata else {}
    paid = call(
        "list the subscription's paid invoices",
        lambda: client.v1.invoices.list(params={"subscription": subscription, "status": "paid", "limit": 1}),
    )
    return ChargeState(
        id=state.id,
        amount=state.amount,
        amount_refunded=state.amount_refunded,
        refunded=state.refunded,
        currency=state.currency,
        invoice=invoice_id,
        subscription=subscription,
        checkout_id=metadata.get("checkout_id"),
        latest_paid_invoice=paid.data[0].id if paid.data else None,
    )


def read_dispute(client: stripe.StripeClient, dispute_id: str) -> DisputeState:
    """The dispute, read from Stripe now, with its charge (:func:`read_charge`)."""
    dispute = call("read the dispute", lambda: client.v1.disputes.retrieve(dispute_id))
    charge_id = _id_of(dispute.charge)
    if charge_id is None:
        raise StripeUnavailable(f"Stripe dispute {dispute.id} names no charge.")
    details = dispute.evidence_details
    return DisputeState(
        id=dispute.id,
        status=str(dispute.status),
        reason=str(dispute.reason or ""),
        amount=int(dispute.amount or 0),
        currency=str(dispute.currency or ""),
        evidence_due_by=timestamp(details.due_by) if details is not None else None,
        charge=read_charge(client, charge_id),
    )


def stripe_id(value: Any) -> str | None:
    """``value`` when it could be the id of a Stripe object (letters, digits and _), else None."""
    return value if isinstance(value, str) and STRIPE_ID.fullmatch(value) else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def event_target(event: Any) -> tuple[str, str] | None:
    """Which object an event is about, to re-read: ``("checkout.session", id)``, ``("subscription", id)``,
    ``("charge", id)`` or ``("dispute", id)``; None when the event names none (whatever shape its payload has)."""
    obj = _object(_object(event.get("data")).get("object"))
    kind = obj.get("object")
    if kind in ("checkout.session", "subscription", "charge", "dispute"):
        found = stripe_id(obj.get("id"))
        return (kind, found) if found else None
    if kind == "invoice":
        sub = _object(_object(obj.get("parent")).get("subscription_details")).get("subscription") or obj.get(
            "subscription"
        )
        found = stripe_id(sub.get("id") if isinstance(sub, dict) else sub)
        return ("subscription", found) if found else None
    return None
