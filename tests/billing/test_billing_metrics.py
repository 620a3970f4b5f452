"""The billing side of /metrics: Stripe webhooks received (by outcome), processed and failed, and the
license a purchase issues, counted by tier and source (this process's registry: one process here)."""

from __future__ import annotations

from billing_testkit import Shop
from prometheus_client import REGISTRY

from api.checkout import WEBHOOK_PATH


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_purchase_counts_its_webhooks_and_license(shop: Shop) -> None:
    stored = _value("licensing_stripe_webhooks_received_total", outcome="stored")
    processed = _value("licensing_stripe_webhooks_processed_total")
    issued = _value("licensing_licenses_issued_total", tier="professional", source="stripe")
    shop.buy()
    shop.process()
    assert _value("licensing_stripe_webhooks_received_total", outcome="stored") > stored
    assert _value("licensing_stripe_webhooks_processed_total") > processed
    assert _value("licensing_licenses_issued_total", tier="professional", source="stripe") == issued + 1


def test_a_forged_webhook_counts_as_rejected(shop: Shop) -> None:
    shop.fake.webhooks.mode = "hold"  # nothing reaches the service but what the test posts
    shop.buy()
    event = shop.fake.events_of("checkout.session.completed")[0]
    rejected = _value("licensing_stripe_webhooks_received_total", outcome="rejected")
    malformed = _value("licensing_stripe_webhooks_received_total", outcome="malformed")
    payload, header = shop.fake.webhooks.forged(event["id"])
    assert shop.fake.webhooks.post(payload, header, url=shop.url + WEBHOOK_PATH).status_code == 400
    assert _value("licensing_stripe_webhooks_received_total", outcome="rejected") == rejected + 1
    assert _value("licensing_stripe_webhooks_received_total", outcome="malformed") == malformed
