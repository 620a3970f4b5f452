"""POST /v1/checkout/sessions and fulfil_checkout: what is validated, what Stripe is asked for, and what
fulfilling a checkout answers in each state."""

from __future__ import annotations

from typing import Any

import pytest
from billing_testkit import PUBLIC_URL, Shop
from fakestripe import CARD_DECLINED, IBAN_SUCCEEDS
from fakestripe.hosted import submit_checkout
from fastapi.testclient import TestClient
from pydantic import SecretStr

from billing.checkout import fulfil_checkout
from licensing.kit.settings import Settings
from licensing.models import Checkout, Customer, License

PROBLEM = "application/problem+json"
CHECKOUT = "/v1/checkout/sessions"
GOOD = {"interval": "month", "seats": 5, "email": "ada@acme.example", "company": "Acme"}


def _problem(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].endswith(code)
    if field is not None:
        assert body.get("field") == field, body
    return body


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"seats": 0}, "invalid_seats", "seats"),
        ({"seats": -3}, "invalid_seats", "seats"),
        ({"seats": 100_001}, "invalid_seats", "seats"),
        ({"seats": 10**30}, "invalid_seats", "seats"),
        ({"interval": "week"}, "invalid_interval", "interval"),
        ({"interval": "Month"}, "invalid_interval", "interval"),
        ({"interval": ""}, "invalid_interval", "interval"),
        ({"email": "not-an-address"}, "invalid_email", "email"),
        ({"email": "ada@"}, "invalid_email", "email"),
        ({"email": ""}, "invalid_email", "email"),
        ({"email": "a" * 65 + "@acme.example"}, "invalid_email", "email"),
        ({"company": "   "}, "company_required", "company"),
    ],
)
def test_bad_choices_are_refused_with_problem_json(shop: Shop, change: dict[str, Any], code: str, field: str) -> None:
    response = shop.http.post(CHECKOUT, json={**GOOD, **change})
    _problem(response, 422, code, field)
    assert shop.count(Checkout) == 0
    assert not [r for r in shop.fake.requests if r.path == "/v1/checkout/sessions"]


@pytest.mark.parametrize(
    "body",
    [
        {**GOOD, "seats": "5"},  # strict: a number, not a string
        {**GOOD, "seats": 2.5},
        {**GOOD, "seats": None},
        {k: v for k, v in GOOD.items() if k != "interval"},
        {**GOOD, "coupon": "FREE"},
        {**GOOD, "email": "x" * 300 + "@acme.example"},
        {**GOOD, "company": "Acme\u202eevil"},
    ],
)
def test_malformed_requests_are_refused(shop: Shop, body: dict[str, Any]) -> None:
    _problem(shop.http.post(CHECKOUT, json=body), 422, "validation_error")
    assert shop.count(Checkout) == 0


def test_the_stripe_session_carries_our_id_the_price_times_seats_and_the_return_addresses(shop: Shop) -> None:
    response = shop.http.post(CHECKOUT, json={**GOOD, "interval": "year", "seats": 12, "email": "Ops@ACME.example"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "url", "poll_token"} and body["id"].startswith("chk_")
    assert body["url"].startswith(shop.fake.base_url + "/c/pay/cs_")
    with shop.session() as session:
        checkout = session.get(Checkout, body["id"])
        assert checkout is not None
        assert (checkout.email, checkout.company, checkout.seats, checkout.interval, checkout.status) == (
            "Ops@acme.example",
            "Acme",
            12,
            "year",
            "open",
        )
        stripe_id = checkout.stripe_session_id
    remote = shop.fake.get(stripe_id)
    assert remote["mode"] == "subscription"
    assert remote["client_reference_id"] == body["id"]
    assert remote["metadata"] == {"checkout_id": body["id"]}
    assert remote["customer_email"] == "Ops@acme.example"
    assert remote["success_url"] == f"{PUBLIC_URL}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}"
    assert remote["cancel_url"] == f"{PUBLIC_URL}/checkout/cancel?checkout={body['id']}"
    assert remote["amount_total"] == 12 * 10000
    [item] = shop.fake.session_line_items(stripe_id)
    assert item["quantity"] == 12
    assert shop.fake.get(item["price"]["id"] if isinstance(item["price"], dict) else item["price"])["lookup_key"] == (
        "professional_annual"
    )
    [create] = [r for r in shop.fake.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"]
    assert create.idempotency_key == f"{body['id']}-session"  # derived from our id
    paid = submit_checkout(body["url"])
    assert shop.fake.subscription_for_session(stripe_id)["metadata"] == {"checkout_id": body["id"]}  # type: ignore[index]
    assert paid.status_code == 303


def test_an_idempotency_key_replays_the_first_checkout(shop: Shop) -> None:
    headers = {"Idempotency-Key": "buy-once-1"}
    first = shop.http.post(CHECKOUT, json=GOOD, headers=headers)
    again = shop.http.post(CHECKOUT, json=GOOD, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["idempotent-replayed"] == "true"
    assert shop.count(Checkout) == 1
    _problem(shop.http.post(CHECKOUT, json={**GOOD, "seats": 6}, headers=headers), 409, "idempotency_conflict")


def test_a_checkout_from_the_page_form_is_audited_with_the_client_like_one_from_the_api(shop: Shop) -> None:
    import re

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from licensing.models import AuditEvent

    by_api = shop.http.post(CHECKOUT, json=GOOD)
    assert by_api.status_code == 201, by_api.text
    form = shop.http.get("/checkout")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    by_page = shop.http.post(
        "/checkout", data={**{k: str(v) for k, v in GOOD.items()}, "csrf_token": token[1]}, follow_redirects=False
    )
    assert by_page.status_code == 303, by_page.text

    with Session(shop.runtime.engine) as session:
        started = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "checkout.started").order_by(AuditEvent.id)
        ).all()
        checkouts = session.scalars(select(Checkout).order_by(Checkout.created_at, Checkout.id)).all()
        api_event, page_event = started
        assert api_event.subject_id == by_api.json()["id"]
        assert api_event.actor == "public:127.0.0.1"
        assert page_event.actor == api_event.actor  # not a bare "public": the client's address, as the API says
        assert {c.created_by for c in checkouts} == {"public:127.0.0.1"}


def test_checkout_is_rate_limited_like_the_other_public_posts(
    settings: Settings, core: Any, engine: Any, catalog_in_stripe: None
) -> None:
    from api.app import create_app

    app = create_app(settings.model_copy(update={"public_rate_limit": 2}), core=core, engine=engine)
    with TestClient(app) as client:
        statuses = [client.post(CHECKOUT, json=GOOD).status_code for _ in range(3)]
        assert statuses == [201, 201, 429]


def test_without_a_stripe_key_checkout_is_not_offered(settings: Settings, core: Any, engine: Any) -> None:
    from api.app import create_app

    app = create_app(settings.model_copy(update={"stripe_secret_key": None}), core=core, engine=engine)
    with TestClient(app) as client:
        body = _problem(client.post(CHECKOUT, json=GOOD), 404, "billing_disabled")
        assert "LICENSING_STRIPE_SECRET_KEY" in body["detail"]
        # The pages offer sales instead, before anyone fills in a form for nothing (SPEC 6).
        pricing = client.get("/pricing").text
        assert 'id="buy-from-sales" href="/contact?interest=quote"' in pricing and 'id="buy"' not in pricing
        checkout = client.get("/checkout").text
        assert 'id="checkout-unavailable"' in checkout and 'id="checkout-form"' not in checkout


def test_before_sync_catalog_checkout_says_what_the_operator_must_do(
    settings: Settings, core: Any, engine: Any, fake_stripe: Any
) -> None:
    from api.app import create_app

    with TestClient(create_app(settings, core=core, engine=engine)) as client:
        body = _problem(client.post(CHECKOUT, json=GOOD), 503, "checkout_unavailable")
        assert "sync-catalog" in body["detail"]


def test_stripe_down_is_a_503_and_stores_nothing(shop: Shop) -> None:
    shop.fake.inject_failure(500, path_prefix="/v1/checkout/sessions")
    _problem(shop.http.post(CHECKOUT, json=GOOD), 503, "stripe_unavailable")
    assert shop.count(Checkout) == 0


def test_a_wrong_stripe_key_is_a_503_not_a_leak(
    settings: Settings, core: Any, engine: Any, catalog_in_stripe: None
) -> None:
    from api.app import create_app

    wrong = settings.model_copy(update={"stripe_secret_key": SecretStr("sk_test_wrongwrongwrong0123456789")})
    with TestClient(create_app(wrong, core=core, engine=engine)) as client:
        body = _problem(client.post(CHECKOUT, json=GOOD), 503, "stripe_unavailable")
        assert "sk_test" not in body["detail"]


# --- fulfil_checkout ---------------------------------------------------------------------------------------
def _fulfil(shop: Shop, session_id: str) -> Any:
    return fulfil_checkout(shop.runtime, session_id)


def test_fulfil_answers_for_every_state_of_a_checkout(shop: Shop) -> None:
    shop.fake.webhooks.mode = "drop"  # only the success page fulfils here
    assert _fulfil(shop, "../../v1/customers").status == "unknown"
    # Not one of our checkouts: said from our rows alone, whether Stripe knows the session or not.
    assert _fulfil(shop, "cs_test_doesnotexist").status == "not_ours"
    foreign = shop.fake.create_checkout_session(
        line_items=[(next(iter(shop.fake.prices)), 1)], success_url="http://elsewhere.test/", cancel_url=None
    )
    assert _fulfil(shop, foreign["id"]).status == "not_ours"

    bought = shop.start(seats=3)
    assert _fulfil(shop, bought.session_id).status == "pending"  # still on Stripe's page
    assert submit_checkout(bought.url, card=CARD_DECLINED).status_code == 402
    assert _fulfil(shop, bought.session_id).status == "pending"
    assert submit_checkout(bought.url).status_code == 303

    done = _fulfil(shop, bought.session_id)
    assert done.status == "issued" and done.issued_now and done.checkout_id == bought.checkout_id
    assert done.license.seats == 3 and done.subscription.status == "active"
    assert done.license.license_file.startswith("-----BEGIN LICENSE FILE-----")
    again = _fulfil(shop, bought.session_id)
    assert again.status == "issued" and not again.issued_now and again.license.id == done.license.id
    assert shop.count(License) == 1 and shop.count(Customer) == 1


def test_fulfil_of_an_expired_or_async_checkout(shop: Shop) -> None:
    shop.fake.webhooks.mode = "drop"
    expired = shop.start()
    shop.fake.expire_session(expired.session_id)
    result = _fulfil(shop, expired.session_id)
    assert result.status == "failed" and "expired" in result.detail
    with shop.session() as session:
        assert session.get(Checkout, expired.checkout_id).status == "expired"  # type: ignore[union-attr]

    sepa = shop.buy(iban=IBAN_SUCCEEDS)
    assert _fulfil(shop, sepa.session_id).status == "pending"
    shop.fake.settle_async_payment(sepa.session_id)
    assert _fulfil(shop, sepa.session_id).status == "issued"


def test_fulfil_when_stripe_cannot_be_read_raises_and_writes_nothing(shop: Shop) -> None:
    from billing.client import StripeUnavailable

    shop.fake.webhooks.mode = "drop"
    bought = shop.buy()
    shop.fake.inject_failure(500, path_prefix="/v1/checkout/sessions")
    with pytest.raises(StripeUnavailable):
        _fulfil(shop, bought.session_id)
    assert shop.count(License) == 0 and shop.count(Customer) == 0
    assert _fulfil(shop, bought.session_id).status == "issued"


def test_by_default_checkout_adds_no_tax_and_the_pages_say_so(shop: Shop) -> None:
    response = shop.http.post(CHECKOUT, json=GOOD)
    assert response.status_code == 201, response.text
    [create] = [r for r in shop.fake.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"]
    assert not {"automatic_tax", "tax_id_collection", "billing_address_collection", "allow_promotion_codes"} & set(
        create.params
    )
    for page in ("/pricing", "/checkout"):
        assert "Prices in USD; no tax is added." in shop.http.get(page).text


def test_with_stripe_tax_checkout_collects_the_address_and_tax_ids_and_allows_codes(
    shop: Shop, settings: Settings, core: Any, engine: Any
) -> None:
    from api.app import create_app

    configured = settings.model_copy(update={"stripe_automatic_tax": True, "stripe_promotion_codes": True})
    with TestClient(create_app(configured, core=core, engine=engine)) as client:
        response = client.post(CHECKOUT, json=GOOD)
        assert response.status_code == 201, response.text
        for page in ("/pricing", "/checkout"):
            assert "Prices in USD; plus applicable tax, worked out at checkout." in client.get(page).text
    [create] = [r for r in shop.fake.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"]
    assert create.params["automatic_tax"] == {"enabled": "true"}
    assert create.params["billing_address_collection"] == "required"
    assert create.params["tax_id_collection"] == {"enabled": "true"}
    assert create.params["allow_promotion_codes"] == "true"
    with shop.session() as session:
        stripe_id = session.get(Checkout, response.json()["id"]).stripe_session_id  # type: ignore[union-attr]
    remote = shop.fake.get(stripe_id)
    assert remote["automatic_tax"]["enabled"] is True and remote["billing_address_collection"] == "required"
    assert remote["allow_promotion_codes"] is True
