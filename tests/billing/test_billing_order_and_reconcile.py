"""Order does not matter, and nothing is lost: a subscription's events shuffled (and repeated) give the
same final licenses as the same events in order; a dropped webhook is healed by `licensing billing
reconcile`, and a second run changes nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from billing_testkit import Bought, Shop, licensing

from licensing.models import License, OutboxMessage


def _final(shop: Shop, bought: Bought) -> tuple[Any, ...]:
    """What the customer ends up with: the subscription and its newest license, the license's end
    counted in billing months from the subscription's start (months differ in length)."""
    sub = shop.subscription(bought.checkout_id)
    newest = shop.newest(bought.checkout_id)
    start = datetime.fromtimestamp(shop.fake.get(sub.stripe_subscription_id)["start_date"], UTC)
    end = newest.expires_at
    assert end is not None and newest.grace_ends_at is not None
    assert end == sub.current_period_end  # to the end of the period Stripe is in
    months = (end.year - start.year) * 12 + end.month - start.month
    return (
        sub.status,
        sub.seats,
        sub.cancel_at_period_end,
        newest.seats,
        newest.tier,
        newest.trial,
        newest.grace_days,
        months,
        newest.grace_ends_at - end,
        newest.revoked_at,
    )


def test_shuffled_and_repeated_events_give_the_same_final_licenses_as_ordered(shop: Shop) -> None:
    # In order, as they happen: processed after every step.
    shop.fake.webhooks.mode = "immediate"
    bought = shop.buy(seats=2)
    shop.process()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    for step in (
        lambda: shop.fake.advance(days=31),
        lambda: shop.fake.portal_update(stripe_sub, quantity=7),
        lambda: shop.fake.advance(days=31),
        lambda: shop.fake.cancel_at_period_end(stripe_sub),
    ):
        step()
        shop.process()
    ordered = _final(shop, bought)
    ordered_licenses = len(shop.licenses())
    assert ordered[:4] == ("active", 7, True, 7)
    assert ordered[7:9] == (3, timedelta(days=10))  # to the third period's end, plus the grace
    assert ordered_licenses == 4  # first, renewal, seat change, renewal

    # The same year again, every event held, then delivered shuffled, each twice, processed one by one.
    shop.fake.webhooks.mode = "hold"
    again = shop.buy(seats=2)
    other_sub = shop.fake.get(again.session_id)["subscription"]
    shop.fake.advance(days=31)
    shop.fake.portal_update(other_sub, quantity=7)
    shop.fake.advance(days=31)
    shop.fake.cancel_at_period_end(other_sub)
    events = [e["id"] for e in shop.fake.webhooks.held_events()]
    shop.fake.webhooks.discard_held()
    order = events * 2
    random.Random(7).shuffle(order)
    assert order[: len(events)] != events
    for event_id in order:
        shop.fake.webhooks.deliver(event_id)
        shop.worker.run_until_idle()
    assert _final(shop, again) == ordered
    # Only the final state was ever seen, so one license, with every term the ordered run ended with.
    assert len([lic for lic in shop.licenses() if lic.customer.email == "ada@acme.example"]) == ordered_licenses + 1


def test_a_dropped_webhook_is_healed_by_reconcile_run_twice_with_the_same_result(shop: Shop, settings: Any) -> None:
    bought = shop.buy(seats=6)
    shop.process()
    [first] = shop.licenses()

    # The renewal's webhooks are lost (and a seat change's too).
    shop.fake.webhooks.mode = "drop"
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.advance(days=31)
    shop.fake.portal_update(stripe_sub, quantity=11)
    shop.process()
    assert [lic.id for lic in shop.licenses()] == [first.id]  # nothing arrived
    mails_before = len(shop.mailer.sent)

    run = licensing(settings, "billing", "reconcile")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "database: " in run.stderr
    assert f"{stripe_sub} ({shop.subscription(bought.checkout_id).id}): issued, issued lic_" in run.stdout
    assert "1 subscription(s) in Stripe: 1 license(s) issued, 0 failed" in run.stdout
    first_again, healed = shop.licenses()
    assert first_again.id == first.id and healed.supersedes_id == first.id
    sub = shop.subscription(bought.checkout_id)
    assert (healed.seats, healed.expires_at) == (11, sub.current_period_end)
    assert sub.seats == 11 and sub.license_id == healed.id
    outbox = shop.count(OutboxMessage)

    again = licensing(settings, "billing", "reconcile")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 subscription(s) in Stripe: 0 license(s) issued, 0 failed" in again.stdout
    assert f"{stripe_sub} ({sub.id}): issued, unchanged" in again.stdout
    assert [lic.id for lic in shop.licenses()] == [first.id, healed.id]
    assert shop.count(OutboxMessage) == outbox  # no e-mail twice either
    shop.worker.run_until_idle()
    assert len(shop.mailer.sent) == mails_before + 1


def test_reconcile_picks_up_a_checkout_whose_webhooks_never_came(shop: Shop, settings: Any) -> None:
    shop.fake.webhooks.mode = "drop"
    bought = shop.buy(seats=2)
    # Someone else's subscription on the same Stripe account is left alone.
    foreign_session = shop.fake.create_checkout_session(
        line_items=[(next(iter(shop.fake.prices)), 1)],
        success_url="http://elsewhere.test/ok",
        cancel_url=None,
        customer_email="x@elsewhere.test",
    )
    shop.fake.pay_checkout(foreign_session["id"])
    run = licensing(settings, "billing", "reconcile")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 subscription(s) in Stripe: 1 license(s) issued, 0 failed" in run.stdout
    assert "not_ours" in run.stdout
    [lic] = shop.licenses()
    assert lic.seats == 2 and shop.subscription(bought.checkout_id).license_id == lic.id
    assert shop.count(License) == 1
