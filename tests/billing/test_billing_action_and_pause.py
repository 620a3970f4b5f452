"""SPEC section 6: a renewal that needs the buyer's authentication (3-D Secure,
``invoice.payment_action_required``) and a subscription whose collection is paused, then resumed. Driven
through the fake Stripe; every event delivered twice, shuffled where order could matter; reconcile heals
a dropped event."""

from __future__ import annotations

import random
from typing import Any

import pytest
from billing_testkit import Shop, licensing
from fakestripe import CARD_3DS, CARD_3DS_ALWAYS
from fakestripe.hosted import pay_hosted_invoice, submit_checkout

from licensing.licenses.status import status_of
from licensing.models import OutboxMessage

FAILED = "Your payment for the Professional subscription failed"


def _deliver_shuffled_twice(shop: Shop, seed: int = 3) -> None:
    events = [e["id"] for e in shop.fake.webhooks.held_events()]
    shop.fake.webhooks.discard_held()
    order = events * 2
    random.Random(seed).shuffle(order)
    for event_id in order:
        shop.fake.webhooks.deliver(event_id)
        shop.worker.run_until_idle()


def _action_mails(shop: Shop, url: str) -> list[Any]:
    return [mail for mail in shop.mailer.sent if url in mail.text]


def test_renewal_needing_authentication_mails_the_hosted_invoice_link_once_and_issues_when_paid(shop: Shop) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    [first] = shop.licenses()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.require_action_next_renewal(stripe_sub)
    shop.fake.advance(days=31)
    shop.process()

    invoice = shop.fake.get(shop.fake.get(stripe_sub)["latest_invoice"])
    assert invoice["status"] == "open" and shop.fake.invoice_requires_action(invoice["id"])
    [action_event] = shop.fake.events_of("invoice.payment_action_required")
    [stored] = [e for e in shop.events() if e.event_id == action_event["id"]]  # on the allow-list
    assert (stored.object_type, stored.object_id, stored.last_error) == ("subscription", stripe_sub, None)
    assert stored.processed_at is not None
    assert shop.subscription(bought.checkout_id).status == "past_due"
    assert [lic.id for lic in shop.licenses()] == [first.id]  # no new license until paid
    assert status_of(first, shop.fake.now_datetime()) == "grace"  # the current one runs into its grace
    url = invoice["hosted_invoice_url"]
    assert url
    [mail] = _action_mails(shop, url)  # Stripe's hosted invoice link, re-read from Stripe
    assert mail.to == "ada@acme.example" and url in mail.html
    assert mail.subject == FAILED

    # The event again, twice (and reconcile): no second e-mail, still nothing issued.
    shop.fake.webhooks.deliver(action_event["id"], times=2)
    shop.process()
    assert len(_action_mails(shop, url)) == 1
    assert [lic.id for lic in shop.licenses()] == [first.id]

    # The buyer completes the 3-D Secure step on the hosted invoice page: the renewal is issued.
    paid = pay_hosted_invoice(url)
    assert paid.status_code == 200, paid.text
    shop.process()
    _first_again, renewal = shop.licenses()
    assert renewal.supersedes_id == first.id
    sub = shop.subscription(bought.checkout_id)
    assert sub.status == "active" and renewal.expires_at == sub.current_period_end
    assert shop.mailer.subjects()[-1] == "Your renewed Professional license"
    assert len(_action_mails(shop, url)) == 1

    # The action event delivered late, twice, after the payment: nothing more.
    mails = len(shop.mailer.sent)
    shop.fake.webhooks.deliver(action_event["id"], times=2)
    shop.process()
    assert len(shop.mailer.sent) == mails and len(shop.licenses()) == 2


@pytest.mark.parametrize("card", [CARD_3DS, CARD_3DS_ALWAYS])
def test_checkout_itself_completes_a_card_that_needs_authentication(shop: Shop, card: str) -> None:
    bought = shop.buy(seats=2, card=card)  # the buyer answers the bank's challenge on Stripe's page
    shop.process()
    [lic] = shop.licenses()
    assert lic.seats == 2 and lic.expires_at == shop.subscription(bought.checkout_id).current_period_end
    assert shop.mailer.subjects() == ["Your Professional license"]

    # Its renewal: a card set up at checkout pays by itself; one that always asks waits for the customer.
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.advance(days=31)
    shop.process()
    if card == CARD_3DS:
        assert len(shop.licenses()) == 2
        return
    assert len(shop.licenses()) == 1
    url = shop.fake.get(shop.fake.get(stripe_sub)["latest_invoice"])["hosted_invoice_url"]
    assert len(_action_mails(shop, url)) == 1
    assert pay_hosted_invoice(url).status_code == 200
    shop.process()
    assert len(shop.licenses()) == 2 and shop.mailer.subjects()[-1] == "Your renewed Professional license"


def test_a_failed_authentication_at_checkout_issues_nothing(shop: Shop) -> None:
    bought = shop.start(seats=2)
    refused = submit_checkout(bought.url, card=CARD_3DS, authenticate=False)
    assert refused.status_code == 402
    shop.process()
    assert shop.licenses() == [] and shop.mailer.sent == []


def test_abandoned_authentication_leaves_the_invoice_open_and_issues_nothing(shop: Shop) -> None:
    bought = shop.buy(seats=1)
    shop.process()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.require_action_next_renewal(stripe_sub)
    shop.fake.advance(days=31)
    shop.process()
    url = shop.fake.get(shop.fake.get(stripe_sub)["latest_invoice"])["hosted_invoice_url"]
    refused = pay_hosted_invoice(url, authenticate=False)
    assert refused.status_code == 402
    shop.process()
    assert len(shop.licenses()) == 1 and shop.subscription(bought.checkout_id).status == "past_due"


def test_authentication_events_shuffled_and_twice_issue_one_renewal(shop: Shop) -> None:
    bought = shop.buy(seats=4)
    shop.process()
    [first] = shop.licenses()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.webhooks.mode = "hold"
    shop.fake.require_action_next_renewal(stripe_sub)
    shop.fake.advance(days=31)
    invoice = shop.fake.get(stripe_sub)["latest_invoice"]
    assert pay_hosted_invoice(shop.fake.get(invoice)["hosted_invoice_url"]).status_code == 200
    _deliver_shuffled_twice(shop)
    first_again, renewal = shop.licenses()
    assert first_again.id == first.id and renewal.supersedes_id == first.id
    assert renewal.expires_at == shop.subscription(bought.checkout_id).current_period_end


def test_a_dropped_action_required_event_is_healed_by_reconcile(shop: Shop, settings: Any) -> None:
    bought = shop.buy(seats=2)
    shop.process()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.webhooks.mode = "drop"
    shop.fake.require_action_next_renewal(stripe_sub)
    shop.fake.advance(days=31)
    shop.process()
    url = shop.fake.get(shop.fake.get(stripe_sub)["latest_invoice"])["hosted_invoice_url"]
    assert _action_mails(shop, url) == []  # nothing arrived

    for _ in range(2):
        run = licensing(settings, "billing", "reconcile")
        assert run.returncode == 0, run.stdout + run.stderr
        shop.worker.run_until_idle()
        assert len(_action_mails(shop, url)) == 1  # mailed once, however often reconcile runs
    assert len(shop.licenses()) == 1

    assert pay_hosted_invoice(url).status_code == 200
    run = licensing(settings, "billing", "reconcile")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 license(s) issued" in run.stdout
    assert len(shop.licenses()) == 2


@pytest.mark.parametrize("behavior", ["void", "keep_as_draft", "mark_uncollectible"])
def test_paused_collection_issues_nothing_until_the_next_paid_period(shop: Shop, behavior: str) -> None:
    bought = shop.buy(seats=5)
    shop.process()
    [first] = shop.licenses()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.pause_collection(stripe_sub, behavior)
    shop.process()
    assert shop.fake.get(stripe_sub)["pause_collection"]["behavior"] == behavior

    # A period goes by unpaid: its invoice voided (or a draft, or uncollectible); nothing issued.
    shop.fake.advance(days=31)
    shop.process()
    stripe_state = shop.fake.get(stripe_sub)
    assert stripe_state["status"] == "active"
    assert shop.fake.get(stripe_state["latest_invoice"])["status"] != "paid"
    assert [lic.id for lic in shop.licenses()] == [first.id]
    assert status_of(first, shop.fake.now_datetime()) == "grace"

    # Resumed mid-period: the unpaid period stays unlicensed ...
    shop.fake.resume_collection(stripe_sub)
    shop.process()
    assert [lic.id for lic in shop.licenses()] == [first.id]
    # ... and the next paid period is licensed again.
    shop.fake.advance(days=31)
    shop.process()
    _first_again, renewed = shop.licenses()
    sub = shop.subscription(bought.checkout_id)
    assert renewed.supersedes_id == first.id and renewed.expires_at == sub.current_period_end
    assert renewed.seats == 5
    assert shop.mailer.subjects()[-1] == "Your renewed Professional license"


def test_pause_and_resume_events_shuffled_and_twice_give_the_same_licenses(shop: Shop) -> None:
    bought = shop.buy(seats=2)
    shop.process()
    [first] = shop.licenses()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.webhooks.mode = "hold"
    shop.fake.pause_collection(stripe_sub)
    shop.fake.advance(days=31)
    _deliver_shuffled_twice(shop, seed=5)
    assert [lic.id for lic in shop.licenses()] == [first.id]  # the paused period is never licensed

    shop.fake.resume_collection(stripe_sub)
    shop.fake.advance(days=31)
    _deliver_shuffled_twice(shop, seed=11)
    _first_again, renewed = shop.licenses()
    assert renewed.supersedes_id == first.id
    assert renewed.expires_at == shop.subscription(bought.checkout_id).current_period_end


def test_a_paused_period_is_not_licensed_by_reconcile(shop: Shop, settings: Any) -> None:
    bought = shop.buy(seats=2)
    shop.process()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.webhooks.mode = "drop"
    shop.fake.pause_collection(stripe_sub)
    shop.fake.advance(days=31)
    outbox = shop.count(OutboxMessage)
    run = licensing(settings, "billing", "reconcile")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 license(s) issued" in run.stdout
    assert len(shop.licenses()) == 1 and shop.count(OutboxMessage) == outbox

    shop.fake.resume_collection(stripe_sub)
    shop.fake.advance(days=31)
    run = licensing(settings, "billing", "reconcile")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 license(s) issued" in run.stdout
    assert len(shop.licenses()) == 2


def test_a_paused_subscription_issues_nothing_and_its_resumed_paid_period_is_licensed(shop: Shop) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    [first] = shop.licenses()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.webhooks.mode = "hold"
    shop.fake.pause_subscription(stripe_sub)
    shop.fake.advance(days=45)
    _deliver_shuffled_twice(shop, seed=2)
    assert shop.subscription(bought.checkout_id).status == "paused"
    assert [lic.id for lic in shop.licenses()] == [first.id]

    shop.fake.resume_subscription(stripe_sub)
    _deliver_shuffled_twice(shop, seed=9)
    _first_again, resumed = shop.licenses()
    sub = shop.subscription(bought.checkout_id)
    assert sub.status == "active" and resumed.supersedes_id == first.id
    assert resumed.expires_at == sub.current_period_end > shop.fake.now_datetime()
