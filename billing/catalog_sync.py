"""``licensing billing sync-catalog``: the catalog's self-serve product and prices, made or updated in Stripe.

The product has a fixed id of ours (``licensing_<offer>``), so it is found again without a search. Prices
are found again by their lookup keys. Prices are immutable in Stripe: when the catalog's amount, currency
or interval changes, a new price takes over the lookup key (``transfer_lookup_key``) and the old one is
archived, so subscriptions on it continue and new checkouts use the new one. Running it twice changes
nothing the second time. Every create carries an idempotency key made from our own names.

It also makes (or puts back) the service's own billing-portal configuration, found again by its metadata
(``PORTAL_METADATA``): customers change seats within the offer's range and switch between its prices
(prorated and invoiced at once, ``always_invoice``), update their card, address and tax IDs, see their
invoices and cancel at the period's end. ``billing.portal.billing_portal_url`` opens sessions with it.

On request (``sync_webhook_endpoint``) it also makes or puts back the service's webhook endpoint, found
again by its metadata (``WEBHOOK_METADATA``) or its url, with exactly the events the service handles
(``ALLOWED_EVENTS``). Stripe returns a new endpoint's signing secret only when creating it: it is handed
back to the caller (``WebhookSync.secret``) and never printed or logged here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import stripe

from billing.client import StripeUnavailable, call, is_missing, stripe_client
from licensing.catalog import Offer, Price
from licensing.context import Core

SELF_SERVE_OFFERS = ("professional",)
PORTAL_METADATA = {"managed_by": "licensing", "purpose": "customer_portal"}
PORTAL_KIND = "billing-portal configuration"
WEBHOOK_METADATA = {"managed_by": "licensing"}
WEBHOOK_KIND = "webhook endpoint"
WEBHOOK_PATH = "/v1/webhooks/stripe"


@dataclass(frozen=True)
class Change:
    kind: str  # product | price | billing-portal configuration | webhook endpoint
    name: str  # the product id, the price's lookup key, the configuration's or the endpoint's id
    action: str  # created | updated | unchanged | replaced
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.action}{f' ({self.detail})' if self.detail else ''}"


def product_id(offer: Offer) -> str:
    return f"licensing_{offer.key}"


def _product_fields(offer: Offer) -> dict[str, Any]:
    return {
        "name": offer.tier.title(),
        "description": f"{offer.tier.title()} license, per seat: {', '.join(offer.features)}",
        "unit_label": "seat",
        "metadata": {"offer": offer.key, "managed_by": "licensing"},
    }


def _differs(product: stripe.Product, key: str, wanted: Any) -> bool:
    current = product.to_dict().get(key)
    if key == "metadata":  # ours must be there; keys the operator added are theirs (updates merge)
        return not all((current or {}).get(k) == v for k, v in wanted.items())
    return bool(current != wanted)


def _sync_product(client: stripe.StripeClient, offer: Offer) -> Change:
    wanted = _product_fields(offer)
    pid = product_id(offer)
    try:
        current = call("read the product", lambda: client.v1.products.retrieve(pid))
    except StripeUnavailable as exc:
        if not is_missing(exc):
            raise
        call(
            "create the product",
            lambda: client.v1.products.create(
                params={"id": pid, **wanted},  # type: ignore[typeddict-item]
                options={"idempotency_key": f"catalog-product-{pid}"},
            ),
        )
        return Change("product", pid, "created")
    differs = {key: value for key, value in wanted.items() if _differs(current, key, value)}
    if not current.active:
        differs["active"] = True
    if not differs:
        return Change("product", pid, "unchanged")
    call("update the product", lambda: client.v1.products.update(pid, params=differs))  # type: ignore[arg-type]
    return Change("product", pid, "updated", ", ".join(sorted(differs)))


def _matches(found: stripe.Price, price: Price, pid: str) -> bool:
    recurring = found.recurring
    product = found.product if isinstance(found.product, str) else found.product.id
    return (
        found.active
        and product == pid
        and found.unit_amount == price.unit_amount
        and found.currency == price.currency
        and recurring is not None
        and recurring.interval == price.interval
        and recurring.interval_count == 1
    )


def _sync_price(client: stripe.StripeClient, offer: Offer, price: Price) -> tuple[Change, str]:
    """What was done, and the id of the price that now has the lookup key."""
    pid = product_id(offer)
    found = call(
        "list prices", lambda: client.v1.prices.list(params={"lookup_keys": [price.lookup_key], "limit": 10}).data
    )
    current = next((p for p in found if p.lookup_key == price.lookup_key), None)
    if current is not None and _matches(current, price, pid):
        return Change("price", price.lookup_key, "unchanged", current.id), current.id
    replacing = current.id if current is not None else "none"
    key = (
        f"catalog-price-{price.lookup_key}-{price.unit_amount}-{price.currency}-{price.interval}-replacing-{replacing}"
    )
    created = call(
        "create a price",
        lambda: client.v1.prices.create(
            params={
                "product": pid,
                "currency": price.currency,
                "unit_amount": price.unit_amount,
                "recurring": {"interval": price.interval},
                "lookup_key": price.lookup_key,
                "transfer_lookup_key": current is not None,
                "metadata": {"offer": offer.key, "lookup_key": price.lookup_key},
            },
            options={"idempotency_key": key},
        ),
    )
    if current is None:
        return Change("price", price.lookup_key, "created", created.id), created.id
    if current.active:
        call("archive the old price", lambda: client.v1.prices.update(current.id, params={"active": False}))
    return Change(
        "price",
        price.lookup_key,
        "replaced",
        f"{current.id} ({current.unit_amount} {current.currency}) -> {created.id} "
        f"({price.unit_amount} {price.currency}); subscriptions on the old price keep it",
    ), created.id


# --- the billing-portal configuration -------------------------------------------------------------------
def _portal_features(offers: list[tuple[Offer, list[str]]]) -> dict[str, Any]:
    """What customers may do in Stripe's billing portal: the offers' prices (seats within their range),
    card, billing address and tax IDs, invoices, cancelling at the period's end."""
    products = []
    for offer, price_ids in offers:
        quantity: dict[str, Any] = {"enabled": True, "minimum": offer.seats.minimum}
        if offer.seats.maximum is not None:
            quantity["maximum"] = offer.seats.maximum
        products.append({"product": product_id(offer), "prices": price_ids, "adjustable_quantity": quantity})
    return {
        "customer_update": {"enabled": True, "allowed_updates": ["address", "tax_id"]},
        "invoice_history": {"enabled": True},
        "payment_method_update": {"enabled": True},
        "subscription_cancel": {"enabled": True, "mode": "at_period_end", "proration_behavior": "none"},
        "subscription_update": {
            "enabled": True,
            "default_allowed_updates": ["price", "quantity"],
            "proration_behavior": "always_invoice",  # a seat change is invoiced and charged at once
            "products": products,
        },
    }


def _covers(current: Any, wanted: Any) -> bool:
    """Whether Stripe's ``current`` already says all that ``wanted`` says (fields Stripe adds are ignored;
    lists of strings compare as sets, since Stripe keeps its own order for some)."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(_covers(current.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list) and all(isinstance(v, str) for v in wanted):
        return isinstance(current, list) and sorted(current) == sorted(wanted)
    if isinstance(wanted, list):
        return (
            isinstance(current, list)
            and len(current) == len(wanted)
            and all(_covers(c, w) for c, w in zip(current, wanted, strict=True))
        )
    return bool(current == wanted)


def is_ours(config: stripe.billing_portal.Configuration) -> bool:
    metadata = config.metadata.to_dict() if config.metadata else {}
    return all(metadata.get(k) == v for k, v in PORTAL_METADATA.items())


def find_portal_configuration(
    client: stripe.StripeClient, *, active_only: bool = True
) -> stripe.billing_portal.Configuration | None:
    """The service's own billing-portal configuration (by its metadata), the newest if several."""
    params: dict[str, Any] = {"limit": 100}
    if active_only:
        params["active"] = True
    found = call(
        "list billing-portal configurations",
        lambda: list(client.v1.billing_portal.configurations.list(params=params).auto_paging_iter()),  # type: ignore[arg-type]
    )
    ours = [c for c in found if is_ours(c)]
    return max(ours, key=lambda c: (c.active, c.created), default=None)


def _sync_portal(client: stripe.StripeClient, offers: list[tuple[Offer, list[str]]]) -> Change:
    features = _portal_features(offers)
    current = find_portal_configuration(client, active_only=False)
    if current is None:
        digest = hashlib.sha256(json.dumps(features, sort_keys=True).encode()).hexdigest()[:32]
        created = call(
            "create the billing-portal configuration",
            lambda: client.v1.billing_portal.configurations.create(
                params={"features": features, "metadata": PORTAL_METADATA},  # type: ignore[typeddict-item]
                options={"idempotency_key": f"catalog-portal-configuration-{digest}"},
            ),
        )
        return Change(PORTAL_KIND, created.id, "created")
    differs: dict[str, Any] = {}
    current_features = current.features.to_dict()
    wrong = sorted(name for name, value in features.items() if not _covers(current_features.get(name), value))
    if wrong:
        differs["features"] = {name: features[name] for name in wrong}
    if not current.active:
        differs["active"] = True
        wrong.append("active")
    if not differs:
        return Change(PORTAL_KIND, current.id, "unchanged")
    call(
        "update the billing-portal configuration",
        lambda: client.v1.billing_portal.configurations.update(current.id, params=differs),  # type: ignore[arg-type]
    )
    return Change(PORTAL_KIND, current.id, "updated", ", ".join(wrong))


def sync_catalog(core: Core) -> list[Change]:
    """Create or update the self-serve offers' product and prices in Stripe, and the service's
    billing-portal configuration; what was done, in order."""
    client = stripe_client(core)
    changes: list[Change] = []
    offers: list[tuple[Offer, list[str]]] = []
    for key in SELF_SERVE_OFFERS:
        offer = core.catalog.offer(key)
        changes.append(_sync_product(client, offer))
        price_ids = []
        for price in offer.prices:
            change, price_id = _sync_price(client, offer, price)
            changes.append(change)
            price_ids.append(price_id)
        offers.append((offer, price_ids))
    changes.append(_sync_portal(client, offers))
    return changes


def find_price(client: stripe.StripeClient, lookup_key: str) -> stripe.Price | None:
    """The active price with this lookup key (None when ``sync-catalog`` has not made it)."""
    found = call(
        "look up the price", lambda: client.v1.prices.list(params={"lookup_keys": [lookup_key], "active": True}).data
    )
    return next((p for p in found if p.lookup_key == lookup_key), None)


# --- the webhook endpoint -------------------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookSync:
    change: Change
    secret: str | None = field(default=None, repr=False)  # only when created: never print or log it


def webhook_url(core: Core) -> str:
    """Where Stripe posts the events: ``$LICENSING_PUBLIC_URL/v1/webhooks/stripe``."""
    return core.public_url.rstrip("/") + WEBHOOK_PATH


def _is_our_endpoint(endpoint: stripe.WebhookEndpoint) -> bool:
    metadata = endpoint.metadata.to_dict() if endpoint.metadata else {}
    return all(metadata.get(k) == v for k, v in WEBHOOK_METADATA.items())


def find_webhook_endpoint(client: stripe.StripeClient, url: str) -> stripe.WebhookEndpoint | None:
    """The service's endpoint: by its metadata (the newest if several), else one at ``url``."""
    found = call(
        "list webhook endpoints",
        lambda: list(client.v1.webhook_endpoints.list(params={"limit": 100}).auto_paging_iter()),
    )
    ours = [e for e in found if _is_our_endpoint(e)]
    if not ours:
        ours = [e for e in found if e.url == url]
    return max(ours, key=lambda e: e.created, default=None)


def sync_webhook_endpoint(core: Core, url: str | None = None, *, create: bool = True) -> WebhookSync:
    """Create or put back the service's webhook endpoint at ``url`` (default ``webhook_url(core)``),
    enabled, with exactly the events the service handles. A second run changes nothing. With ``create``
    false, a missing endpoint is not made (action ``missing``): the caller has nowhere to keep its secret."""
    from billing.webhooks import ALLOWED_EVENTS

    client = stripe_client(core)
    url = url or webhook_url(core)
    events = sorted(ALLOWED_EVENTS)
    current = find_webhook_endpoint(client, url)
    if current is None and not create:
        return WebhookSync(Change(WEBHOOK_KIND, "-", "missing", url))
    if current is None:
        digest = hashlib.sha256(json.dumps([url, events]).encode()).hexdigest()[:32]
        created = call(
            "create the webhook endpoint",
            lambda: client.v1.webhook_endpoints.create(
                params={
                    "url": url,
                    "enabled_events": events,  # type: ignore[typeddict-item]
                    "api_version": stripe.api_version,  # type: ignore[typeddict-item]
                    "description": "licensing service (licensing billing sync-catalog)",
                    "metadata": WEBHOOK_METADATA,
                },
                options={"idempotency_key": f"catalog-webhook-endpoint-{digest}"},
            ),
        )
        return WebhookSync(Change(WEBHOOK_KIND, created.id, "created", url), created.secret)
    differs: dict[str, Any] = {}
    if sorted(current.enabled_events) != events:
        differs["enabled_events"] = events
    if current.url != url:
        differs["url"] = url
    if current.status != "enabled":
        differs["disabled"] = False
    if not _is_our_endpoint(current):
        differs["metadata"] = WEBHOOK_METADATA  # found by its url: ours from now on (other keys are kept)
    if not differs:
        return WebhookSync(Change(WEBHOOK_KIND, current.id, "unchanged", url))
    call(
        "update the webhook endpoint",
        lambda: client.v1.webhook_endpoints.update(current.id, params=differs),  # type: ignore[arg-type]
    )
    return WebhookSync(Change(WEBHOOK_KIND, current.id, "updated", ", ".join(sorted(differs))))
