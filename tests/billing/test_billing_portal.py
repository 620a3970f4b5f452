"""Stripe's billing portal opened with the service's own configuration (``sync-catalog`` makes it): a seat
or interval change there is invoiced and paid at once, and the service's sync issues the new license."""

from __future__ import annotations

import httpx
import pytest
from billing_testkit import PUBLIC_URL, Shop

from billing.client import StripeUnavailable
from billing.portal import INVOICES_SHOWN, billing_portal_url, invoices_of

RETURN = f"{PUBLIC_URL}/portal"


def _ours(shop: Shop) -> str:
    [config] = [c for c in shop.fake.portal_configurations.values() if c["metadata"].get("managed_by") == "licensing"]
    return str(config["id"])


def _open_portal(shop: Shop, checkout_id: str) -> str:
    sub = shop.subscription(checkout_id)
    return billing_portal_url(shop.runtime.core, sub.stripe_customer_id, RETURN)


def test_the_billing_portal_is_opened_with_our_configuration(shop: Shop) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    url = _open_portal(shop, bought.checkout_id)
    [call] = [r for r in shop.fake.requests if r.path == "/v1/billing_portal/sessions"]
    assert call.params["configuration"] == _ours(shop)
    assert call.params["customer"] == shop.subscription(bought.checkout_id).stripe_customer_id
    assert call.params["return_url"] == RETURN
    page = httpx.get(url, timeout=15).text
    assert "Update seats" in page and "Invoice history" in page and "Cancel plan" in page


def test_without_our_configuration_the_accounts_default_one_is_used(shop: Shop) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    shop.fake.update_portal_configuration(_ours(shop), {"active": False})  # switched off in the dashboard
    assert _open_portal(shop, bought.checkout_id).startswith(shop.fake.base_url)
    [call] = [r for r in shop.fake.requests if r.path == "/v1/billing_portal/sessions"]
    assert "configuration" not in call.params


def test_a_seat_change_in_the_billing_portal_is_invoiced_at_once_and_issues_a_license_with_the_new_seats(
    shop: Shop,
) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    url = _open_portal(shop, bought.checkout_id)

    changed = httpx.post(f"{url}/subscriptions/{stripe_sub}/quantity", data={"quantity": "8"}, timeout=15)
    assert changed.status_code == 303, changed.text
    invoice = shop.fake.get(shop.fake.get(stripe_sub)["latest_invoice"])
    assert invoice["billing_reason"] == "subscription_update" and invoice["status"] == "paid"
    assert invoice["amount_paid"] > 0  # five more seats for the rest of the month, charged now
    kinds = [e["type"] for e in shop.fake.events_of() if e["type"].startswith(("invoice.", "customer.subscription."))]
    assert kinds[-5:] == [
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]

    shop.process()
    first, updated = shop.licenses()
    assert (first.seats, updated.seats) == (3, 8)
    assert updated.supersedes_id == first.id and updated.expires_at == first.expires_at
    assert shop.subscription(bought.checkout_id).seats == 8
    assert shop.mailer.subjects()[-1] == "Your updated Professional license"


def test_an_interval_switch_in_the_billing_portal_issues_a_license_for_the_annual_period(shop: Shop) -> None:
    bought = shop.buy(seats=4)
    shop.process()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    annual = next(p for p in shop.fake.prices.values() if p["lookup_key"] == "professional_annual")
    url = _open_portal(shop, bought.checkout_id)
    assert annual["id"] in httpx.get(url, timeout=15).text
    switched = httpx.post(f"{url}/subscriptions/{stripe_sub}/price", data={"price": annual["id"]}, timeout=15)
    assert switched.status_code == 303, switched.text
    shop.process()
    first, annual_license = shop.licenses()
    assert annual_license.seats == 4 and annual_license.supersedes_id == first.id
    assert first.expires_at is not None and annual_license.expires_at is not None
    assert (annual_license.expires_at - first.expires_at).days > 300
    assert shop.subscription(bought.checkout_id).interval == "year"


def test_seats_outside_the_catalogs_range_are_refused_by_the_billing_portal(shop: Shop) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    url = _open_portal(shop, bought.checkout_id)
    refused = httpx.post(f"{url}/subscriptions/{stripe_sub}/quantity", data={"quantity": "0"}, timeout=15)
    assert refused.status_code == 400
    shop.process()
    assert len(shop.licenses()) == 1


def test_a_subscriptions_invoices_are_read_from_stripe_newest_first_and_bounded(shop: Shop) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.portal_update(stripe_sub, quantity=5)
    core = shop.runtime.core

    found = invoices_of(core, [stripe_sub])
    first, second = shop.fake.ordered(shop.fake.invoices)[::-1]
    newest = found[stripe_sub][0]
    assert [i.id for i in found[stripe_sub]] == [second["id"], first["id"]]
    assert newest.number == second["number"] and newest.status == "paid"
    assert (newest.total, newest.currency) == (second["total"], "usd")
    assert newest.hosted_invoice_url == second["hosted_invoice_url"] and newest.invoice_pdf == second["invoice_pdf"]
    assert newest.created.timestamp() == second["created"]
    [call, *_] = [r for r in shop.fake.requests if r.path == "/v1/invoices"]
    assert call.params["subscription"] == stripe_sub and call.params["limit"] == str(INVOICES_SHOWN)
    assert INVOICES_SHOWN == 12
    assert [i.id for i in invoices_of(core, [stripe_sub], limit=1)[stripe_sub]] == [second["id"]]

    shop.fake.inject_failure(500, path_prefix="/v1/invoices")
    with pytest.raises(StripeUnavailable):
        invoices_of(core, [stripe_sub])
