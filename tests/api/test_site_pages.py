"""The buyer's pages without a browser (issue 16): what the pricing page says, the contact-sales links,
the terms and privacy links, no setting name shown to a buyer, and the 404 a browser gets (an HTML page)
against the one an API client gets (problem+json)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from api_testkit import check_problem
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from licensing.context import Core
from licensing.kit.settings import Settings

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
STRIPE_KEY = SecretStr("sk_test_pages_never_call_stripe")


@pytest.fixture(params=["selling", "not_selling"])
def site(request: pytest.FixtureRequest, settings: Settings, core: Core, engine: Engine) -> Iterator[TestClient]:
    """The service with a Stripe key (selling) and without one (sales sell)."""
    from api.app import create_app

    key = STRIPE_KEY if request.param == "selling" else None
    app = create_app(settings.model_copy(update={"stripe_secret_key": key}), core=core, engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _client(settings: Settings, core: Core, engine: Engine, **update: Any) -> TestClient:
    from api.app import create_app

    return TestClient(create_app(settings.model_copy(update=update), core=core, engine=engine))


def _links(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


def _flat(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, route) of every route, through FastAPI's included routers (kept apart since FastAPI 0.12x)."""
    for route in routes:
        if (inner := getattr(route, "original_router", None)) is not None:
            yield from _flat(inner.routes, prefix + route.include_context.prefix)
        else:
            yield prefix + getattr(route, "path", ""), route


def _public_pages(client: TestClient) -> list[str]:
    """Every page a buyer can open: the GET routes without a path parameter, outside the API."""
    paths = {
        path
        for path, route in _flat(client.app.routes)  # type: ignore[attr-defined]
        if isinstance(route, APIRoute)
        and "GET" in route.methods
        and "{" not in path
        and not path.startswith(("/v1/", "/.well-known/", "/healthz", "/readyz", "/metrics", "/openapi"))
    }
    return [
        *sorted(paths),
        "/checkout?trial=no-such-token",
        "/checkout/success?session_id=cs_test_unknown",
        "/checkout/success",
        "/no-such-page",
    ]


def test_no_setting_name_is_shown_to_a_buyer(site: TestClient) -> None:
    pages = _public_pages(site)
    assert {"/pricing", "/checkout", "/trial", "/free", "/terms", "/privacy"} <= set(pages)
    for path in pages:
        html = site.get(path, headers=HTML).text
        assert "LICENSING_" not in html, path


def test_the_free_card_leads_to_the_free_edition(site: TestClient) -> None:
    html = site.get("/pricing").text
    free = html[html.index('id="plan-free"') : html.index('id="plan-professional"')]
    assert 'href="/free"' in free and 'href="/trial"' not in free


def test_prices_name_their_currency_and_a_seat_is_explained(site: TestClient) -> None:
    html = site.get("/pricing").text
    assert re.search(r'id="price-month">\$10 USD<', html), html
    assert "$100 USD per user per year" in html
    seat = re.search(r'id="what-is-a-seat">(.*?)</p>', html, re.S)
    assert seat is not None and "user account that can sign in" in seat.group(1)
    checkout = site.get("/checkout").text
    if 'id="checkout-form"' in checkout:
        assert "$10 USD per user per month" in checkout and "$100 USD per user per year" in checkout


def test_the_pricing_page_answers_common_questions(site: TestClient) -> None:
    html = site.get("/pricing").text
    faq = html[html.index('id="faq"') :]
    for question in ("trial ends", "change the number of users", "renew", "cancel", "air-gapped", "tax", "refund"):
        assert question in faq.lower(), question


def test_without_stripe_buy_is_contact_sales(settings: Settings, core: Core, engine: Engine) -> None:
    with _client(settings, core, engine, stripe_secret_key=None) as client:
        pricing = client.get("/pricing").text
        assert 'id="buy"' not in pricing
        assert re.search(r'id="buy-from-sales" href="/contact\?interest=quote"', pricing), pricing
        checkout = client.get("/checkout").text
        assert 'id="checkout-form"' not in checkout and "<form" not in checkout
        assert "/contact?interest=quote" in _links(checkout)


def test_every_contact_sales_link_goes_to_the_contact_page(site: TestClient) -> None:
    for path in ("/pricing", "/checkout"):
        html = site.get(path).text
        for anchor in re.findall(r"<a [^>]*>[^<]*</a>", html):
            if "sales" in anchor.lower():
                assert 'href="/contact' in anchor, (path, anchor)
    assert 'href="/contact?interest=enterprise"' in site.get("/pricing").text


def test_forms_link_the_placeholder_terms_and_privacy_notice(site: TestClient) -> None:
    for path in ("/trial", "/free", "/checkout", "/pricing"):
        links = _links(site.get(path).text)
        assert "/terms" in links and "/privacy" in links, path
    for path, heading in (("/terms", "Terms"), ("/privacy", "Privacy")):
        response = site.get(path)
        assert response.status_code == 200
        assert heading in response.text and "not published" in response.text


def test_the_operators_own_terms_and_privacy_notice_are_linked(settings: Settings, core: Core, engine: Engine) -> None:
    terms, privacy = "https://vendor.example/legal/terms", "https://vendor.example/legal/privacy"
    with _client(settings, core, engine, terms_url=terms, privacy_url=privacy, stripe_secret_key=STRIPE_KEY) as client:
        for path in ("/trial", "/free", "/checkout"):
            links = _links(client.get(path).text)
            assert terms in links and privacy in links, path
            assert "/terms" not in links and "/privacy" not in links, path


def test_an_unknown_page_is_an_html_page_for_a_browser(client: Any) -> None:
    response = client.get("/no-such-page", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert 'class="site-header"' in response.text and 'id="not-found"' in response.text
    assert 'href="/pricing"' in response.text


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "application/problem+json"])
def test_an_unknown_page_is_a_problem_for_an_api_client(client: Any, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    check_problem(client.get("/no-such-page", headers=headers), 404, "not_found")


@pytest.mark.parametrize("path", ["/v1/no-such-thing", "/.well-known/no-such-thing"])
def test_unknown_api_paths_stay_problems_for_a_browser(client: Any, path: str) -> None:
    check_problem(client.get(path, headers=HTML), 404, "not_found")


def test_a_real_routes_404_and_a_405_stay_problems(client: Any, auth: dict[str, str]) -> None:
    check_problem(client.get("/v1/licenses/lic_nope", headers=auth), 404)
    check_problem(client.delete("/v1/revocations"), 405, "method_not_allowed")
    check_problem(client.delete("/v1/revocations", headers=HTML), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/checkout?seats=ten", "/contact?seats=" + "9" * 400])
def test_a_page_given_a_query_it_cannot_take_answers_a_page_to_a_browser(client: Any, path: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert 'class="site-header"' in response.text and "Invalid request" in response.text
    # An API client asking the same keeps problem+json.
    check_problem(client.get(path), 422, "validation_error")
