"""Self-serve requests confirmed by e-mail, in headless Chromium: /trial and /free answer "check your
mail", the link arrives over SMTP, its page shows what will be issued and a Confirm button, pressing it
shows the license (verifiable) and mails it; a used, an expired and an unknown link get clear pages;
cross-site posts are refused. Screenshots go to /tmp/selfserve-*.png."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from mailtools import text_of
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from licensing.models import License, OutboxMessage
from licensing.verify import Keyring, verify

if TYPE_CHECKING:
    from pagetools import LiveServer, Store, Traffic

LINK = re.compile(r"https?://\S+/confirm/ssc_[A-Za-z0-9_-]+")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SHOTS = "/tmp/selfserve-{}.png"


@pytest.fixture
def self_serve_confirmation() -> str:
    return "email"


def _store_page(browser: Browser, store: Store) -> Any:
    context = browser.new_context(base_url=store.url, accept_downloads=True, viewport={"width": 1024, "height": 900})
    return context


def _link_in(mail: EmailMessage) -> str:
    match = LINK.search(text_of(mail))
    assert match, text_of(mail)
    return match.group(0)


def _licenses(app: Any) -> int:
    with app.state.sessionmaker() as session:
        return int(session.scalar(select(func.count()).select_from(License)) or 0)


@pytest.mark.browser
def test_trial_request_confirmed_through_the_mailed_link(browser: Browser, store: Store, keyring: Keyring) -> None:
    context = _store_page(browser, store)
    page = context.new_page()
    try:
        page.goto("/trial")
        page.screenshot(path=SHOTS.format("trial"), full_page=True)
        page.get_by_label("Work e-mail").fill("ada@confirm.example")
        page.get_by_label("Company").fill("Confirm Ltd")
        page.get_by_label("Seats").fill("12")
        page.get_by_label("I accept the trial terms").check()
        page.get_by_role("button", name="Start my trial").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your mail")
        expect(page.locator("#email")).to_have_text("ada@confirm.example")
        page.screenshot(path=SHOTS.format("check-mail"), full_page=True)
        assert _licenses(store.app) == 0

        mail = store.inbox.wait_for(lambda m: m["Subject"] == "Confirm your Professional trial request")
        assert mail["To"] == "ada@confirm.example"
        assert mail.get_body(("html",)) is not None
        link = _link_in(mail)
        assert link.startswith(store.url + "/confirm/")

        page.goto(link)
        expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your request")
        expect(page.locator("#asked")).to_contain_text("Confirm Ltd")
        expect(page.locator("#asked")).to_contain_text("12")
        page.screenshot(path=SHOTS.format("confirm"), full_page=True)
        assert _licenses(store.app) == 0  # opening the link issues nothing

        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your trial has started")
        expect(page.locator("#download")).to_have_text("Download license file")
        page.screenshot(path=SHOTS.format("issued"), full_page=True)
        lic = verify(page.locator("#license-file").inner_text(), keyring)
        assert lic.trial and lic.seats == 12 and lic.customer["company"] == "Confirm Ltd"

        license_mail = store.inbox.wait_for(lambda m: m["Subject"] == "Your Professional trial license")
        [attachment] = list(license_mail.iter_attachments())
        assert attachment.get_filename() == f"{lic.id}.lic"
        assert verify(attachment.get_content(), keyring).id == lic.id

        page.goto(link)
        expect(page.get_by_role("heading", level=1)).to_have_text("This link was already used")
        expect(page.locator("#message")).to_contain_text("the license was mailed to you")
        expect(page.locator("#license-file")).to_have_count(0)
        page.screenshot(path=SHOTS.format("used"), full_page=True)
        assert _licenses(store.app) == 1
    finally:
        context.close()


@pytest.mark.browser
def test_free_license_page_and_confirmation_under_the_pages_policy(
    page: Page, traffic: Traffic, live_server: LiveServer, keyring: Keyring
) -> None:
    page.goto("/free")
    expect(page).to_have_title("Get a free license")
    expect(page.get_by_role("link", name="Free")).to_have_attribute("aria-current", "page")
    page.screenshot(path=SHOTS.format("free"), full_page=True)
    page.get_by_label("E-mail").fill("solo@free.example")
    page.get_by_label("Company").fill("Solo")
    page.get_by_role("button", name="Get my free license").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your mail")

    with live_server.app.state.sessionmaker() as session:
        [text] = session.scalars(select(OutboxMessage.text_body)).all()
    match = LINK.search(text)
    assert match
    page.goto(re.sub(r"^https?://[^/]+", "", match.group(0)))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your free license")
    page.screenshot(path=SHOTS.format("free-issued"), full_page=True)
    lic = verify(page.locator("#license-file").inner_text(), keyring)
    assert lic.tier == "free" and lic.expires_at is None
    traffic.assert_clean()


@pytest.mark.browser
def test_expired_and_unknown_links_get_clear_pages(page: Page, live_server: LiveServer, clock: Any, forms: Any) -> None:
    start = datetime.now(UTC)
    clock.set(start)
    response = forms.post("/free", {"email": "late@expired.example"})
    assert response.status_code == 202 and "Check your mail" in response.text
    with live_server.app.state.sessionmaker() as session:
        [text] = session.scalars(select(OutboxMessage.text_body)).all()
    match = LINK.search(text)
    assert match
    path = re.sub(r"^https?://[^/]+", "", match.group(0))
    clock.set(start + timedelta(hours=24, seconds=1))

    answer = page.goto(path)
    assert answer is not None and answer.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    expect(page.get_by_role("button", name="Confirm")).to_have_count(0)
    page.screenshot(path=SHOTS.format("expired"), full_page=True)

    answer = page.goto("/confirm/ssc_not-a-real-token")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("This link is not valid")
    page.screenshot(path=SHOTS.format("unknown"), full_page=True)
    assert _licenses(live_server.app) == 0


@pytest.mark.browser
def test_a_second_trial_of_an_organisation_confirmed_late_gets_the_refusal_page(
    page: Page, live_server: LiveServer, forms: Any
) -> None:
    """Two pending trial requests of one organisation: once one is confirmed, the other's Confirm is refused."""
    for address in ("first@twice-8d1e.example", "second@eu.twice-8d1e.example"):
        answer = forms.post("/trial", {"email": address, "company": "Twice", "seats": "5", "accept_terms": "on"})
        assert answer.status_code == 202  # pending requests block nobody
    with live_server.app.state.sessionmaker() as session:
        texts = session.scalars(select(OutboxMessage.text_body).order_by(OutboxMessage.id)).all()
    first, second = (re.sub(r"^https?://[^/]+", "", m.group(0)) for m in (LINK.search(t) for t in texts) if m)

    page.goto(first)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your trial has started")

    page.goto(second)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This request cannot be confirmed")
    expect(page.locator("#message")).to_contain_text("A trial is no longer available for this organisation")
    expect(page.locator("#license-file")).to_have_count(0)
    page.screenshot(path=SHOTS.format("refused"), full_page=True)
    assert _licenses(live_server.app) == 1


@pytest.mark.parametrize("headers", [{"Origin": "http://attacker.example"}, {"Sec-Fetch-Site": "cross-site"}])
def test_cross_site_posts_to_confirm_and_free_are_refused(
    live_server: LiveServer, forms: Any, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    response = forms.post("/free", {"email": "victim@csrf.example"})
    assert response.status_code == 202
    with live_server.app.state.sessionmaker() as session:
        [text] = session.scalars(select(OutboxMessage.text_body)).all()
    match = LINK.search(text)
    assert match
    path = re.sub(r"^https?://[^/]+", "", match.group(0))

    with caplog.at_level(logging.WARNING, logger="licensing.api"):
        refused = forms.post(path, {}, headers=headers)
    assert refused.status_code == 403 and "This form could not be sent" in refused.text
    # The refusal is logged by the route's template: the link's secret stays out of the logs.
    [logged] = [r for r in caplog.records if r.getMessage() == "form_post.refused"]
    assert getattr(logged, "path", None) == "/confirm/{token}"
    assert path.rsplit("/", 1)[1] not in caplog.text
    refused_free = forms.post("/free", {"email": "other@csrf.example"}, headers=headers)
    assert refused_free.status_code == 403
    # Without the visitor's cookie and token, even from "the same site": refused too.
    with httpx.Client(base_url=live_server.url) as stranger:
        assert stranger.post(path, data={"csrf_token": "x"}).status_code == 403
    assert _licenses(live_server.app) == 0
    # The page itself carries the security headers.
    page = forms.client.get(path)
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
