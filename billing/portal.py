"""Stripe's billing portal for a customer of ours: payment method, invoices, seats, interval, cancelling.

What the customer changes there comes back to us as webhooks (billing.webhooks), like any change.
"""

from __future__ import annotations

from typing import Any

from billing.catalog_sync import find_portal_configuration
from billing.client import call, log, stripe_client
from licensing.context import Core


def billing_portal_url(core: Core, stripe_customer_id: str, return_url: str) -> str:
    """A new billing portal session's address for ``stripe_customer_id``, coming back to ``return_url``,
    with the service's own configuration (``licensing billing sync-catalog`` makes it; without it, the
    account's default configuration from Stripe's dashboard, and a warning in the log).

    Raises ``BillingDisabled`` (no Stripe key, 404) or ``StripeUnavailable`` (503)."""
    client = stripe_client(core)
    config = find_portal_configuration(client)
    params: dict[str, Any] = {"customer": stripe_customer_id, "return_url": return_url}
    if config is not None:
        params["configuration"] = config.id
    else:
        log.warning("billing.portal_configuration_missing", extra={"hint": "run licensing billing sync-catalog"})
    portal = call(
        "open the billing portal",
        lambda: client.v1.billing_portal.sessions.create(params=params),  # type: ignore[arg-type]
    )
    return str(portal.url)
