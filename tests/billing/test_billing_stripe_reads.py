"""Reading Stripe costs the database nothing (issue 14): only checkouts of ours are looked up in Stripe,
and no database transaction is open while Stripe answers; what Stripe said is applied in a short
transaction under the row's lock, re-checked there, so a read that went stale meanwhile is read again.

The proofs hold Stripe's answer back (``FakeStripe.hold``) and do another write meanwhile: it completes
while the answer is still held. They run on SQLite (where every transaction takes the one write lock
at its first statement) and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from billing_testkit import Shop
from fakestripe import FakeStripe, Hold

from billing.checkout import fulfil_checkout, sync_subscription
from billing.reconcile import reconcile
from licensing.models import Customer, License, Subscription

MADE_UP = [f"cs_test_{'a' * 20}{i:04d}" for i in range(30)]


def _stripe_reads(fake: FakeStripe, path_prefix: str = "/v1/") -> list[str]:
    with fake.lock:
        return [r.path for r in fake.requests if r.path.startswith(path_prefix)]


# --- only sessions we created are read -----------------------------------------------------------------
def test_the_success_page_asks_stripe_nothing_for_a_session_not_ours(shop: Shop) -> None:
    foreign = shop.fake.create_checkout_session(
        line_items=[(next(iter(shop.fake.prices)), 1)], success_url="http://elsewhere.test/", cancel_url=None
    )
    before = len(shop.fake.requests)
    for session_id in [*MADE_UP, foreign["id"], "../../v1/customers", "not a session"]:
        answer = shop.http.get("/checkout/success", params={"session_id": session_id})
        assert answer.status_code == 404, answer.text
        assert "names no checkout of ours" in answer.text
    assert shop.fake.requests[before:] == []


def test_fulfilling_a_session_not_ours_asks_stripe_nothing(shop: Shop) -> None:
    shop.fake.webhooks.mode = "drop"
    foreign = shop.fake.create_checkout_session(
        line_items=[(next(iter(shop.fake.prices)), 1)], success_url="http://elsewhere.test/", cancel_url=None
    )
    before = len(shop.fake.requests)
    for session_id in (MADE_UP[0], foreign["id"]):
        result = fulfil_checkout(shop.runtime, session_id)
        assert result.status == "not_ours" and result.checkout_id is None and result.license is None
    assert fulfil_checkout(shop.runtime, "../../v1/customers").status == "unknown"
    assert shop.fake.requests[before:] == []


def test_webhook_events_about_a_checkout_not_ours_do_not_read_it(shop: Shop) -> None:
    """Another integration on the same Stripe account sells something: its session's events are settled
    from our rows alone; its subscription's are read (the subscription names the checkout it came from)."""
    foreign = shop.fake.create_checkout_session(
        line_items=[(next(iter(shop.fake.prices)), 2)], success_url="http://elsewhere.test/", cancel_url=None
    )
    shop.fake.pay_checkout(foreign["id"], email="someone@elsewhere.example")
    assert shop.process() >= 1
    events = shop.events()
    assert events and all(e.processed_at is not None for e in events)
    session_events = [e for e in events if e.object_type == "checkout.session"]
    assert session_events and all(e.outcome and e.outcome.startswith("not_ours") for e in session_events)
    assert _stripe_reads(shop.fake, f"/v1/checkout/sessions/{foreign['id']}") == []
    assert shop.count(License) == 0 and shop.count(Customer) == 0


# --- no transaction open while Stripe answers -------------------------------------------------------------
def _while_stripe_is_held(shop: Shop, hold: Hold, work: Callable[[], Any]) -> Any:
    """Run ``work`` (which reads what ``hold`` holds back) in a thread; once its Stripe read is held, write
    through the API (a trial: its own transaction) and check that the write finished while the answer was
    still held and ``work`` still waiting on it. Then release the answer; ``work``'s result."""
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert hold.wait_arrived(), "the step never asked Stripe"
        with httpx.Client(base_url=shop.url, timeout=60) as other:
            trial = other.post(
                "/v1/trials",
                json={"email": "tess@other-3f9a.example", "company": "Other", "accept_terms": True},
            )
        assert trial.status_code == 201, trial.text
        # The other write is done and Stripe's answer has not been sent yet: nothing waited on Stripe.
        assert not hold.released.is_set() and thread.is_alive()
    finally:
        hold.release()
        thread.join(60)
    assert not thread.is_alive()
    if errors:
        raise errors[0]
    return results[0]


def _visit_success_page(shop: Shop, session_id: str) -> Callable[[], httpx.Response]:
    def visit() -> httpx.Response:
        with httpx.Client(base_url=shop.url, timeout=60) as client:
            return client.get("/checkout/success", params={"session_id": session_id})

    return visit


def test_other_writes_go_on_while_the_success_page_waits_for_stripe(shop: Shop) -> None:
    shop.fake.webhooks.mode = "drop"  # only the page fulfils
    bought = shop.buy(seats=6)
    hold = shop.fake.hold(f"/v1/checkout/sessions/{bought.session_id}")
    page = _while_stripe_is_held(shop, hold, _visit_success_page(shop, bought.session_id))
    assert page.status_code == 200, page.text
    [paid, trial] = sorted(shop.licenses(), key=lambda lic: lic.trial)
    assert paid.seats == 6 and trial.trial and paid.id in page.text


def test_other_writes_go_on_while_a_webhook_event_waits_for_stripe(shop: Shop) -> None:
    shop.fake.webhooks.mode = "hold"
    bought = shop.buy(seats=4)
    shop.fake.webhooks.flush()  # every event stored, none processed
    hold = shop.fake.hold(f"/v1/checkout/sessions/{bought.session_id}")
    assert _while_stripe_is_held(shop, hold, shop.worker.run_until_idle) >= 1
    shop.process()
    assert all(e.processed_at is not None for e in shop.events())
    assert shop.newest(bought.checkout_id).seats == 4
    assert shop.count(Subscription) == 1 and len([lic for lic in shop.licenses() if not lic.trial]) == 1


def test_other_writes_go_on_while_a_renewal_waits_for_stripe(shop: Shop) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    first = shop.newest(bought.checkout_id)
    shop.fake.advance(days=32)  # the renewal's events are delivered and stored
    shop.fake.webhooks.wait_idle()
    hold = shop.fake.hold(f"/v1/subscriptions/{shop.stripe_subscription(bought.checkout_id)}")
    _while_stripe_is_held(shop, hold, shop.worker.run_until_idle)
    shop.process()
    renewed = shop.newest(bought.checkout_id)
    assert renewed.id != first.id and renewed.supersedes_id == first.id and renewed.expires_at > first.expires_at


def test_other_writes_go_on_while_reconcile_waits_for_stripe(shop: Shop) -> None:
    shop.fake.webhooks.mode = "drop"  # reconcile heals the lost webhooks
    bought = shop.buy(seats=8)
    sub_id = shop.fake.subscription_for_session(bought.session_id)["id"]  # type: ignore[index]
    hold = shop.fake.hold(f"/v1/subscriptions/{sub_id}")
    [report] = _while_stripe_is_held(shop, hold, lambda: list(reconcile(shop.runtime)))
    assert report.result is not None and report.result.status == "issued" and report.issued
    assert shop.newest(bought.checkout_id).seats == 8


# --- what Stripe said, re-checked under the lock ----------------------------------------------------------
@pytest.fixture
def subscribed(shop: Shop) -> tuple[Shop, str, str]:
    """A paid subscription of 5 seats, its license issued; webhooks dropped from here on, so the test
    alone says when the service reads Stripe."""
    bought = shop.buy(seats=5)
    shop.process()
    shop.fake.webhooks.mode = "drop"
    return shop, bought.checkout_id, shop.stripe_subscription(bought.checkout_id)


def test_a_read_that_went_stale_while_another_applied_a_newer_one_is_read_again(
    subscribed: tuple[Shop, str, str],
) -> None:
    """Stripe says 10 seats to a slow sync; the customer changes to 7 and a quick sync applies 7; then the
    slow sync's answer arrives. Applying it would issue a 10-seat license over the 7: it is read again."""
    shop, checkout_id, sub_id = subscribed
    shop.fake.portal_update(sub_id, quantity=10)
    hold = shop.fake.hold(f"/v1/subscriptions/{sub_id}")
    reads = len(_stripe_reads(shop.fake, f"/v1/subscriptions/{sub_id}"))
    results: list[Any] = []
    slow = threading.Thread(target=lambda: results.append(sync_subscription(shop.runtime, sub_id)))
    slow.start()
    try:
        assert hold.wait_arrived()
        shop.fake.portal_update(sub_id, quantity=7)
        quick = sync_subscription(shop.runtime, sub_id)
        assert quick.status == "issued" and quick.issued_now and quick.license is not None
        assert quick.license.seats == 7
    finally:
        hold.release()
        slow.join(60)
    [late] = results
    assert late.status == "issued" and not late.issued_now and late.license.id == quick.license.id
    assert [lic.seats for lic in shop.licenses()] == [5, 7]
    assert shop.newest(checkout_id).seats == 7 and shop.subscription(checkout_id).seats == 7
    assert len(_stripe_reads(shop.fake, f"/v1/subscriptions/{sub_id}")) == reads + 3  # the slow one read twice


def test_concurrent_syncs_that_read_the_same_answer_issue_once(subscribed: tuple[Shop, str, str]) -> None:
    shop, checkout_id, sub_id = subscribed
    shop.fake.portal_update(sub_id, quantity=12)
    hold = shop.fake.hold(f"/v1/subscriptions/{sub_id}")
    reads = len(_stripe_reads(shop.fake, f"/v1/subscriptions/{sub_id}"))
    results: list[Any] = []
    slow = threading.Thread(target=lambda: results.append(sync_subscription(shop.runtime, sub_id)))
    slow.start()
    try:
        assert hold.wait_arrived()
        quick = sync_subscription(shop.runtime, sub_id)  # the same answer, applied first
    finally:
        hold.release()
        slow.join(60)
    [late] = results
    assert quick.issued_now and not late.issued_now and late.license.id == quick.license.id
    assert [lic.seats for lic in shop.licenses()] == [5, 12] and shop.newest(checkout_id).seats == 12
    # The slow one found applied what it had read: it applied it (a no-op) without reading Stripe again.
    assert len(_stripe_reads(shop.fake, f"/v1/subscriptions/{sub_id}")) == reads + 2
