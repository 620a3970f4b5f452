"""Webhook intake: verified with the SDK, stored once, answered at once; forged, stale, unsigned or
oversized calls change nothing; a service without a webhook secret accepts nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from billing_testkit import Shop
from fakestripe import sign
from pydantic import SecretStr

from licensing.models import Customer, License, StripeEvent, Subscription

PROBLEM = "application/problem+json"
WEBHOOK = "/v1/webhooks/stripe"


def _nothing_written(shop: Shop, events_before: int) -> None:
    assert shop.count(StripeEvent) == events_before
    assert shop.count(License) == 0 and shop.count(Subscription) == 0 and shop.count(Customer) == 0


def _problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == code


@pytest.mark.parametrize("kind", ["forged", "stale", "unsigned", "tampered", "garbled header", "other scheme"])
def test_forged_stale_or_unsigned_webhooks_are_refused_and_change_nothing(shop: Shop, kind: str) -> None:
    shop.fake.webhooks.mode = "hold"  # nothing reaches the service but what the test posts
    shop.buy()
    event = shop.fake.events_of("checkout.session.completed")[0]
    url = shop.url + WEBHOOK
    if kind == "forged":
        payload, header = shop.fake.webhooks.forged(event["id"])
    elif kind == "stale":
        payload, header = shop.fake.webhooks.stale(event["id"], age=301)
    elif kind == "unsigned":
        payload, header = shop.fake.webhooks.signed(event["id"])[0], None
    elif kind == "tampered":
        payload, header = shop.fake.webhooks.signed(event["id"])
        payload = payload.replace(b'"livemode": false', b'"livemode": true ')
    elif kind == "garbled header":
        payload, header = shop.fake.webhooks.signed(event["id"])[0], "t=abc,v1=zz"
    else:
        payload, header = shop.fake.webhooks.signed(event["id"])
        header = header.replace("v1=", "v0=")
    response = shop.fake.webhooks.post(payload, header, url=url)
    _problem(response, 400, "invalid_signature")
    shop.worker.run_until_idle()
    _nothing_written(shop, 0)


def test_a_correctly_signed_body_that_is_not_an_event_is_refused(shop: Shop, stripe_webhook_secret: str) -> None:
    for payload in (b"not json", b"\xff\xfe", b'{"hello": "world"}', b"[1, 2]"):
        header = sign(payload, stripe_webhook_secret, int(time.time()))
        response = shop.fake.webhooks.post(payload, header, url=shop.url + WEBHOOK)
        assert response.status_code == 400, (payload, response.text)
        assert response.json()["code"] in ("malformed_event", "invalid_signature")
    _nothing_written(shop, 0)


def test_a_fresh_signature_within_tolerance_is_accepted(shop: Shop) -> None:
    shop.fake.webhooks.mode = "hold"
    shop.buy()
    event = shop.fake.events_of("checkout.session.completed")[0]
    payload, header = shop.fake.webhooks.stale(event["id"], age=240)  # four minutes old: still fine
    response = shop.fake.webhooks.post(payload, header, url=shop.url + WEBHOOK)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "event": event["id"], "stored": True}


def test_each_event_is_stored_once_and_answered_at_once(shop: Shop) -> None:
    shop.fake.webhooks.mode = "hold"
    shop.buy()
    event = shop.fake.events_of("checkout.session.completed")[0]
    deliveries = shop.fake.webhooks.deliver(event["id"], times=3)
    assert [d.status for d in deliveries] == [200, 200, 200]
    stored = [json.loads(d.response)["stored"] for d in deliveries] if deliveries[0].response else None
    assert stored in (None, [True, False, False])
    rows = [e for e in shop.events() if e.event_id == event["id"]]
    assert len(rows) == 1
    assert (rows[0].type, rows[0].object_type, rows[0].object_id) == (
        "checkout.session.completed",
        "checkout.session",
        event["data"]["object"]["id"],
    )
    assert rows[0].processed_at is None  # answered before any processing
    assert shop.count(License) == 0
    shop.worker.run_until_idle()
    assert shop.count(License) == 1


def test_event_types_off_the_allow_list_are_answered_but_not_stored(shop: Shop) -> None:
    shop.fake.webhooks.mode = "hold"
    shop.buy()
    ignored = [
        e for e in shop.fake.events_of() if e["type"] in ("invoice.created", "invoice.finalized", "customer.created")
    ]
    assert ignored
    for event in ignored:
        payload, header = shop.fake.webhooks.signed(event["id"])
        response = shop.fake.webhooks.post(payload, header, url=shop.url + WEBHOOK)
        assert response.status_code == 200
        assert response.json()["stored"] is False
    assert shop.count(StripeEvent) == 0


def test_real_sized_payloads_fit_and_oversized_ones_are_refused(shop: Shop, stripe_webhook_secret: str) -> None:
    shop.fake.webhooks.mode = "hold"
    shop.buy()
    event = shop.fake.events_of("invoice.paid")[0]
    # An invoice with many lines: far over the API's 64 KiB body limit, well under the webhook's 1 MiB.
    event["data"]["object"]["lines"]["data"] = [dict(event["data"]["object"]["lines"]["data"][0]) for _ in range(300)]
    payload = json.dumps(event, indent=2).encode()
    assert 64 * 1024 < len(payload) < 1024 * 1024
    header = sign(payload, stripe_webhook_secret, int(time.time()))
    response = shop.fake.webhooks.post(payload, header, url=shop.url + WEBHOOK)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["stored"] is True

    huge = payload + b" " * (1024 * 1024)
    response = shop.fake.webhooks.post(
        huge, sign(huge, stripe_webhook_secret, int(time.time())), url=shop.url + WEBHOOK
    )
    _problem(response, 413, "payload_too_large")
    # The rest of the API keeps its own, smaller limit.
    big_trial = shop.http.post(
        "/v1/trials", content=b"{" + b" " * (100 * 1024) + b"}", headers={"content-type": "application/json"}
    )
    assert big_trial.status_code == 413


def test_without_a_webhook_secret_the_route_accepts_nothing(
    settings: Any, core: Any, engine: Any, fake_stripe: Any, stripe_webhook_secret: str
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(settings.model_copy(update={"stripe_webhook_secret": SecretStr("  ")}), core=core, engine=engine)
    payload = b'{"id": "evt_1", "object": "event", "type": "checkout.session.completed", "data": {"object": {}}}'
    with TestClient(app) as client:
        for header in (
            sign(payload, stripe_webhook_secret, int(time.time())),
            sign(payload, "", int(time.time())),
            None,
        ):
            response = client.post(WEBHOOK, content=payload, headers={"stripe-signature": header} if header else {})
            _problem(response, 404, "webhooks_disabled")
            assert "LICENSING_STRIPE_WEBHOOK_SECRET" in response.json()["detail"]
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM stripe_events").scalar() == 0


def test_the_in_process_worker_processes_webhooks_by_itself(
    settings: Any, core: Any, engine: Any, fake_stripe: Any, stripe_webhook_secret: str, runtime: Any
) -> None:
    """What `licensing serve` does by default: the app's lifespan runs the background loop, so a paid
    checkout's license is issued without anyone running `licensing worker` (e-mail is logged: no SMTP host)."""
    from fakestripe.hosted import submit_checkout
    from livetools import serve_in_thread

    from api.app import create_app
    from billing.catalog_sync import sync_catalog

    sync_catalog(runtime.core)
    app = create_app(settings.model_copy(update={"worker_in_process": True}), core=core, engine=engine)
    with serve_in_thread(app) as url:
        assert app.state.worker is not None
        fake_stripe.webhooks.add_endpoint(f"{url}{WEBHOOK}", secret=stripe_webhook_secret)
        started = httpx.post(
            f"{url}/v1/checkout/sessions",
            json={"interval": "year", "seats": 7, "email": "ops@omega.example", "company": "Omega"},
        )
        assert started.status_code == 201, started.text
        assert submit_checkout(started.json()["url"]).status_code == 303
        fake_stripe.webhooks.wait_idle()
        deadline = time.monotonic() + 15
        with engine.connect() as connection:
            while time.monotonic() < deadline:
                issued = connection.exec_driver_sql("SELECT seats FROM licenses").scalars().all()
                sent = connection.exec_driver_sql("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL").scalar()
                if issued and sent:
                    break
                connection.rollback()
                time.sleep(0.1)
        assert issued == [7]
        assert sent == 1  # logged, as no SMTP host is configured
