"""/checkout/success (issue 14): rate limited like the other public pages, never cached, and the license
shown only for an hour after the checkout completed; later the page points to the customer portal and
says the license was e-mailed. The service's clock is the fake Stripe's, so moving it moves the page's."""

from __future__ import annotations

from typing import Any

from billing_testkit import Shop
from fakestripe import IBAN_SUCCEEDS, FakeStripe
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from licensing.context import Core
from licensing.kit.settings import Settings
from licensing.models import Checkout, License

SUCCESS = "/checkout/success"
PORTAL_LINK = 'id="portal-link" href="/portal"'
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


def test_the_license_is_shown_for_an_hour_never_cached_then_the_portal(shop: Shop) -> None:
    bought = shop.buy(seats=2)
    shop.process()  # the webhook fulfils: the checkout completed now
    lic = shop.newest(bought.checkout_id)
    with shop.session() as session:
        completed_at = session.get(Checkout, bought.checkout_id).completed_at  # type: ignore[union-attr]
    assert completed_at is not None

    before = len(shop.fake.requests)
    page = _visit(shop, bought.session_id)
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    assert lic.id in page.text and "-----BEGIN LICENSE FILE-----" in page.text and 'id="download"' in page.text
    assert shop.fake.requests[before:] == []  # fulfilled already: the page asks Stripe nothing

    shop.fake.freeze(completed_at)
    shop.fake.advance(seconds=59 * 60)
    assert "-----BEGIN LICENSE FILE-----" in _visit(shop, bought.session_id).text

    shop.fake.advance(seconds=2 * 60)  # more than an hour after the checkout completed
    late = _visit(shop, bought.session_id)
    assert late.status_code == 200, late.text
    assert late.headers["cache-control"] == "no-store"
    assert "BEGIN LICENSE FILE" not in late.text and 'id="download"' not in late.text
    assert lic.id not in late.text and "ada@acme.example" not in late.text  # nothing of the license, nor who bought
    assert 'id="license-elsewhere"' in late.text and PORTAL_LINK in late.text
    assert "e-mailed" in late.text
    assert shop.fake.requests[before:] == []


def test_a_late_first_visit_that_fulfils_shows_nothing_either(shop: Shop) -> None:
    """The webhooks never came and the buyer opens the page hours later: the page fulfils (the license is
    issued and mailed), but what it shows is the portal, an hour after the checkout completed."""
    shop.fake.webhooks.mode = "drop"
    bought = shop.buy(seats=3)
    first = _visit(shop, bought.session_id)  # fulfils: completed now
    assert "-----BEGIN LICENSE FILE-----" in first.text
    shop.fake.advance(hours=2)
    late = _visit(shop, bought.session_id)
    assert late.status_code == 200 and "BEGIN LICENSE FILE" not in late.text and PORTAL_LINK in late.text
