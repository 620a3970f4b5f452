"""Helpers for the fake Stripe's tests: a catalog and checkouts made through the SDK and the hosted page."""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from fakestripe.hosted import submit_checkout

SUCCESS_URL = "http://127.0.0.1:9/checkout/success?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "http://127.0.0.1:9/checkout/cancel"


@dataclass
class Catalog:
    product: stripe.Product
    monthly: stripe.Price
    yearly: stripe.Price


def make_catalog(client: stripe.StripeClient) -> Catalog:
    product = client.v1.products.create(params={"name": "Professional", "metadata": {"plan": "pro"}})
    monthly = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 2000,
            "recurring": {"interval": "month"},
            "lookup_key": "pro_monthly",
        }
    )
    yearly = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 20000,
            "recurring": {"interval": "year"},
            "lookup_key": "pro_yearly",
        }
    )
    return Catalog(product, monthly, yearly)


def open_checkout(
    client: stripe.StripeClient, price: stripe.Price, *, seats: int = 3, email: str = "buyer@example.com"
) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": seats}],
            "customer_email": email,
            "client_reference_id": "chk_123",
            "metadata": {"checkout_id": "chk_123"},
            "subscription_data": {"metadata": {"checkout_id": "chk_123"}},
            "success_url": SUCCESS_URL,
            "cancel_url": CANCEL_URL,
        }
    )


def paid_checkout(
    client: stripe.StripeClient, price: stripe.Price, *, seats: int = 3, email: str = "buyer@example.com"
) -> stripe.checkout.Session:
    """A checkout paid through the hosted page with 4242..., retrieved again."""
    session = open_checkout(client, price, seats=seats, email=email)
    assert session.url is not None
    response = submit_checkout(session.url)
    assert response.status_code == 303, response.text
    return client.v1.checkout.sessions.retrieve(session.id)
