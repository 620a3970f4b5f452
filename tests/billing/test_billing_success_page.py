"""/checkout/success (issue 14): rate limited like the other public pages, and never cached."""

from __future__ import annotations

from typing import Any

from billing_testkit import Shop
from fakestripe import IBAN_SUCCEEDS, FakeStripe
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from licensing.context import Core
from licensing.kit.settings import Settings
from licensing.models import License

SUCCESS = "/checkout/success"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _visit(shop: Shop, session_id: str) -> Any:
    return shop.http.get(SUCCESS, params={"session_id": session_id}, headers=BROWSER)


def test_the_success_page_is_rate_limited(
    settings: Settings, core: Core, engine: Engine, fake_stripe: FakeStripe
) -> None:
    from api.app import create_app

    app = create_app(settings.model_copy(update={"public_rate_limit": 2}), core=core, engine=engine)
    before = len(fake_stripe.requests)
    with TestClient(app, raise_server_exceptions=False) as client:
        answers = [
            client.get(SUCCESS, params={"session_id": f"cs_test_madeup{i:04d}"}, headers=BROWSER) for i in range(4)
        ]
    assert [a.status_code for a in answers] == [404, 404, 429, 429]
    refused = answers[2]
    assert refused.headers["content-type"].startswith("text/html") and "Too many requests" in refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert fake_stripe.requests[before:] == []


def test_the_page_showing_the_license_is_not_cached(shop: Shop) -> None:
    shop.fake.webhooks.mode = "drop"  # the page fulfils
    bought = shop.buy(seats=2)
    page = _visit(shop, bought.session_id)
    assert page.status_code == 200 and "-----BEGIN LICENSE FILE-----" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert shop.count(License) == 1


def test_every_answer_of_the_success_page_is_not_cached(shop: Shop) -> None:
    shop.fake.webhooks.mode = "drop"
    unknown = _visit(shop, "cs_test_nosuchsession0000")
    assert unknown.status_code == 404 and unknown.headers["cache-control"] == "no-store"
    sepa = shop.buy(iban=IBAN_SUCCEEDS)
    pending = _visit(shop, sepa.session_id)
    assert pending.status_code == 200 and 'id="pending"' in pending.text
    assert pending.headers["cache-control"] == "no-store"
    expired = shop.start()
    shop.fake.expire_session(expired.session_id)
    failed = _visit(shop, expired.session_id)
    assert failed.status_code == 409 and failed.headers["cache-control"] == "no-store"
