"""Stripe's billing portal for a customer of ours: payment method, invoices, seats, interval, cancelling;
and her invoices, read from Stripe for the customer portal's page.

What the customer changes there comes back to us as webhooks (billing.webhooks), like any change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import stripe

from billing.catalog_sync import find_portal_configuration
from billing.client import call, log, stripe_client, timestamp
from licensing.context import Core

INVOICES_SHOWN = 12  # the newest of each subscription; older ones are in Stripe's billing portal
SUBSCRIPTIONS_READ = 10  # at most this many subscriptions' invoices are read for one page


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


@dataclass(frozen=True)
class InvoiceSummary:
    """An invoice as the customer portal lists it (amounts in the currency's minor unit)."""

    id: str
    number: str | None
    created: datetime
    total: int
    currency: str
    status: str | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None

    @classmethod
    def of(cls, invoice: stripe.Invoice) -> InvoiceSummary:
        created = timestamp(invoice.created)
        assert created is not None
        return cls(
            id=invoice.id or "",
            number=invoice.number,
            created=created,
            total=invoice.total,
            currency=invoice.currency,
            status=invoice.status,
            hosted_invoice_url=_web_link(invoice.hosted_invoice_url),
            invoice_pdf=_web_link(invoice.invoice_pdf),
        )


def _web_link(value: str | None) -> str | None:
    """A link Stripe gave, kept only when it is a web address (a page shows it as a link)."""
    return value if value and urlsplit(value).scheme in ("https", "http") else None


def invoices_of(
    core: Core, stripe_subscription_ids: Sequence[str], *, limit: int = INVOICES_SHOWN
) -> dict[str, list[InvoiceSummary]]:
    """The newest ``limit`` invoices (not drafts) of each subscription, newest first, read from Stripe now:
    one call per subscription, for at most ``SUBSCRIPTIONS_READ`` of them, without retries (a page waits
    on this). Raises ``BillingDisabled`` or ``StripeUnavailable`` at the first failure."""
    client = stripe_client(core, retries=0)
    found: dict[str, list[InvoiceSummary]] = {}
    for sub_id in list(dict.fromkeys(stripe_subscription_ids))[:SUBSCRIPTIONS_READ]:
        page = call(
            "list the invoices",
            lambda sub_id=sub_id: client.v1.invoices.list(params={"subscription": sub_id, "limit": limit}).data,  # type: ignore[misc]
        )
        found[sub_id] = [InvoiceSummary.of(i) for i in page if i.status != "draft"]
    return found
