"""Cross-site form posts: every form post on the pages carries a token signed for the visitor's own
CSRF cookie (double submit, HttpOnly, SameSite=Lax), and a post from another site (``Sec-Fetch-Site:
cross-site`` or a foreign ``Origin``) is refused with a 403 page in the layout, issuing nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi.testclient import TestClient
from livetools import serve_in_thread
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from licensing.context import Core
from licensing.kit.settings import Settings
from licensing.models import License

if TYPE_CHECKING:
    from pagetools import Forms, LiveServer

FORM = {"email": "ada@example.com", "company": "Example Ltd", "seats": "10", "accept_terms": "on"}
REFUSED_HEADING = "This form could not be sent"


def license_count(live_server: LiveServer) -> int:
    with live_server.app.state.sessionmaker() as session:
        return int(session.scalar(select(func.count()).select_from(License)) or 0)


def assert_refused_page(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert REFUSED_HEADING in response.text
    assert '<link rel="stylesheet" href="/static/site.css">' in response.text  # the layout, not JSON
    assert 'href="/trial"' in response.text  # the way back to the form
    assert "content-security-policy" in response.headers


def test_a_post_from_the_services_own_form_issues(live_server: LiveServer, forms: Forms) -> None:
    own = {"Origin": live_server.url, "Sec-Fetch-Site": "same-origin"}
    response = forms.post("/trial", FORM, headers=own)
    assert response.status_code == 201, response.text
    assert "Your trial has started" in response.text
    assert license_count(live_server) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://attacker.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:1"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://attacker.example"},
    ],
    ids=["foreign-origin", "null-origin", "sibling-origin", "sec-fetch-site", "both"],
)
def test_a_post_from_another_site_is_refused_even_with_a_valid_token(
    live_server: LiveServer, forms: Forms, headers: dict[str, str]
) -> None:
    assert_refused_page(forms.post("/trial", FORM, headers=headers))
    assert license_count(live_server) == 0


def test_a_post_without_a_token_is_refused(live_server: LiveServer, forms: Forms) -> None:
    forms.token("/trial")  # the visitor has the cookie, but the post carries no token
    assert_refused_page(forms.client.post("/trial", data=FORM))
    assert license_count(live_server) == 0


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "not a token at all"])
def test_a_post_with_a_wrong_token_is_refused(live_server: LiveServer, forms: Forms, token: str) -> None:
    forms.token("/trial")
    assert_refused_page(forms.client.post("/trial", data={**FORM, "csrf_token": token}))
    assert license_count(live_server) == 0


def test_a_token_is_good_only_with_its_own_cookie(live_server: LiveServer, forms: Forms) -> None:
    """An attacker's own token (fetched with the attacker's cookie) is worthless with the victim's cookie."""
    with httpx.Client(base_url=live_server.url) as attacker:
        stolen = re.search(r'name="csrf_token" value="([^"]+)"', attacker.get("/trial").text)
        assert stolen
    forms.token("/trial")  # the victim has a cookie of their own
    assert_refused_page(forms.client.post("/trial", data={**FORM, "csrf_token": stolen.group(1)}))
    # Without any cookie (a client that never saw the form) the token is refused too.
    assert_refused_page(httpx.post(f"{live_server.url}/trial", data={**FORM, "csrf_token": stolen.group(1)}))
    assert license_count(live_server) == 0


def csrf_cookie(response: httpx.Response) -> tuple[str, str]:
    [header] = [v for k, v in response.headers.multi_items() if k == "set-cookie" and "csrf" in v]
    return header, next(iter(SimpleCookie(header).values())).key


@pytest.mark.parametrize(
    ("public_url", "secure"), [("http://127.0.0.1:8000", False), ("https://licensing.example.net", True)]
)
def test_the_csrf_cookie(settings: Settings, core: Core, public_url: str, secure: bool) -> None:
    from api.app import create_app

    app = create_app(settings.model_copy(update={"public_url": public_url}), core=core)
    try:
        with TestClient(app, base_url=public_url) as client:
            page = client.get("/trial")
            header, name = csrf_cookie(page)
            attributes = {a.strip().lower() for a in header.split(";")[1:]}
            assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes
            assert ("secure" in attributes) is secure
            assert name.startswith("__Host-") is secure  # no Domain: the cookie is this host's alone
            assert not any(a.startswith("domain=") for a in attributes)
            assert page.headers["cache-control"] == "no-store"  # a page with a token is nobody else's
            # The visitor keeps the cookie: the next page load does not replace it.
            assert not [v for k, v in client.get("/trial").headers.multi_items() if k == "set-cookie"]
            # Pages without a form set no cookie.
            assert "set-cookie" not in client.get("/healthz").headers
    finally:
        app.state.engine.dispose()


# --- in the browser ---------------------------------------------------------------------------------
@pytest.fixture
def attacker_site(live_server: LiveServer) -> Iterator[str]:
    """Another site (http://localhost:port: a different host from 127.0.0.1, so cross-site) whose page
    holds a form that posts a trial request to the service."""
    fields = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in FORM.items())

    async def lure(_: Request) -> HTMLResponse:
        return HTMLResponse(
            f'<!doctype html><title>Win a prize</title><form method="post" action="{live_server.url}/trial">'
            f'{fields}<button id="claim">Claim your prize</button></form>'
        )

    with serve_in_thread(Starlette(routes=[Route("/", lure)])) as url:
        yield url.replace("127.0.0.1", "localhost")


@pytest.mark.browser
def test_a_cross_site_form_in_the_browser_is_refused(page: Page, live_server: LiveServer, attacker_site: str) -> None:
    page.goto("/trial")  # the victim has visited the service: the browser holds its CSRF cookie
    page.goto(attacker_site)
    page.locator("#claim").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(REFUSED_HEADING)
    assert page.url == f"{live_server.url}/trial"
    expect(page.get_by_role("link", name="Open the form again")).to_have_attribute("href", "/trial")
    page.screenshot(path="/tmp/pages-refused.png", full_page=True)
    assert license_count(live_server) == 0

    # The way back works: the service's own form, in the same browser, issues.
    page.get_by_role("link", name="Open the form again").click()
    page.get_by_label("Work e-mail").fill("ada@example.com")
    page.get_by_label("Company").fill("Example Ltd")
    page.get_by_label("I accept the trial terms").check()
    page.get_by_role("button", name="Start my trial").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your trial has started")
    assert license_count(live_server) == 1


@pytest.mark.browser
def test_the_trial_form_works_after_the_cookie_was_lost(page: Page, live_server: LiveServer) -> None:
    """A visitor whose cookie expired (or who cleared cookies) with the form open gets the 403 page,
    not a silent failure, and the form works again once reloaded."""
    page.goto("/trial")
    page.context.clear_cookies()
    page.get_by_label("Work e-mail").fill("ada@example.com")
    page.get_by_label("Company").fill("Example Ltd")
    page.get_by_label("I accept the trial terms").check()
    page.get_by_role("button", name="Start my trial").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(REFUSED_HEADING)
    expect(page.get_by_role("main")).to_contain_text("cookies")
    assert license_count(live_server) == 0
