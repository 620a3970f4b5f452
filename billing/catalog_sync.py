"""``licensing billing sync-catalog``: the catalog's self-serve product and prices, made or updated in Stripe.

The product has a fixed id of ours (``licensing_<offer>``), so it is found again without a search. Prices
are found again by their lookup keys. Prices are immutable in Stripe: when the catalog's amount, currency
or interval changes, a new price takes over the lookup key (``transfer_lookup_key``) and the old one is
archived, so subscriptions on it continue and new checkouts use the new one. Running it twice changes
nothing the second time. Every create carries an idempotency key made from our own names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from billing.client import StripeUnavailable, call, is_missing, stripe_client
from licensing.catalog import Offer, Price
from licensing.context import Core

SELF_SERVE_OFFERS = ("professional",)


@dataclass(frozen=True)
class Change:
    kind: str  # product | price
    name: str  # the product id or the price's lookup key
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


def _sync_price(client: stripe.StripeClient, offer: Offer, price: Price) -> Change:
    pid = product_id(offer)
    found = call(
        "list prices", lambda: client.v1.prices.list(params={"lookup_keys": [price.lookup_key], "limit": 10}).data
    )
    current = next((p for p in found if p.lookup_key == price.lookup_key), None)
    if current is not None and _matches(current, price, pid):
        return Change("price", price.lookup_key, "unchanged", current.id)
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
        return Change("price", price.lookup_key, "created", created.id)
    if current.active:
        call("archive the old price", lambda: client.v1.prices.update(current.id, params={"active": False}))
    return Change(
        "price",
        price.lookup_key,
        "replaced",
        f"{current.id} ({current.unit_amount} {current.currency}) -> {created.id} "
        f"({price.unit_amount} {price.currency}); subscriptions on the old price keep it",
    )


def sync_catalog(core: Core) -> list[Change]:
    """Create or update the self-serve offers' product and prices in Stripe; what was done, in order."""
    client = stripe_client(core)
    changes: list[Change] = []
    for key in SELF_SERVE_OFFERS:
        offer = core.catalog.offer(key)
        changes.append(_sync_product(client, offer))
        for price in offer.prices:
            changes.append(_sync_price(client, offer, price))
    return changes


def find_price(client: stripe.StripeClient, lookup_key: str) -> stripe.Price | None:
    """The active price with this lookup key (None when ``sync-catalog`` has not made it)."""
    found = call(
        "look up the price", lambda: client.v1.prices.list(params={"lookup_keys": [lookup_key], "active": True}).data
    )
    return next((p for p in found if p.lookup_key == lookup_key), None)
