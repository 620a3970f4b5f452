"""(f) The clock: advancing it renews, fails, cancels and expires as Stripe would; the lifecycle controls."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import stripe
from fakestripe import FakeStripe
from fakestripe.state import period_end
from fakestripe_helpers import Catalog, paid_checkout

DAY = 86400


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def item_period(sub: stripe.Subscription) -> tuple[int, int]:
    item = sub["items"].data[0]
    return item.current_period_start, item.current_period_end


def types_since(fake: FakeStripe, count: int) -> list[str]:
    return [e["type"] for e in fake.events_of()[count:]]


def test_months_are_calendar_months_anchored_on_the_first_day() -> None:
    anchor = ts("2025-01-31T10:00:00")
    assert period_end(anchor, anchor, "month", 1) == ts("2025-02-28T10:00:00")
    assert period_end(anchor, ts("2025-02-28T10:00:00"), "month", 1) == ts("2025-03-31T10:00:00")
    assert period_end(anchor, anchor, "year", 1) == ts("2026-01-31T10:00:00")
    leap = ts("2024-02-29T00:00:00")
    assert period_end(leap, leap, "year", 1) == ts("2025-02-28T00:00:00")
    assert period_end(anchor, anchor, "week", 2) == anchor + 14 * DAY


def test_advancing_past_the_period_end_renews_with_a_paid_cycle_invoice(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    start, end = item_period(subscription)
    seen = len(fake_stripe.events)
    assert fake_stripe.advance(days=10) == []
    events = fake_stripe.advance(days=25)
    assert [e["type"] for e in events] == [
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    assert types_since(fake_stripe, seen) == [e["type"] for e in events]
    renewed = stripe_client.v1.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
    assert item_period(renewed) == (end, period_end(start, end, "month", 1))
    assert renewed.status == "active"
    invoice = renewed.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.billing_reason, invoice.status, invoice.amount_paid) == ("subscription_cycle", "paid", 6000)
    assert invoice.lines.data[0].period.start == end  # the line covers the new period
    assert invoice.created == end  # made when the period ended, by Stripe's clock
    updated = events[0]
    assert "items" in updated["data"]["previous_attributes"]
    assert fake_stripe.now() >= end


def test_a_long_advance_renews_once_per_period(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    fake_stripe.advance(days=100)
    invoices = stripe_client.v1.invoices.list(params={"subscription": subscription.id})
    assert [i.billing_reason for i in invoices.data] == ["subscription_cycle"] * 3 + ["subscription_create"]
    assert len({i.period_end for i in invoices.data}) == 4


def test_a_failed_renewal_leaves_the_invoice_open_and_the_subscription_past_due(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    fake_stripe.fail_next_renewal(subscription.id)
    events = fake_stripe.advance(days=32)
    assert [e["type"] for e in events] == [
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.payment_failed",
        "customer.subscription.updated",
    ]
    sub = stripe_client.v1.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "past_due"
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.attempted, invoice.amount_paid) == ("open", True, 0)
    assert invoice.next_payment_attempt is not None
    assert events[-1]["data"]["previous_attributes"] == {"status": "active"}
    # A retry that succeeds brings it back.
    fake_stripe.retry_invoice(invoice.id)
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "active"
    assert stripe_client.v1.invoices.retrieve(invoice.id).status == "paid"


def test_when_retries_are_exhausted_the_subscription_is_deleted(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    fake_stripe.fail_next_renewal(subscription.id)
    fake_stripe.advance(days=32)
    fake_stripe.exhaust_payment_retries(subscription.id)
    sub = stripe_client.v1.subscriptions.retrieve(subscription.id)
    assert sub.status == "canceled"
    assert sub.cancellation_details is not None
    assert sub.cancellation_details.reason == "payment_failed"
    assert fake_stripe.events_of()[-1]["type"] == "customer.subscription.deleted"


def test_cancel_at_period_end_ends_it_at_the_period_end_without_an_invoice(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    _, end = item_period(subscription)
    fake_stripe.cancel_at_period_end(subscription.id)
    assert fake_stripe.events_of()[-1]["type"] == "customer.subscription.updated"
    assert fake_stripe.events_of()[-1]["data"]["previous_attributes"]["cancel_at_period_end"] is False
    events = fake_stripe.advance(days=40)
    assert [e["type"] for e in events] == ["customer.subscription.deleted"]
    sub = stripe_client.v1.subscriptions.retrieve(subscription.id)
    assert (sub.status, sub.ended_at) == ("canceled", end)
    assert len(stripe_client.v1.invoices.list(params={"subscription": subscription.id}).data) == 1
    assert fake_stripe.advance(days=40) == []


def test_delete_now(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    fake_stripe.cancel_subscription(subscription.id)
    assert [e["type"] for e in fake_stripe.events_of()][-1] == "customer.subscription.deleted"
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    assert fake_stripe.advance(days=40) == []


def test_portal_seat_change_is_invoiced_at_once(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    seen = len(fake_stripe.events)
    fake_stripe.portal_update(subscription.id, quantity=10)
    assert types_since(fake_stripe, seen) == [
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    sub = stripe_client.v1.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
    assert sub["items"].data[0].quantity == 10
    assert item_period(sub) == item_period(subscription)  # same cycle
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert invoice.billing_reason == "subscription_update"
    assert invoice.lines.data[0].parent is not None
    details = invoice.lines.data[0].parent.subscription_item_details
    assert details is not None
    assert details.proration is True
    assert 0 < invoice.amount_due <= 7 * 2000


def test_portal_interval_change_restarts_the_cycle(
    fake_stripe: FakeStripe,
    stripe_client: stripe.StripeClient,
    subscription: stripe.Subscription,
    catalog: Catalog,
) -> None:
    fake_stripe.advance(days=5)
    fake_stripe.portal_update(subscription.id, price=catalog.yearly.id)
    sub = stripe_client.v1.subscriptions.retrieve(subscription.id)
    start, end = item_period(sub)
    assert start == fake_stripe.now()
    assert end == period_end(start, start, "year", 1)
    assert sub.billing_cycle_anchor == start
    assert sub["items"].data[0].plan.interval == "year"


def test_prorations_created_now_are_billed_on_the_next_renewal(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    item = subscription["items"].data[0]
    stripe_client.v1.subscriptions.update(subscription.id, params={"items": [{"id": item.id, "quantity": 4}]})
    assert len(stripe_client.v1.invoices.list(params={"subscription": subscription.id}).data) == 1
    fake_stripe.advance(days=32)
    renewal = stripe_client.v1.invoices.list(params={"subscription": subscription.id}).data[0]
    prorations = [
        line
        for line in renewal.lines.data
        if line.parent and line.parent.subscription_item_details and line.parent.subscription_item_details.proration
    ]
    assert len(prorations) == 2
    assert renewal.amount_due == 4 * 2000 + sum(line.amount for line in prorations)


def test_a_frozen_clock_moves_only_when_told() -> None:
    fake = FakeStripe(start=ts("2030-01-01T00:00:00"))
    try:
        product = fake.create_product("Pro")
        assert product["created"] == ts("2030-01-01T00:00:00")
        fake.advance(days=1)
        assert fake.now() == ts("2030-01-02T00:00:00")
        assert fake.now_datetime() == datetime(2030, 1, 2, tzinfo=UTC)
    finally:
        fake.close()


def test_the_shared_fake_can_be_frozen_for_one_test(fake_stripe: FakeStripe) -> None:
    moment = fake_stripe.freeze(datetime(2031, 5, 1, tzinfo=UTC))
    assert fake_stripe.now() == moment == ts("2031-05-01T00:00:00")
    fake_stripe.advance(hours=2)
    assert fake_stripe.now() == moment + 7200


def test_clock_over_http(fake_stripe: FakeStripe, subscription: stripe.Subscription) -> None:
    before = fake_stripe.now()
    answer = httpx.post(f"{fake_stripe.base_url}/_fake/advance", json={"days": 32}).json()
    assert answer["now"] >= before + 32 * DAY
    assert len(answer["events"]) == 5
    httpx.post(f"{fake_stripe.base_url}/_fake/{subscription.id}/fail_next_renewal", json={})
    httpx.post(f"{fake_stripe.base_url}/_fake/advance", json={"days": 32})
    assert fake_stripe.get(subscription.id)["status"] == "past_due"


def test_renewal_of_each_subscription_in_time_order(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog
) -> None:
    first = paid_checkout(stripe_client, catalog.monthly, email="a@example.com")
    fake_stripe.advance(days=3)
    second = paid_checkout(stripe_client, catalog.monthly, email="b@example.com")
    events = fake_stripe.advance(days=33)
    renewed = [e["data"]["object"]["id"] for e in events if e["type"] == "customer.subscription.updated"]
    assert renewed == [first.subscription, second.subscription]


def test_a_coupon_on_the_subscription_discounts_its_renewals(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    from fakestripe.shapes import shape_problems

    # A "once" coupon is used up by the next invoice.
    half_once = stripe_client.v1.coupons.create(params={"percent_off": 50, "duration": "once"})
    fake_stripe.apply_coupon(subscription.id, half_once.id)
    fake_stripe.advance(days=31)
    fake_stripe.advance(days=31)
    latest, previous = stripe_client.v1.invoices.list(params={"subscription": subscription.id, "limit": 2}).data
    assert (previous.total, previous.amount_paid, latest.total) == (3000, 3000, 6000)
    assert fake_stripe.get(subscription.id)["discounts"] == []

    # One for ever, at 100 %: the renewals cost nothing and are paid.
    free = stripe_client.v1.coupons.create(params={"percent_off": 100, "duration": "forever", "name": "On the house"})
    assert (free.percent_off, free.duration, free.valid) == (100, "forever", True)
    assert stripe_client.v1.coupons.retrieve(free.id).name == "On the house"
    updated = stripe_client.v1.subscriptions.update(subscription.id, params={"discounts": [{"coupon": free.id}]})
    [discount_id] = updated.discounts
    assert isinstance(discount_id, str) and discount_id.startswith("di_")
    discount = fake_stripe.get(discount_id)
    assert discount["source"] == {"coupon": free.id, "type": "coupon"} and discount["subscription"] == subscription.id
    assert shape_problems(discount) == [] and shape_problems(fake_stripe.get(free.id)) == []

    fake_stripe.advance(days=31)
    renewed = stripe_client.v1.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
    invoice = renewed.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.billing_reason, invoice.status) == ("subscription_cycle", "paid")
    assert (invoice.subtotal, invoice.total, invoice.amount_due) == (6000, 0, 0)
    assert [(d.amount, d.discount) for d in invoice.total_discount_amounts] == [(6000, discount_id)]
    assert invoice.discounts == [discount_id]
    assert [(d.amount, d.discount) for d in invoice.lines.data[0].discount_amounts or []] == [(6000, discount_id)]
    assert renewed.status == "active"
    assert shape_problems(fake_stripe.get(invoice.id)) == []


def test_quantity_zero_and_another_products_free_price(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    item = subscription["items"].data[0]
    zero = stripe_client.v1.subscriptions.update(
        subscription.id, params={"items": [{"id": item.id, "quantity": 0}], "proration_behavior": "always_invoice"}
    )
    assert zero["items"].data[0].quantity == 0 and zero.status == "active"
    other = fake_stripe.create_product("Something else")
    free = fake_stripe.create_price(product=other["id"], currency="usd", unit_amount=0, interval="month")
    switched = fake_stripe.portal_update(subscription.id, quantity=500, price=free["id"])
    [switched_item] = switched["items"]["data"]
    assert (switched_item["quantity"], switched_item["price"]["id"], switched_item["price"]["lookup_key"]) == (
        500,
        free["id"],
        None,
    )
    fake_stripe.advance(days=35)
    renewal = stripe_client.v1.invoices.list(params={"subscription": subscription.id, "limit": 1}).data[0]
    assert (renewal.billing_reason, renewal.status, renewal.total) == ("subscription_cycle", "paid", 0)
