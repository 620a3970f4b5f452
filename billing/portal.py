"""Stripe's billing portal for a customer of ours: payment method, invoices, seats, interval, cancelling.

What the customer changes there comes back to us as webhooks (billing.webhooks), like any change.
"""

from __future__ import annotations

from billing.client import call, stripe_client
from licensing.context import Core


def billing_portal_url(core: Core, stripe_customer_id: str, return_url: str) -> str:
    """A new billing portal session's address for ``stripe_customer_id``, coming back to ``return_url``.

    Raises ``BillingDisabled`` (no Stripe key, 404) or ``StripeUnavailable`` (503)."""
    client = stripe_client(core)
    portal = call(
        "open the billing portal",
        lambda: client.v1.billing_portal.sessions.create(
            params={"customer": stripe_customer_id, "return_url": return_url}
        ),
    )
    return str(portal.url)
