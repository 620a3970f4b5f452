"""The hosted checkout page: (e) a declined card creates nothing; async payments; expiry; pages for closed sessions."""

from __future__ import annotations

import httpx
import pytest
import stripe
from fakestripe import CARD_DECLINED, IBAN_FAILS, IBAN_SUCCEEDS, FakeStripe, PaymentDeclined
from fakestripe.hosted import submit_checkout
from fakestripe_helpers import Catalog, open_checkout


def snapshot(fake: FakeStripe) -> tuple[int, int, int, int, int]:
    return (len(fake.customers), len(fake.subscriptions), len(fake.invoices), len(fake.items), len(fake.events))


@pytest.mark.parametrize(
    ("card", "message"),
    [
        (CARD_DECLINED, "Your card was declined."),
        ("4000 0000 0000 9995", "Your card has insufficient funds."),
        ("4242 4242 4242 4241", "Your card number is invalid."),
        ("4242", "Your card number is incomplete."),
    ],
)
def test_a_declined_card_shows_the_message_and_creates_nothing(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog, card: str, message: str
) -> None:
    session = open_checkout(stripe_client, catalog.monthly)
    assert session.url is not None
    before = snapshot(fake_stripe)
    response = submit_checkout(session.url, card=card)
    assert response.status_code == 402
    assert message in response.text
    assert 'role="alert"' in response.text
    assert snapshot(fake_stripe) == before
    again = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert (again.status, again.payment_status, again.subscription, again.customer) == ("open", "unpaid", None, None)
    # The buyer can try again with a good card.
    assert submit_checkout(session.url).status_code == 303
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).status == "complete"


def test_the_python_api_raises_on_a_declined_card(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog
) -> None:
    session = open_checkout(stripe_client, catalog.monthly)
    with pytest.raises(PaymentDeclined, match=r"Your card was declined\."):
        fake_stripe.pay_checkout(session.id, card=CARD_DECLINED)
    assert fake_stripe.customers == {}


def test_expiry_and_cvc_are_checked_on_the_page(stripe_client: stripe.StripeClient, catalog: Catalog) -> None:
    session = open_checkout(stripe_client, catalog.monthly)
    assert session.url is not None
    assert "expiration year is in the past" in submit_checkout(session.url, expiry="01 / 20").text
    assert "security code is incomplete" in submit_checkout(session.url, cvc="1").text


def test_a_paid_session_cannot_be_paid_twice(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog
) -> None:
    session = open_checkout(stripe_client, catalog.monthly)
    assert session.url is not None
    assert submit_checkout(session.url).status_code == 303
    counts = snapshot(fake_stripe)
    page = submit_checkout(session.url)
    assert page.status_code == 200
    assert "already complete" in page.text
    assert snapshot(fake_stripe) == counts


def test_async_payment_completes_unpaid_then_succeeds(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog
) -> None:
    session = open_checkout(stripe_client, catalog.monthly)
    assert session.url is not None
    assert submit_checkout(session.url, iban=IBAN_SUCCEEDS).status_code == 303
    pending = stripe_client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    assert (pending.status, pending.payment_status) == ("complete", "unpaid")
    assert isinstance(pending.subscription, stripe.Subscription)
    assert pending.subscription.status == "incomplete"
    fake_stripe.advance(days=2)  # a subscription waiting on an async payment does not expire
    fake_stripe.settle_async_payment(session.id)
    done = stripe_client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    assert done.payment_status == "paid"
    assert isinstance(done.subscription, stripe.Subscription)
    assert done.subscription.status == "active"
    types = [e["type"] for e in fake_stripe.events_of()]
    assert types.index("checkout.session.completed") < types.index("checkout.session.async_payment_succeeded")
    assert types[-1] == "checkout.session.async_payment_succeeded"


def test_async_payment_that_fails(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog
) -> None:
    session = open_checkout(stripe_client, catalog.monthly)
    fake_stripe.pay_checkout(session.id, iban=IBAN_FAILS)
    fake_stripe.settle_async_payment(session.id)
    assert fake_stripe.events_of()[-1]["type"] == "checkout.session.async_payment_failed"
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).payment_status == "unpaid"
    sub = fake_stripe.subscription_for_session(session.id)
    assert sub is not None
    assert sub["status"] == "incomplete"
    fake_stripe.advance(days=1)
    assert fake_stripe.get(sub["id"])["status"] == "incomplete_expired"


def test_open_sessions_expire_after_24_hours_and_on_request(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog
) -> None:
    old = open_checkout(stripe_client, catalog.monthly)
    fake_stripe.advance(hours=25)
    assert stripe_client.v1.checkout.sessions.retrieve(old.id).status == "expired"
    assert old.url is not None
    page = httpx.get(old.url)
    assert page.status_code == 410
    assert "no longer active" in page.text
    fresh = open_checkout(stripe_client, catalog.monthly)
    assert stripe_client.v1.checkout.sessions.expire(fresh.id).status == "expired"
    assert [e["data"]["object"]["id"] for e in fake_stripe.events_of("checkout.session.expired")] == [old.id, fresh.id]


def test_checkout_parameters_are_checked(stripe_client: stripe.StripeClient, catalog: Catalog) -> None:
    base: stripe.params.checkout.SessionCreateParams = {
        "mode": "subscription",
        "line_items": [{"price": catalog.monthly.id, "quantity": 1}],
        "success_url": "http://127.0.0.1:9/ok",
    }
    with pytest.raises(stripe.InvalidRequestError) as no_price:
        stripe_client.v1.checkout.sessions.create(
            params={**base, "line_items": [{"price": "price_nope", "quantity": 1}]}
        )
    assert (no_price.value.code, no_price.value.param) == ("resource_missing", "line_items[0][price]")
    with pytest.raises(stripe.InvalidRequestError) as zero:
        stripe_client.v1.checkout.sessions.create(
            params={**base, "line_items": [{"price": catalog.monthly.id, "quantity": 0}]}
        )
    assert zero.value.param == "line_items[0][quantity]"
    with pytest.raises(stripe.InvalidRequestError) as both:
        stripe_client.v1.checkout.sessions.create(
            params={**base, "customer": "cus_x", "customer_email": "a@example.com"}
        )
    assert "only specify one" in str(both.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as mode:
        stripe_client.v1.checkout.sessions.create(params={**base, "mode": "payment"})
    assert mode.value.param == "mode"
