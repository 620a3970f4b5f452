"""The fake's 3-D Secure renewals (``invoice.payment_action_required``, the hosted invoice page) and paused
collection (``pause_collection`` on ``POST /v1/subscriptions/{id}``), in Stripe's shapes."""

from __future__ import annotations

import httpx
import pytest
import stripe
from fakestripe import CARD_3DS, CARD_3DS_ALWAYS, FakeStripe
from fakestripe.hosted import pay_hosted_invoice, submit_checkout
from fakestripe.shapes import shape_problems
from fakestripe_helpers import Catalog, open_checkout


def test_a_renewal_needing_authentication_waits_on_the_hosted_invoice_page(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    fake_stripe.require_action_next_renewal(subscription.id)
    events = fake_stripe.advance(days=32)
    assert [e["type"] for e in events] == [
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.payment_action_required",
        "customer.subscription.updated",
    ]
    action = events[3]
    assert shape_problems(action["data"]["object"]) == []
    sub = stripe_client.v1.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "past_due"
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.attempted, invoice.amount_paid) == ("open", True, 0)
    assert fake_stripe.invoice_requires_action(invoice.id)
    assert invoice.hosted_invoice_url and invoice.hosted_invoice_url.endswith(f"/i/{invoice.id}")

    page = httpx.get(invoice.hosted_invoice_url, timeout=15)
    assert page.status_code == 200 and "3-D Secure" in page.text
    assert pay_hosted_invoice(invoice.hosted_invoice_url, authenticate=False).status_code == 402
    assert stripe_client.v1.invoices.retrieve(invoice.id).status == "open"
    count = len(fake_stripe.events_of())
    paid = pay_hosted_invoice(invoice.hosted_invoice_url)
    assert paid.status_code == 200 and "Invoice paid" in paid.text
    assert [e["type"] for e in fake_stripe.events_of()[count:]] == [
        "invoice.paid",
        "invoice.payment_succeeded",
        "customer.subscription.updated",
    ]
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).status == "active"
    assert stripe_client.v1.invoices.retrieve(invoice.id).status == "paid"
    assert pay_hosted_invoice(invoice.hosted_invoice_url).status_code == 400  # paid already: nothing more
    assert len(fake_stripe.events_of()) == count + 3


@pytest.mark.parametrize(
    ("behavior", "status"), [("void", "void"), ("keep_as_draft", "draft"), ("mark_uncollectible", "uncollectible")]
)
def test_paused_collection_leaves_the_periods_invoices_unpaid_until_resumed(
    fake_stripe: FakeStripe,
    stripe_client: stripe.StripeClient,
    subscription: stripe.Subscription,
    behavior: str,
    status: str,
) -> None:
    paused = stripe_client.v1.subscriptions.update(
        subscription.id,
        params={"pause_collection": {"behavior": behavior}},  # type: ignore[typeddict-item]
    )
    assert paused.pause_collection is not None and paused.pause_collection.behavior == behavior
    assert paused.status == "active" and shape_problems(fake_stripe.get(subscription.id)) == []
    updated = fake_stripe.events_of("customer.subscription.updated")[-1]
    assert updated["data"]["previous_attributes"] == {"pause_collection": None}

    fake_stripe.advance(days=32)
    sub = stripe_client.v1.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "active"
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.amount_paid) == (status, 0)
    assert fake_stripe.events_of("invoice.paid", object_id=invoice.id) == []

    resumed = stripe_client.v1.subscriptions.update(subscription.id, params={"pause_collection": ""})  # type: ignore[typeddict-item]
    assert resumed.pause_collection is None
    fake_stripe.advance(days=32)
    sub = stripe_client.v1.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
    assert isinstance(sub.latest_invoice, stripe.Invoice) and sub.latest_invoice.status == "paid"


def test_pause_collection_needs_a_known_behavior(
    stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.subscriptions.update(
            subscription.id,
            params={"pause_collection": {"behavior": "sometimes"}},  # type: ignore[typeddict-item]
        )


@pytest.mark.parametrize("card", [CARD_3DS, CARD_3DS_ALWAYS])
def test_checkout_with_a_card_needing_authentication_shows_the_challenge_then_completes(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog, card: str
) -> None:
    session = open_checkout(stripe_client, catalog.monthly)
    form = {"card_number": card, "card_expiry": "12 / 34", "card_cvc": "123", "name": "Ada", "email": "a@b.example"}
    challenge = httpx.post(session.url, data=form, timeout=15)
    assert challenge.status_code == 200 and 'id="three-d-secure"' in challenge.text
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).status == "open"  # nothing created yet
    assert fake_stripe.subscription_for_session(session.id) is None

    failed = submit_checkout(session.url, card=card, email="a@b.example", authenticate=False)
    assert failed.status_code == 402 and "unable to authenticate" in failed.text
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).status == "open"

    paid = submit_checkout(session.url, card=card, email="a@b.example")
    assert paid.status_code == 303
    done = stripe_client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    assert (done.status, done.payment_status) == ("complete", "paid")
    sub = done.subscription
    assert isinstance(sub, stripe.Subscription) and sub.status == "active"

    # The renewal: a card set up at checkout just pays; one that always asks needs the customer again.
    events = fake_stripe.advance(days=32)
    types = [e["type"] for e in events]
    if card == CARD_3DS:
        assert "invoice.paid" in types and "invoice.payment_action_required" not in types
    else:
        assert "invoice.payment_action_required" in types and "invoice.paid" not in types


def test_a_paused_subscription_does_not_renew_and_resume_starts_a_paid_period(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    paused = fake_stripe.pause_subscription(subscription.id)
    assert paused["status"] == "paused" and shape_problems(paused) == []
    assert fake_stripe.events_of("customer.subscription.paused")[-1]["data"]["object"]["status"] == "paused"
    events = fake_stripe.advance(days=64)
    assert [e["type"] for e in events] == []  # no renewal while paused
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.subscriptions.update(subscription.id, params={"pause_collection": {"behavior": "sometimes"}})  # type: ignore[typeddict-item]
    resumed = stripe_client.v1.subscriptions.resume(subscription.id, params={"billing_cycle_anchor": "now"})
    assert resumed.status == "active"
    item = resumed["items"].data[0]
    assert item.current_period_start == fake_stripe.now() and item.current_period_end > fake_stripe.now()
    assert fake_stripe.events_of("customer.subscription.resumed")
    invoice = stripe_client.v1.invoices.retrieve(str(resumed.latest_invoice))
    assert invoice.status == "paid"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.subscriptions.resume(subscription.id)
