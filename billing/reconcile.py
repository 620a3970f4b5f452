"""``licensing billing reconcile``: every subscription in Stripe, brought up to date through the same
step the webhooks use (Stripe read with no transaction open, applied in a short one), so a lost webhook
is healed and a second run changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from billing.checkout import Fulfilment, sync_subscription
from billing.client import call, stripe_client
from billing.money import heal
from licensing.context import Runtime

log = logging.getLogger("billing.reconcile")
PAGE = 100


@dataclass(frozen=True)
class Reconciled:
    stripe_subscription_id: str
    result: Fulfilment | None
    error: str | None = None
    money: tuple[Fulfilment, ...] = ()  # refunds and disputes of its latest paid invoice, re-applied

    @property
    def issued(self) -> bool:
        return self.result is not None and self.result.issued_now

    def __str__(self) -> str:
        if self.result is None:
            return f"{self.stripe_subscription_id}: FAILED: {self.error}"
        r = self.result
        ours = f" ({r.subscription.id})" if r.subscription is not None else ""
        issued = f"issued {r.license.id}: " if r.issued_now and r.license is not None else ""
        money = "".join(f"; {m.status}: {m.detail}" for m in self.money)
        return f"{self.stripe_subscription_id}{ours}: {r.status}, {issued}{r.detail}{money}"


def stripe_subscription_ids(runtime: Runtime) -> Iterator[str]:
    """Every subscription in the Stripe account, whatever its status, page after page."""
    client = stripe_client(runtime.core)
    listing = call("list subscriptions", lambda: client.v1.subscriptions.list(params={"status": "all", "limit": PAGE}))
    for sub in listing.auto_paging_iter():
        yield sub.id


def reconcile(runtime: Runtime) -> Iterator[Reconciled]:
    """Sync each subscription on its own (its own transactions); one that fails is reported and the rest go on."""
    for sub_id in stripe_subscription_ids(runtime):
        try:
            result = sync_subscription(runtime, sub_id)
            money = tuple(heal(runtime, sub_id)) if result.subscription is not None else ()
        except Exception as exc:
            log.warning("reconcile.failed", extra={"subscription": sub_id, "error": str(exc)[:300]})
            yield Reconciled(sub_id, None, f"{type(exc).__name__}: {exc}")
            continue
        yield Reconciled(sub_id, result, money=money)
