"""(c) Webhooks: signed exactly as Stripe signs them; the SDK accepts them and rejects forged and stale ones;
delivery held, reordered, repeated (concurrently), delayed and dropped on demand."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest
import stripe
from fakestripe import FakeStripe, sign
from fakestripe.fixtures import WebhookSink
from fakestripe_helpers import Catalog, paid_checkout

TOLERANCE = 300
CHECKOUT_EVENTS = [
    "customer.created",
    "customer.subscription.created",
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
    "customer.subscription.updated",
    "checkout.session.completed",
]


def verify(body: bytes, header: str | None, secret: str) -> stripe.Event:
    event: stripe.Event = stripe.Webhook.construct_event(body, header, secret, tolerance=TOLERANCE)
    return event


def test_the_signature_is_stripes_scheme() -> None:
    payload = b'{"id": "evt_1"}'
    header = sign(payload, "whsec_abc", 1700000000)
    expected = hmac.new(b"whsec_abc", b"1700000000." + payload, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert header == stripe.WebhookSignature.generate_signature_header(payload.decode(), "whsec_abc", 1700000000)


def test_deliveries_verify_with_the_sdk_and_arrive_in_stripes_order(
    fake_stripe: FakeStripe,
    stripe_client: stripe.StripeClient,
    catalog: Catalog,
    webhook_sink: WebhookSink,
    stripe_webhook_secret: str,
) -> None:
    session = paid_checkout(stripe_client, catalog.monthly)
    fake_stripe.webhooks.wait_idle()
    received = webhook_sink.received
    events = [verify(r.body, r.signature, stripe_webhook_secret) for r in received]
    types = [e.type for e in events]
    assert types[-len(CHECKOUT_EVENTS) :] == CHECKOUT_EVENTS
    completed = events[-1]
    assert completed.data.object["id"] == session.id
    assert completed.data.object["payment_status"] == "paid"
    assert completed.api_version == stripe.api_version
    assert completed.livemode is False
    assert completed.request is not None
    assert received[-1].headers["content-type"].startswith("application/json")
    assert received[-1].headers["user-agent"].startswith("Stripe/1.0")
    assert all(d.ok for d in fake_stripe.webhooks.deliveries)
    # The events API lists the same events, and a delivered event no longer counts as pending.
    assert stripe_client.v1.events.retrieve(completed.id).pending_webhooks == 0


def test_forged_stale_and_unsigned_payloads_are_rejected_by_the_sdk(
    fake_stripe: FakeStripe, catalog: Catalog, webhook_sink: WebhookSink, stripe_webhook_secret: str
) -> None:
    event_id = fake_stripe.events_of("price.created")[0]["id"]
    body, header = fake_stripe.webhooks.signed(event_id)
    assert verify(body, header, stripe_webhook_secret).id == event_id
    forged_body, forged_header = fake_stripe.webhooks.forged(event_id)
    with pytest.raises(stripe.SignatureVerificationError):
        verify(forged_body, forged_header, stripe_webhook_secret)
    stale_body, stale_header = fake_stripe.webhooks.stale(event_id, age=TOLERANCE + 60)
    with pytest.raises(stripe.SignatureVerificationError, match="outside the tolerance zone"):
        verify(stale_body, stale_header, stripe_webhook_secret)
    with pytest.raises(stripe.SignatureVerificationError):
        verify(body, None, stripe_webhook_secret)
    tampered = body.replace(b'"livemode": false', b'"livemode": true')
    with pytest.raises(stripe.SignatureVerificationError):
        verify(tampered, header, stripe_webhook_secret)
    # The test can post them itself.
    assert fake_stripe.webhooks.post(stale_body, stale_header).status_code == 200
    assert webhook_sink.received[-1].signature == stale_header


def test_held_events_flush_in_order_shuffled_or_as_told(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog, webhook_sink: WebhookSink
) -> None:
    fake_stripe.webhooks.wait_idle()
    before = len(webhook_sink.received)
    fake_stripe.webhooks.mode = "hold"
    paid_checkout(stripe_client, catalog.monthly)
    held = [e["id"] for e in fake_stripe.webhooks.held_events()]
    assert len(held) == len(CHECKOUT_EVENTS)
    assert len(webhook_sink.received) == before  # nothing went out

    chosen = [held[-1], held[0]]
    delivered = fake_stripe.webhooks.flush(chosen)
    assert [d.event_id for d in delivered] == chosen
    shuffled = fake_stripe.webhooks.flush("shuffle", seed=7)
    assert sorted(d.event_id for d in shuffled) == sorted(held[1:-1])
    assert [d.event_id for d in shuffled] != held[1:-1]
    assert fake_stripe.webhooks.held() == []
    arrived = [json.loads(r.body)["id"] for r in webhook_sink.received[before:]]
    assert arrived == [*chosen, *(d.event_id for d in shuffled)]


def test_one_event_delivered_twenty_times_concurrently(
    fake_stripe: FakeStripe, catalog: Catalog, webhook_sink: WebhookSink, stripe_webhook_secret: str
) -> None:
    fake_stripe.webhooks.wait_idle()
    before = len(webhook_sink.received)
    event_id = fake_stripe.events_of("price.created")[0]["id"]
    deliveries = fake_stripe.webhooks.deliver(event_id, times=20, concurrent=True)
    assert len(deliveries) == 20
    assert all(d.ok for d in deliveries)
    starts = sorted(d.started for d in deliveries)
    assert starts[-1] - starts[0] < 1.0  # released together
    bodies = webhook_sink.bodies()[before:]
    assert len(bodies) == 20
    assert {
        verify(b, r.signature, stripe_webhook_secret).id
        for b, r in zip(bodies, webhook_sink.received[before:], strict=True)
    } == {event_id}


def test_dropped_events_are_not_delivered_but_stay_in_the_events_api(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog, webhook_sink: WebhookSink
) -> None:
    fake_stripe.webhooks.wait_idle()
    before = len(webhook_sink.received)
    fake_stripe.webhooks.drop_next(1, types=["checkout.session.completed"])
    session = paid_checkout(stripe_client, catalog.monthly)
    fake_stripe.webhooks.wait_idle()
    arrived = [json.loads(r.body)["type"] for r in webhook_sink.received[before:]]
    assert "checkout.session.completed" not in arrived
    assert "invoice.paid" in arrived
    listed = stripe_client.v1.events.list(params={"type": "checkout.session.completed"})
    assert [e.data.object["id"] for e in listed.data] == [session.id]

    fake_stripe.webhooks.mode = "drop"
    stripe_client.v1.customers.create(params={"email": "lost@example.com"})
    fake_stripe.webhooks.wait_idle()
    assert [json.loads(r.body)["type"] for r in webhook_sink.received[before:]] == arrived


def test_delayed_delivery_arrives_later(fake_stripe: FakeStripe, webhook_sink: WebhookSink) -> None:
    """A delayed delivery waits at least its delay, and an event emitted after it, not delayed, overtakes it.
    Both are emitted in-process back to back, so the undelayed one is queued (and the single delivery
    thread sends in queue order) long before the delay ends: no upper bound on any time, however loaded
    the machine."""
    fake_stripe.webhooks.delay_next(0.5, types=["customer.created"])
    started = time.time()
    fake_stripe.create_customer(email="late@example.com")
    fake_stripe.create_product("Fast")
    fake_stripe.webhooks.wait_idle()
    arrived = {json.loads(r.body)["type"]: r.at - started for r in webhook_sink.received}
    assert arrived["customer.created"] >= 0.5, "the delay was not applied"
    assert arrived["product.created"] < arrived["customer.created"]
    assert [json.loads(r.body)["type"] for r in webhook_sink.received] == ["product.created", "customer.created"]


def test_failed_deliveries_are_recorded_and_redelivered(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, webhook_sink: WebhookSink
) -> None:
    webhook_sink.status = 500
    stripe_client.v1.customers.create(params={"email": "retry@example.com"})
    fake_stripe.webhooks.wait_idle()
    assert [d.status for d in fake_stripe.webhooks.deliveries] == [500]
    event = stripe_client.v1.events.list().data[0]
    assert event.pending_webhooks == 1
    webhook_sink.status = 200
    again = fake_stripe.webhooks.redeliver_failed()
    assert [d.status for d in again] == [200]
    assert stripe_client.v1.events.retrieve(event.id).pending_webhooks == 0
    assert fake_stripe.webhooks.redeliver_failed() == []


def test_endpoints_receive_only_the_event_types_they_enabled(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, webhook_sink: WebhookSink
) -> None:
    fake_stripe.webhooks.endpoints[0].enabled_events = ["customer.created"]
    stripe_client.v1.products.create(params={"name": "Ignored"})
    stripe_client.v1.customers.create(params={"email": "wanted@example.com"})
    fake_stripe.webhooks.wait_idle()
    assert [json.loads(r.body)["type"] for r in webhook_sink.received] == ["customer.created"]


def test_held_events_can_be_driven_over_http_from_another_process(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, webhook_sink: WebhookSink, stripe_webhook_secret: str
) -> None:
    base = fake_stripe.base_url
    assert httpx.post(f"{base}/_fake/mode", json={"mode": "hold"}).json()["mode"] == "hold"
    stripe_client.v1.customers.create(params={"email": "remote@example.com"})
    held = httpx.get(f"{base}/_fake/state").json()["webhooks"]["held"]
    assert len(held) == 1
    signed = httpx.post(f"{base}/_fake/{held[0]}/signed", json={"kind": "stale"}).json()
    with pytest.raises(stripe.SignatureVerificationError):
        verify(signed["payload"].encode(), signed["header"], stripe_webhook_secret)
    flushed = httpx.post(f"{base}/_fake/flush", json={"order": "reverse"}).json()
    assert [d["status"] for d in flushed] == [200]
    repeated = httpx.post(f"{base}/_fake/{held[0]}/deliver", json={"times": 3, "concurrent": True}).json()
    assert [d["status"] for d in repeated] == [200, 200, 200]
    assert len(webhook_sink.received) == 4


def test_an_endpoint_created_through_the_api_receives_its_events_signed_with_its_own_secret(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, webhook_sink: WebhookSink
) -> None:
    fake_stripe.webhooks.endpoints[0].enabled = False  # the sink's own endpoint: quiet
    created = stripe_client.v1.webhook_endpoints.create(
        params={"url": webhook_sink.url, "enabled_events": ["customer.created"]}
    )
    assert created.secret is not None and created.secret.startswith("whsec_")
    stripe_client.v1.products.create(params={"name": "Ignored"})
    stripe_client.v1.customers.create(params={"email": "wanted@example.com"})
    fake_stripe.webhooks.wait_idle()
    [received] = webhook_sink.received
    assert verify(received.body, received.signature, created.secret).type == "customer.created"

    stripe_client.v1.webhook_endpoints.update(created.id, params={"disabled": True})
    stripe_client.v1.customers.create(params={"email": "unheard@example.com"})
    fake_stripe.webhooks.wait_idle()
    assert len(webhook_sink.received) == 1  # a disabled endpoint receives nothing
