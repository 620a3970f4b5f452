"""Billing's rows written directly, for tests of what reads them (the portal, reminders) without a
purchase through the fake Stripe: a completed Checkout and the Subscription billing keeps for it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from licensing.models import Checkout, Subscription


def record_subscription(
    session: Session,
    *,
    customer_id: str,
    email: str,
    stripe_customer_id: str,
    stripe_subscription_id: str,
    status: str,
    current_period_end: datetime,
    seats: int = 4,
    **values: Any,
) -> Subscription:
    """A monthly Professional subscription of ``customer_id`` (more columns in ``values``), flushed; made a
    month before ``current_period_end`` unless ``values`` say when (``created_at``)."""
    made = values.pop("created_at", current_period_end - timedelta(days=30))
    checkout = Checkout(
        email=email,
        company="Example Ltd",
        seats=seats,
        interval="month",
        price_lookup_key="professional_monthly",
        stripe_session_id=f"cs_test_{stripe_subscription_id}",
        status="complete",
        customer_id=customer_id,
        created_by="test",
        created_at=made,
    )
    session.add(checkout)
    session.flush()
    subscription = Subscription(
        checkout_id=checkout.id,
        customer_id=customer_id,
        stripe_subscription_id=stripe_subscription_id,
        stripe_customer_id=stripe_customer_id,
        status=status,
        seats=seats,
        interval="month",
        price_lookup_key="professional_monthly",
        current_period_end=current_period_end,
        created_at=made,
        updated_at=values.pop("updated_at", made),
        synced_at=values.pop("synced_at", made),
        **values,
    )
    session.add(subscription)
    session.flush()
    return subscription
