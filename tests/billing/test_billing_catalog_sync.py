"""`licensing billing sync-catalog`: the product and the catalog's prices in Stripe, found again by lookup
key; twice changes nothing; a changed amount is a new price that takes over the lookup key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from billing_testkit import licensing
from fakestripe import FakeStripe

from billing.catalog_sync import sync_catalog
from licensing import context
from licensing.catalog import load_catalog
from licensing.context import Core, Runtime
from licensing.kit.settings import Settings

SHIPPED = (Path(__file__).resolve().parents[2] / "licensing" / "catalog.toml").read_text("utf-8")


def _prices(fake: FakeStripe) -> dict[str, Any]:
    return {p["lookup_key"]: p for p in fake.prices.values() if p["lookup_key"]}


def test_sync_creates_the_product_and_prices_and_a_second_run_changes_nothing(
    fake_stripe: FakeStripe, settings: Settings
) -> None:
    first = licensing(settings, "billing", "sync-catalog")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "product licensing_professional: created" in first.stdout
    assert "price professional_monthly: created" in first.stdout
    assert "price professional_annual: created" in first.stdout
    product = fake_stripe.get("licensing_professional")
    assert product["name"] == "Professional" and product["active"] and product["unit_label"] == "seat"
    prices = _prices(fake_stripe)
    monthly, annual = prices["professional_monthly"], prices["professional_annual"]
    assert (monthly["unit_amount"], monthly["currency"], monthly["recurring"]["interval"]) == (1000, "usd", "month")
    assert (annual["unit_amount"], annual["currency"], annual["recurring"]["interval"]) == (10000, "usd", "year")
    assert monthly["product"] == annual["product"] == "licensing_professional"
    creates = [r for r in fake_stripe.requests if r.method == "POST"]
    assert all(r.idempotency_key for r in creates)

    requests_before = len([r for r in fake_stripe.requests if r.method == "POST"])
    second = licensing(settings, "billing", "sync-catalog")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to change" in second.stdout
    assert second.stdout.count("unchanged") == 3
    assert len([r for r in fake_stripe.requests if r.method == "POST"]) == requests_before  # nothing written
    assert len(fake_stripe.prices) == 2 and len(fake_stripe.products) == 1


def test_a_changed_amount_is_a_new_price_that_takes_over_the_lookup_key(
    fake_stripe: FakeStripe, settings: Settings, core: Core, engine: Any, tmp_path: Path
) -> None:
    runtime = context.start(settings, core=core, engine=engine)
    sync_catalog(runtime.core)
    old = _prices(fake_stripe)["professional_monthly"]

    custom = tmp_path / "catalog.toml"
    custom.write_text(SHIPPED.replace("unit_amount = 1000 ", "unit_amount = 1200 "), "utf-8")
    changed = Runtime(replace(runtime.core, catalog=load_catalog(custom)), engine, runtime.sessions)
    changes = {c.name: c for c in sync_catalog(changed.core)}
    assert changes["professional_monthly"].action == "replaced"
    assert changes["professional_annual"].action == "unchanged"
    new = _prices(fake_stripe)["professional_monthly"]
    assert new["id"] != old["id"] and new["unit_amount"] == 1200
    assert fake_stripe.get(old["id"])["lookup_key"] is None and fake_stripe.get(old["id"])["active"] is False
    assert all(c.action == "unchanged" for c in sync_catalog(changed.core))  # twice: nothing more

    # Back to the shipped amount: a third price (the old one is archived for good), found by its key.
    assert {c.name: c.action for c in sync_catalog(runtime.core)}["professional_monthly"] == "replaced"
    assert _prices(fake_stripe)["professional_monthly"]["unit_amount"] == 1000
    assert len(fake_stripe.prices) == 4


def test_the_product_is_updated_when_the_catalog_changes_its_features(
    fake_stripe: FakeStripe, settings: Settings, core: Core, engine: Any
) -> None:
    runtime = context.start(settings, core=core, engine=engine)
    sync_catalog(runtime.core)
    fake_stripe.update_product(
        "licensing_professional",
        {"description": "edited by hand", "active": False, "metadata": {"offer": "professional", "team": "growth"}},
    )
    changes = {c.name: c for c in sync_catalog(runtime.core)}
    assert changes["licensing_professional"].action == "updated"
    product = fake_stripe.get("licensing_professional")
    assert product["active"] is True and "saml" in product["description"]
    assert product["metadata"]["team"] == "growth"  # the operator's own metadata is left alone
    assert all(c.action == "unchanged" for c in sync_catalog(runtime.core))
