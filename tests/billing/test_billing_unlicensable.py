"""SPEC section 6, last row: only the catalog's price (by its lookup key) at a quantity inside the catalog's
seat range licenses anything. A subscription brought to quantity 0, above the range, or to a price that is
not the catalog's (another product's $0 price) gets nothing: its events are marked with the reason, the
reason is logged, and sales see it in the audit log (``subscription.unlicensable``). A renewal the operator's
own coupon pays in full, on the catalog's price, is licensed as any other."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from billing_testkit import Shop

from licensing.models import StripeEvent


@pytest.fixture
def reader(make_api_key: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_api_key('readonly', 'reader')}"}


def unlicensable_audit(shop: Shop, reader: dict[str, str]) -> list[dict[str, Any]]:
    response = shop.http.get("/v1/audit-events", params={"action": "subscription.unlicensable"}, headers=reader)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["data"]
    return events


def events_since(shop: Shop, seen: int) -> list[StripeEvent]:
    return shop.events()[seen:]


def test_quantity_zero_issues_nothing_and_renewals_do_not_renew(
    shop: Shop, reader: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    [first] = shop.licenses()
    mails = len(shop.mailer.sent)
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    sub = shop.subscription(bought.checkout_id)
    seen = len(shop.events())

    with caplog.at_level(logging.WARNING, logger="billing"):
        shop.fake.portal_update(stripe_sub, quantity=0)
        shop.process()
    assert [lic.id for lic in shop.licenses()] == [first.id]  # no 1-seat (or 0-seat) license
    assert shop.subscription(bought.checkout_id).seats == 0  # our record says what Stripe says
    assert len(shop.mailer.sent) == mails
    marked = events_since(shop, seen)
    assert marked and all(e.processed_at is not None and e.last_error is None for e in marked)
    assert all(e.outcome is not None and e.outcome.startswith("unlicensable:") for e in marked), [
        e.outcome for e in marked
    ]
    assert all("quantity 0" in (e.outcome or "") for e in marked)
    logged = [r for r in caplog.records if r.getMessage() == "billing.unlicensable"]
    assert logged and all(getattr(r, "subscription", None) == sub.id for r in logged)
    [audited] = unlicensable_audit(shop, reader)  # once, however many events said the same
    assert audited["subject_type"] == "subscription" and audited["subject_id"] == sub.id
    assert "quantity 0" in audited["data"]["reason"]
    assert audited["data"]["seats"] == 0 and audited["data"]["price_lookup_key"] == "professional_monthly"

    # The renewals of a subscription at quantity 0 renew nothing; each unpaid-for period is audited once.
    seen = len(shop.events())
    shop.fake.advance(days=31)
    shop.process()
    assert [lic.id for lic in shop.licenses()] == [first.id]
    assert len(shop.mailer.sent) == mails
    assert all((e.outcome or "").startswith("unlicensable:") for e in events_since(shop, seen))
    assert len(unlicensable_audit(shop, reader)) == 2

    # Back to a quantity in range: licensed again, from the period Stripe says is paid.
    shop.fake.portal_update(stripe_sub, quantity=4)
    shop.process()
    first_again, back = shop.licenses()
    assert first_again.id == first.id and back.supersedes_id == first.id and back.seats == 4
    assert back.expires_at == shop.subscription(bought.checkout_id).current_period_end


def test_another_products_free_price_at_500_seats_issues_nothing(shop: Shop, reader: dict[str, str]) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    [first] = shop.licenses()
    other = shop.fake.create_product("Stickers")
    free = shop.fake.create_price(product=other["id"], currency="usd", unit_amount=0, interval="month")
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    seen = len(shop.events())

    shop.fake.portal_update(stripe_sub, quantity=500, price=free["id"])
    shop.process()
    assert [lic.id for lic in shop.licenses()] == [first.id]  # no 500-seat Professional license
    sub = shop.subscription(bought.checkout_id)
    assert (sub.seats, sub.price_lookup_key) == (500, None)
    marked = events_since(shop, seen)
    assert marked and all((e.outcome or "").startswith("unlicensable:") for e in marked)
    assert all(free["id"] in (e.outcome or "") for e in marked)
    [audited] = unlicensable_audit(shop, reader)
    assert audited["subject_id"] == sub.id
    assert free["id"] in audited["data"]["reason"] and "not one of the catalog's prices" in audited["data"]["reason"]
    assert audited["data"]["price"] == free["id"] and audited["data"]["seats"] == 500

    shop.fake.advance(days=31)  # its renewals renew nothing either
    shop.process()
    assert [lic.id for lic in shop.licenses()] == [first.id]


def test_a_quantity_above_the_seat_range_issues_nothing(shop: Shop, reader: dict[str, str]) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    [first] = shop.licenses()
    maximum = shop.runtime.core.catalog.offer("professional").seats.maximum
    assert maximum is not None
    shop.fake.portal_update(shop.stripe_subscription(bought.checkout_id), quantity=maximum + 1)
    shop.process()
    assert [lic.id for lic in shop.licenses()] == [first.id]
    [audited] = unlicensable_audit(shop, reader)
    assert f"quantity {maximum + 1}" in audited["data"]["reason"]


def test_a_renewal_the_operators_coupon_pays_in_full_stays_licensed(shop: Shop, reader: dict[str, str]) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    [first] = shop.licenses()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    coupon = shop.fake.create_coupon(percent_off=100, duration="forever", name="Partner")
    shop.fake.apply_coupon(stripe_sub, coupon["id"])

    shop.fake.advance(days=31)
    shop.process()
    invoice = shop.fake.get(shop.fake.get(stripe_sub)["latest_invoice"])
    assert (invoice["billing_reason"], invoice["status"], invoice["amount_paid"]) == ("subscription_cycle", "paid", 0)
    first_again, renewal = shop.licenses()
    assert first_again.id == first.id and renewal.supersedes_id == first.id and renewal.seats == 3
    assert renewal.expires_at == shop.subscription(bought.checkout_id).current_period_end
    assert shop.mailer.subjects()[-1] == "Your renewed Professional license"
    assert unlicensable_audit(shop, reader) == []


def test_the_success_page_says_nothing_was_issued_for_an_unlicensable_subscription(shop: Shop) -> None:
    bought = shop.buy(seats=3)
    shop.fake.portal_update(shop.fake.subscription_for_session(bought.session_id)["id"], quantity=0)  # type: ignore[index]
    page = shop.http.get("/checkout/success", params={"session_id": bought.session_id})
    assert page.status_code == 409, page.text
    assert "nothing was issued" in page.text and "sales" in page.text
    assert shop.licenses() == []
