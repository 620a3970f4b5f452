"""Failed event processing is rolled back, visible, retried with backoff and then succeeds; after too many
failures it is given up, listed by `licensing billing events`, and made due again with `--retry`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from billing_testkit import Shop, licensing

from licensing.kit.jobs import MAX_ATTEMPTS
from licensing.models import AuditEvent, Customer, License, StripeEvent, Subscription


def _held_completed(shop: Shop) -> str:
    shop.fake.webhooks.mode = "hold"
    shop.buy(seats=4)
    completed = shop.fake.events_of("checkout.session.completed")[0]["id"]
    shop.fake.webhooks.discard_held()
    assert all(d.ok for d in shop.fake.webhooks.deliver(completed))
    return completed


def test_failed_processing_is_retried_with_backoff_and_then_succeeds(shop: Shop, settings: Any) -> None:
    event_id = _held_completed(shop)
    shop.fake.freeze()  # the backoff is compared to the instant of the failure: no second may tick between
    shop.fake.inject_failure(500, path_prefix="/v1/checkout/sessions")  # Stripe fails the re-read once
    assert shop.worker.run_until_idle() == 1

    [event] = shop.events()
    assert event.processed_at is None and event.attempts == 1
    assert event.last_error is not None and "StripeUnavailable" in event.last_error
    assert event.next_attempt_at == shop.fake.now_datetime() + timedelta(seconds=30)
    assert shop.count(License) == shop.count(Customer) == shop.count(Subscription) == 0  # rolled back whole

    listed = licensing(settings, "billing", "events")
    assert listed.returncode == 0, listed.stderr
    assert event_id in listed.stdout and "retrying" in listed.stdout and "StripeUnavailable" in listed.stdout

    assert shop.worker.run_until_idle() == 0  # not before its backoff
    shop.fake.advance(seconds=31)
    shop.worker.run_until_idle()
    [event] = shop.events()
    assert event.processed_at is not None and event.attempts == 2 and event.last_error is None
    assert event.outcome is not None and event.outcome.startswith("issued lic_")
    [lic] = shop.licenses()
    assert lic.seats == 4 and len(shop.mailer.sent) == 1
    assert "no unprocessed webhook events" in licensing(settings, "billing", "events").stdout
    assert event_id in licensing(settings, "billing", "events", "--all").stdout


def test_an_event_that_keeps_failing_is_given_up_and_can_be_retried(shop: Shop, settings: Any) -> None:
    event_id = _held_completed(shop)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        shop.fake.inject_failure(500, path_prefix="/v1/checkout/sessions")
        assert shop.worker.run_until_idle() == 1, attempt
        shop.fake.advance(hours=1, seconds=1)  # past the longest backoff
    [event] = shop.events()
    assert event.attempts == MAX_ATTEMPTS and event.next_attempt_at is None and event.processed_at is None
    assert shop.worker.run_until_idle() == 0  # given up: not due any more
    listed = licensing(settings, "billing", "events")
    assert f"{event_id}" in listed.stdout and " failed " in listed.stdout

    retried = licensing(settings, "billing", "events", "--retry", event_id)
    assert retried.returncode == 0 and "1 event(s) due again" in retried.stdout
    # The CLI's clock is the real one; the service's is Stripe's, which is ahead: the event is due for both.
    shop.worker.run_until_idle()
    [event] = shop.events()
    assert event.processed_at is not None
    assert len(shop.licenses()) == 1


def test_one_failing_event_does_not_hold_up_the_others(shop: Shop) -> None:
    shop.fake.webhooks.mode = "hold"
    first = shop.buy(seats=2, email="a@one.example", company="One")
    second = shop.buy(seats=3, email="b@two.example", company="Two")
    completed = {e["data"]["object"]["id"]: e["id"] for e in shop.fake.events_of("checkout.session.completed")}
    shop.fake.webhooks.discard_held()
    shop.fake.webhooks.deliver(completed[first.session_id])
    shop.fake.webhooks.deliver(completed[second.session_id])
    shop.fake.inject_failure(500, path_prefix=f"/v1/checkout/sessions/{first.session_id}")
    shop.worker.run_until_idle()
    states = {e.object_id: (e.processed_at is not None, e.attempts) for e in shop.events()}
    assert states == {first.session_id: (False, 1), second.session_id: (True, 1)}
    assert [lic.seats for lic in shop.licenses()] == [3]
    assert shop.count(StripeEvent) == 2


def test_a_step_failing_after_it_wrote_leaves_nothing_and_its_failure_is_kept(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one undo rule: fulfilment is atomic, so when it fails after it has made the customer and the
    subscription, neither is kept, while the same transaction records the failure on the event."""
    _held_completed(shop)
    audited = shop.count(AuditEvent)  # the checkout's start
    from billing import lifecycle

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the lifecycle broke after the customer and the subscription were written")

    monkeypatch.setattr(lifecycle, "apply", broken)
    assert shop.worker.run_until_idle() == 1
    [event] = shop.events()
    assert event.processed_at is None and event.attempts == 1
    assert event.last_error is not None and "the lifecycle broke" in event.last_error
    assert shop.count(License) == shop.count(Customer) == shop.count(Subscription) == 0
    assert shop.count(AuditEvent) == audited  # no customer.created, subscription.recorded...

    monkeypatch.undo()
    shop.fake.advance(seconds=31)
    shop.worker.run_until_idle()
    [event] = shop.events()
    assert event.processed_at is not None and event.attempts == 2
    assert shop.count(Customer) == shop.count(Subscription) == 1 and len(shop.licenses()) == 1
