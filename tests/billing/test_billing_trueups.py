"""SPEC section 8's true-up on a self-serve subscription, against the fake Stripe: a usage report over the
seats raises the subscription's quantity to the peak (prorated, invoiced at once) from the background
loop, never lowers it, is retried when Stripe fails, and the webhook that follows issues the line's next
license with the new seats, still bound to the installation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from airgaptools import DAY, day_start
from billing_testkit import RecordingMailer, Shop
from sqlalchemy import select

from billing.events import StripeEventTask
from billing.trueups import TrueUpTask
from licensing.airgap import InstallationKey, activation_request, usage_report
from licensing.context import Runtime
from licensing.installs.activation import activate
from licensing.installs.usage import accept_usage_report
from licensing.mail.outbox import OutboxTask
from licensing.models import License, TrueUp
from service.worker import Worker


@pytest.fixture
def worker(runtime: Runtime, mailer: RecordingMailer) -> Worker:
    return Worker(runtime, [StripeEventTask(), TrueUpTask(), OutboxTask(mailer)])  # type: ignore[arg-type]


def _bound(shop: Shop, seats: int) -> tuple[str, InstallationKey, License]:
    bought = shop.buy(seats=seats, email="it@trueup-4f1a.example", company="Trueup")
    shop.process()
    paid = shop.newest(bought.checkout_id)
    key = InstallationKey.generate()
    with shop.session() as session:
        bound = activate(
            session, shop.runtime.core, activation_request(key, "srv-1", license_text=paid.license_file), actor="test"
        )
        session.expunge(bound)
    return bought.checkout_id, key, bound


def _report(shop: Shop, key: InstallationKey, lic: License, seq: int, prev: str | None, peak: int) -> Any:
    start = day_start(shop.runtime.core.now()) - (20 - seq) * DAY
    text = usage_report(
        key,
        license_id=lic.id,
        installation_id="srv-1",
        seq=seq,
        prev=prev,
        period_start=start,
        period_end=start + DAY,
        daily=[(start, peak)],
    )
    with shop.session() as session:
        return text, accept_usage_report(session, shop.runtime.core, text, actor="test")


def _true_ups(shop: Shop) -> list[TrueUp]:
    with shop.session() as session:
        rows = list(session.scalars(select(TrueUp).order_by(TrueUp.id)))
        for row in rows:
            session.expunge(row)
        return rows


def _quantity(shop: Shop, checkout_id: str) -> int:
    sub = shop.fake.get(shop.stripe_subscription(checkout_id))
    return int(sub["items"]["data"][0]["quantity"])


def test_a_report_over_the_seats_raises_the_subscription_and_the_next_license_follows(shop: Shop) -> None:
    checkout_id, key, bound = _bound(shop, seats=5)
    _text, accepted = _report(shop, key, bound, 1, None, peak=9)
    assert accepted.overage == 4 and accepted.seats == 5
    [pending] = _true_ups(shop)
    assert (pending.status, pending.seats_before, pending.peak_users, pending.overage) == ("pending", 5, 9, 4)
    assert pending.subscription_id == shop.subscription(checkout_id).id
    assert _quantity(shop, checkout_id) == 5  # nothing in the request: the loop does it
    # Stripe fails once: retried later, nothing changed meanwhile.
    shop.fake.inject_failure(500, path_prefix="/v1/subscriptions/")
    shop.process()
    [failed_once] = _true_ups(shop)
    assert failed_once.status == "pending" and failed_once.attempts == 1 and failed_once.last_error
    assert _quantity(shop, checkout_id) == 5
    shop.fake.advance(seconds=31)
    shop.process()  # the true-up raises the quantity; Stripe's webhooks about it go out meanwhile
    shop.process()  # and are processed: the license with the new seats
    [raised] = _true_ups(shop)
    assert raised.status == "raised" and raised.completed_at is not None, raised.last_error
    assert _quantity(shop, checkout_id) == 9
    invoice = shop.fake.get(shop.fake.get(shop.stripe_subscription(checkout_id))["latest_invoice"])
    assert invoice["billing_reason"] == "subscription_update" and invoice["status"] == "paid"
    newest = shop.newest(checkout_id)
    assert newest.seats == 9 and newest.supersedes_id == bound.id
    assert (newest.installation_id, newest.cnf_jkt) == ("srv-1", key.thumbprint)


def test_a_report_never_lowers_the_seats(shop: Shop) -> None:
    checkout_id, key, bound = _bound(shop, seats=8)
    first, accepted = _report(shop, key, bound, 1, None, peak=3)
    assert accepted.overage == 0 and _true_ups(shop) == []
    # Over the seats, but the customer raised them in Stripe's portal meanwhile: left alone.
    from licensing.airgap import report_digest

    _second, over = _report(shop, key, bound, 2, report_digest(first), peak=10)
    assert over.overage == 2
    shop.fake.portal_update(shop.stripe_subscription(checkout_id), quantity=12)
    shop.process()
    [done] = _true_ups(shop)
    assert done.status == "raised" and done.outcome is not None and "already 12" in done.outcome
    assert _quantity(shop, checkout_id) == 12
    assert shop.newest(checkout_id).seats == 12


def test_a_true_up_given_up_is_failed(shop: Shop) -> None:
    checkout_id, key, bound = _bound(shop, seats=2)
    _report(shop, key, bound, 1, None, peak=4)
    with shop.session() as session:
        row = session.scalars(select(TrueUp)).one()
        row.attempts = 9  # the last attempt left
    shop.fake.inject_failure(500, path_prefix="/v1/subscriptions/")
    shop.process()
    [failed] = _true_ups(shop)
    assert failed.status == "failed" and failed.next_attempt_at is None and failed.last_error
    assert _quantity(shop, checkout_id) == 2
    shop.fake.advance(seconds=int(timedelta(hours=2).total_seconds()))
    shop.process()
    assert _true_ups(shop)[0].status == "failed"  # given up stays given up
