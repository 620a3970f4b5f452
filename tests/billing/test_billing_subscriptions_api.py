"""GET /v1/subscriptions and /v1/subscriptions/{id} for sales ops: what Stripe says, the license line and
its newest license, filtered and paged like licenses, behind an API key."""

from __future__ import annotations

from typing import Any

import pytest
from billing_testkit import Shop


@pytest.fixture
def reader(make_api_key: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_api_key('readonly', 'reader')}"}


def test_a_subscription_as_sales_ops_see_it(shop: Shop, reader: dict[str, str]) -> None:
    bought = shop.buy(seats=6, interval="year")
    shop.process()
    sub = shop.subscription(bought.checkout_id)
    [lic] = shop.licenses()

    response = shop.http.get(f"/v1/subscriptions/{sub.id}", headers=reader)
    assert response.status_code == 200, response.text
    body = response.json()
    stripe_sub = shop.fake.get(sub.stripe_subscription_id)
    assert body["id"] == sub.id and body["checkout_id"] == bought.checkout_id
    assert (body["status"], body["seats"], body["interval"], body["price_lookup_key"]) == (
        "active",
        6,
        "year",
        "professional_annual",
    )
    assert body["cancel_at_period_end"] is False and body["ended_at"] is None
    assert body["line_id"] == lic.id and body["license_id"] == lic.id
    assert body["stripe_subscription_id"] == stripe_sub["id"]
    assert body["stripe_customer_id"] == stripe_sub["customer"]
    assert body["customer_id"] == lic.customer_id
    assert body["current_period_end"].startswith(sub.current_period_end.strftime("%Y-%m-%dT%H:%M:%S"))

    # After a seat change the newest license of the line is the new one.
    shop.fake.portal_update(sub.stripe_subscription_id, quantity=9)
    shop.process()
    body = shop.http.get(f"/v1/subscriptions/{sub.id}", headers=reader).json()
    newest = shop.licenses()[-1]
    assert body["seats"] == 9 and body["license_id"] == newest.id != lic.id and body["line_id"] == lic.id


def test_list_filters_and_pages(shop: Shop, reader: dict[str, str]) -> None:
    bought = [shop.buy(seats=n, email=f"it@org{n}.example", company=f"Org {n}") for n in (1, 2, 3)]
    shop.process()
    shop.fake.cancel_subscription(shop.stripe_subscription(bought[0].checkout_id))
    shop.process()

    everything = shop.http.get("/v1/subscriptions", headers=reader).json()
    assert [s["seats"] for s in everything["data"]] == [3, 2, 1]  # newest first
    assert everything["next_cursor"] is None

    first = shop.http.get("/v1/subscriptions?limit=2", headers=reader).json()
    assert len(first["data"]) == 2 and first["next_cursor"] == first["data"][-1]["id"]
    rest = shop.http.get(f"/v1/subscriptions?limit=2&cursor={first['next_cursor']}", headers=reader).json()
    assert [s["seats"] for s in rest["data"]] == [1] and rest["next_cursor"] is None

    canceled = shop.http.get("/v1/subscriptions?status=canceled", headers=reader).json()["data"]
    assert [s["seats"] for s in canceled] == [1]
    customer = everything["data"][1]["customer_id"]
    mine = shop.http.get(f"/v1/subscriptions?customer_id={customer}", headers=reader).json()["data"]
    assert [s["seats"] for s in mine] == [2]
    bad = shop.http.get("/v1/subscriptions?status=sleeping", headers=reader)
    assert bad.status_code == 422
    assert shop.http.get("/v1/subscriptions?cursor=lic_x", headers=reader).json()["code"] == "invalid_cursor"


def test_subscriptions_need_an_api_key_and_unknown_ones_are_404(shop: Shop, reader: dict[str, str]) -> None:
    for path in ("/v1/subscriptions", "/v1/subscriptions/sub_nope"):
        response = shop.http.get(path)
        assert response.status_code == 401 and response.json()["code"] == "missing_api_key"
    missing = shop.http.get("/v1/subscriptions/sub_nope", headers=reader)
    assert missing.status_code == 404 and missing.json()["code"] == "subscription_not_found"
    assert missing.headers["content-type"].startswith("application/problem+json")
