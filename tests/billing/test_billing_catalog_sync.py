"""`licensing billing sync-catalog`: the product and the catalog's prices in Stripe, found again by lookup
key; twice changes nothing; a changed amount is a new price that takes over the lookup key."""

from __future__ import annotations

import re
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import stripe
from billing_testkit import PUBLIC_URL, licensing
from fakestripe import FakeStripe

from billing.catalog_sync import sync_catalog, sync_webhook_endpoint, webhook_url
from billing.webhooks import ALLOWED_EVENTS
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
    assert re.search(r"billing-portal configuration bpc_\w+: created", first.stdout)
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
    assert second.stdout.count("unchanged") == 4  # the product, two prices, the billing-portal configuration
    assert len([r for r in fake_stripe.requests if r.method == "POST"]) == requests_before  # nothing written
    assert (
        len(fake_stripe.prices) == 2 and len(fake_stripe.products) == 1 and len(fake_stripe.portal_configurations) == 1
    )


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


def _our_configuration(fake: FakeStripe) -> dict[str, Any]:
    [config] = [c for c in fake.portal_configurations.values() if c["metadata"].get("managed_by") == "licensing"]
    return config


def test_the_billing_portal_configuration_lets_customers_change_seats_and_interval_invoiced_at_once(
    fake_stripe: FakeStripe, settings: Settings, core: Core, engine: Any
) -> None:
    runtime = context.start(settings, core=core, engine=engine)
    changes = {c.kind: c for c in sync_catalog(runtime.core)}
    assert changes["billing-portal configuration"].action == "created"
    config = _our_configuration(fake_stripe)
    assert config["active"] and config["metadata"] == {"managed_by": "licensing", "purpose": "customer_portal"}
    features = config["features"]
    prices = _prices(fake_stripe)
    update = features["subscription_update"]
    assert update["enabled"] and update["proration_behavior"] == "always_invoice"
    assert sorted(update["default_allowed_updates"]) == ["price", "quantity"]
    assert update["products"] == [
        {
            "product": "licensing_professional",
            "prices": [prices["professional_monthly"]["id"], prices["professional_annual"]["id"]],
            "adjustable_quantity": {"enabled": True, "minimum": 1, "maximum": 100000},
        }
    ]
    assert features["payment_method_update"]["enabled"] and features["invoice_history"]["enabled"]
    assert features["customer_update"]["enabled"] and "tax_id" in features["customer_update"]["allowed_updates"]
    cancel = features["subscription_cancel"]
    assert cancel["enabled"] and cancel["mode"] == "at_period_end" and cancel["proration_behavior"] == "none"
    creates = [r for r in fake_stripe.requests if r.path == "/v1/billing_portal/configurations" and r.method == "POST"]
    assert len(creates) == 1 and creates[0].idempotency_key

    writes = len([r for r in fake_stripe.requests if r.method == "POST"])
    again = {c.kind: c for c in sync_catalog(runtime.core)}
    assert again["billing-portal configuration"].action == "unchanged"
    assert len([r for r in fake_stripe.requests if r.method == "POST"]) == writes
    assert len(fake_stripe.portal_configurations) == 1


def test_the_billing_portal_configuration_is_put_back_and_follows_a_new_price(
    fake_stripe: FakeStripe, settings: Settings, core: Core, engine: Any, tmp_path: Path
) -> None:
    runtime = context.start(settings, core=core, engine=engine)
    sync_catalog(runtime.core)
    config = _our_configuration(fake_stripe)
    # Someone else's configuration is left alone, and ours edited by hand (or switched off) is put back.
    other = fake_stripe.create_portal_configuration(fake_stripe.portal_features(config["id"]), metadata={"x": "y"})
    fake_stripe.update_portal_configuration(
        config["id"],
        {
            "active": False,
            "features": {
                **config["features"],
                "invoice_history": {"enabled": False},
                "subscription_update": {**config["features"]["subscription_update"], "proration_behavior": "none"},
            },
            "metadata": {**config["metadata"], "note": "kept"},
        },
    )
    changed = {c.kind: c for c in sync_catalog(runtime.core)}
    assert changed["billing-portal configuration"].action == "updated"
    assert changed["billing-portal configuration"].name == config["id"]
    fixed = fake_stripe.get(config["id"])
    assert fixed["active"] and fixed["features"]["invoice_history"]["enabled"]
    assert fixed["features"]["subscription_update"]["proration_behavior"] == "always_invoice"
    assert fixed["metadata"]["note"] == "kept"
    assert fake_stripe.get(other["id"])["metadata"] == {"x": "y"}
    assert len(fake_stripe.portal_configurations) == 2

    # A new monthly amount: the configuration offers the new price, not the archived one.
    custom = tmp_path / "catalog.toml"
    custom.write_text(SHIPPED.replace("unit_amount = 1000 ", "unit_amount = 1200 "), "utf-8")
    repriced = replace(runtime.core, catalog=load_catalog(custom))
    assert {c.kind: c.action for c in sync_catalog(repriced)}["billing-portal configuration"] == "updated"
    prices = _prices(fake_stripe)
    [product] = fake_stripe.get(config["id"])["features"]["subscription_update"]["products"]
    assert product["prices"] == [prices["professional_monthly"]["id"], prices["professional_annual"]["id"]]
    assert all(c.action == "unchanged" for c in sync_catalog(repriced))


# --- the webhook endpoint (--webhook-endpoint) ---------------------------------------------------------
WEBHOOK_URL = f"{PUBLIC_URL}/v1/webhooks/stripe"


def test_the_webhook_endpoint_is_created_with_the_events_the_service_handles_and_a_second_run_changes_nothing(
    fake_stripe: FakeStripe, settings: Settings, core: Core, engine: Any
) -> None:
    runtime = context.start(settings, core=core, engine=engine)
    created = sync_webhook_endpoint(runtime.core)
    assert created.change.kind == "webhook endpoint" and created.change.action == "created"
    assert created.secret is not None and created.secret.startswith("whsec_")
    assert created.secret not in str(created.change) and created.secret not in repr(created)
    [endpoint] = fake_stripe.webhook_endpoints.values()
    assert endpoint["id"] == created.change.name
    assert endpoint["url"] == WEBHOOK_URL == webhook_url(runtime.core)
    assert endpoint["enabled_events"] == sorted(ALLOWED_EVENTS)
    assert endpoint["metadata"] == {"managed_by": "licensing"} and endpoint["status"] == "enabled"
    assert endpoint["api_version"] == stripe.api_version
    assert "secret" not in fake_stripe.get(endpoint["id"])  # only in the create answer
    [create] = [r for r in fake_stripe.requests if r.path == "/v1/webhook_endpoints" and r.method == "POST"]
    assert create.idempotency_key

    writes = len([r for r in fake_stripe.requests if r.method == "POST"])
    again = sync_webhook_endpoint(runtime.core)
    assert (again.change.action, again.change.name, again.secret) == ("unchanged", endpoint["id"], None)
    assert len([r for r in fake_stripe.requests if r.method == "POST"]) == writes
    assert len(fake_stripe.webhook_endpoints) == 1
    # Without leave to create one, an existing endpoint is still found and kept.
    assert sync_webhook_endpoint(runtime.core, create=False).change.action == "unchanged"


def test_a_drifted_webhook_endpoint_is_put_back_and_others_are_left_alone(
    fake_stripe: FakeStripe, settings: Settings, core: Core, engine: Any
) -> None:
    runtime = context.start(settings, core=core, engine=engine)
    other = fake_stripe.create_webhook_endpoint("https://elsewhere.test/hook", ["invoice.paid"])
    ours = sync_webhook_endpoint(runtime.core).change.name
    fake_stripe.update_webhook_endpoint(
        ours,
        {"enabled_events": ["invoice.paid"], "status": "disabled", "url": "http://old.test/v1/webhooks/stripe"},
    )
    fixed = sync_webhook_endpoint(runtime.core)
    assert (fixed.change.action, fixed.change.name, fixed.secret) == ("updated", ours, None)
    assert fixed.change.detail == "disabled, enabled_events, url"
    endpoint = fake_stripe.get(ours)
    assert endpoint["enabled_events"] == sorted(ALLOWED_EVENTS) and endpoint["status"] == "enabled"
    assert endpoint["url"] == WEBHOOK_URL
    assert fake_stripe.get(other["id"])["enabled_events"] == ["invoice.paid"]
    assert sync_webhook_endpoint(runtime.core).change.action == "unchanged"

    # Another URL given: the same endpoint (found by its metadata) moves there.
    moved = sync_webhook_endpoint(runtime.core, "https://licenses.example.com/v1/webhooks/stripe")
    assert (moved.change.action, moved.change.name) == ("updated", ours)
    assert fake_stripe.get(ours)["url"] == "https://licenses.example.com/v1/webhooks/stripe"
    assert len(fake_stripe.webhook_endpoints) == 2


def test_an_endpoint_made_by_hand_at_the_url_is_adopted_not_duplicated(
    fake_stripe: FakeStripe, settings: Settings, core: Core, engine: Any
) -> None:
    runtime = context.start(settings, core=core, engine=engine)
    by_hand = fake_stripe.create_webhook_endpoint(WEBHOOK_URL, ["invoice.paid"], metadata={"team": "ops"})
    adopted = sync_webhook_endpoint(runtime.core)
    assert (adopted.change.action, adopted.change.name, adopted.secret) == ("updated", by_hand["id"], None)
    endpoint = fake_stripe.get(by_hand["id"])
    assert endpoint["metadata"] == {"team": "ops", "managed_by": "licensing"}
    assert endpoint["enabled_events"] == sorted(ALLOWED_EVENTS)
    assert len(fake_stripe.webhook_endpoints) == 1
    assert sync_webhook_endpoint(runtime.core).change.action == "unchanged"


def _never_shows(secret: str, *results: Any) -> None:
    for result in results:
        assert secret not in result.stdout and secret not in result.stderr


def test_the_cli_writes_a_new_endpoints_secret_to_a_private_file_and_never_prints_it(
    fake_stripe: FakeStripe, settings: Settings, tmp_path: Path
) -> None:
    missing = licensing(settings, "billing", "sync-catalog", "--webhook-endpoint")
    assert missing.returncode == 1 and "--secret-file" in missing.stderr
    assert fake_stripe.webhook_endpoints == {}  # nowhere to keep the secret: not created

    secret_file = tmp_path / "whsec.txt"
    first = licensing(settings, "billing", "sync-catalog", "--webhook-endpoint", "--secret-file", str(secret_file))
    assert first.returncode == 0, first.stdout + first.stderr
    [endpoint] = fake_stripe.webhook_endpoints.values()
    assert f"webhook endpoint {endpoint['id']}: created ({WEBHOOK_URL})" in first.stdout
    assert str(secret_file) in first.stdout and "LICENSING_STRIPE_WEBHOOK_SECRET" in first.stdout
    secret = secret_file.read_text().strip()
    assert secret.startswith("whsec_") and len(secret) > 20
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    # The fake delivers to the endpoint with the same secret.
    [delivery] = [e for e in fake_stripe.webhooks.endpoints if e.id == endpoint["id"]]
    assert delivery.secret == secret

    second = licensing(settings, "billing", "sync-catalog", "--webhook-endpoint", "--secret-file", str(secret_file))
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"webhook endpoint {endpoint['id']}: unchanged" in second.stdout
    assert "nothing written" in second.stdout and "dashboard" in second.stdout
    assert "nothing to change" in second.stdout
    assert secret_file.read_text().strip() == secret  # left as it was

    other_file = tmp_path / "other.txt"
    third = licensing(settings, "billing", "sync-catalog", "--webhook-endpoint", "--secret-file", str(other_file))
    assert third.returncode == 0 and "nothing written" in third.stdout
    assert not other_file.exists()  # nothing created: the endpoint existed
    _never_shows(secret, first, second, third)


def test_the_cli_refuses_to_overwrite_a_secret_file_and_then_creates_nothing(
    fake_stripe: FakeStripe, settings: Settings, tmp_path: Path
) -> None:
    secret_file = tmp_path / "taken.txt"
    secret_file.write_text("keep me")
    result = licensing(settings, "billing", "sync-catalog", "--webhook-endpoint", "--secret-file", str(secret_file))
    assert result.returncode == 1 and "refusing to overwrite" in result.stderr
    assert secret_file.read_text() == "keep me" and fake_stripe.webhook_endpoints == {}

    nowhere = tmp_path / "no-such-dir" / "whsec.txt"
    failed = licensing(settings, "billing", "sync-catalog", "--webhook-endpoint", "--secret-file", str(nowhere))
    assert failed.returncode == 1 and "cannot create" in failed.stderr
    assert fake_stripe.webhook_endpoints == {}  # failed before Stripe made a secret shown only once

    url = "https://licenses.example.com/v1/webhooks/stripe"
    made = tmp_path / "made.txt"
    ok = licensing(
        settings, "billing", "sync-catalog", "--webhook-endpoint", "--webhook-url", url, "--secret-file", str(made)
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    [endpoint] = fake_stripe.webhook_endpoints.values()
    assert endpoint["url"] == url and endpoint["enabled_events"] == sorted(ALLOWED_EVENTS)
    _never_shows(made.read_text().strip(), ok)

    stray = licensing(settings, "billing", "sync-catalog", "--secret-file", str(tmp_path / "x"))
    assert stray.returncode == 1 and "--webhook-endpoint" in stray.stderr
