"""The customer portal in a real browser, against the whole store (fake Stripe, SMTP on loopback, the
in-process worker): a buyer asks for a sign-in link, gets it by e-mail, presses Sign in, sees and
downloads her license (which licensing.verify accepts with the downloaded JWKS), the revocation list,
opens Stripe's billing portal and comes back, signs out; a used and an expired link are refused on a
clear page. Screenshots of every portal page go to /tmp/portal-*.png."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakestripe import FakeStripe
from mailtools import text_of
from pagetools import Store
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_checkout_flow import CARD_OK, _buy, _pay

from licensing.models import License, Subscription
from licensing.verify import Keyring, load_revocations, verify

SHOT = "/tmp/portal-{}.png"
BUYER = "pat@portal-3c4d.example"
SUBJECT = "Sign in to the customer portal"


@pytest.fixture
def portal_page(browser: Browser, store: Store) -> Iterator[Page]:
    context = browser.new_context(base_url=store.url, accept_downloads=True, viewport={"width": 1024, "height": 900})
    page = context.new_page()
    problems: list[str] = []

    # The refused-link pages answer 410 on purpose (Chromium reports it as a failed load), and the fake
    # Stripe's pages have no icon (Chromium asks for its /favicon.ico anyway).
    def on_console(message: ConsoleMessage) -> None:
        url = str(message.location.get("url", ""))
        expected = "status of 410" in message.text or (url.endswith("/favicon.ico") and not url.startswith(store.url))
        if message.type in {"error", "warning"} and not expected:
            problems.append(f"{message.text} at {url}")

    page.on("console", on_console)
    try:
        yield page
        assert problems == [], f"console errors or warnings: {problems}"
    finally:
        context.close()


def _request_link(page: Page, store: Store, address: str, already: int) -> str:
    page.goto("/portal")
    page.get_by_label("E-mail address").fill(address)
    page.locator("#send-link").click()
    expect(page.locator("#check-mail")).to_have_text("Check your e-mail")
    deadline = time.monotonic() + 30
    while len(mails := _mails(store, address)) <= already:
        assert time.monotonic() < deadline, "no sign-in e-mail within 30 s"
        time.sleep(0.1)
    links = re.findall(rf"{re.escape(store.url)}/portal/sign-in/\S+", text_of(mails[-1]))
    assert len(links) == 1
    html = mails[-1].get_body(("html",))
    assert html is not None and f'href="{links[0]}"' in str(html.get_content())
    return links[0]


def _mails(store: Store, address: str) -> list[EmailMessage]:
    return [m for m in store.inbox.to(address) if m["Subject"] == SUBJECT]


def _download(page: Page, selector: str) -> tuple[str, str]:
    with page.expect_download() as info:
        page.locator(selector).click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_text()


def test_the_portal_end_to_end(
    portal_page: Page, store: Store, keyring: Keyring, clock: Any, fake_stripe: FakeStripe
) -> None:
    page = portal_page
    _buy(page, 4, CARD_OK, BUYER)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your Professional license", timeout=30_000)
    with Session(store.app.state.engine) as session:
        lic = session.scalars(select(License)).one()
        sub = session.scalars(select(Subscription)).one()
    page.context.clear_cookies()  # later, in another session

    # The request form, then "check your mail".
    page.goto("/portal")
    expect(page.get_by_role("link", name="Portal")).to_have_attribute("aria-current", "page")
    page.screenshot(path=SHOT.format("request"), full_page=True)
    link = _request_link(page, store, BUYER, already=0)
    page.screenshot(path=SHOT.format("check-mail"), full_page=True)

    # The link shows a button; only pressing it signs in.
    page.goto(link)
    expect(page.locator("#sign-in")).to_be_visible()
    page.screenshot(path=SHOT.format("sign-in"), full_page=True)
    page.locator("#sign-in").click()
    expect(page.locator("#signed-in-as")).to_have_text(BUYER)
    card = page.locator(f"#license-{lic.id}")
    expect(card).to_contain_text("Professional")
    expect(card.locator("[data-status]")).to_have_text("Active")
    expect(page.locator(f"#subscription-{sub.id}")).to_contain_text("Professional, monthly")
    expect(page.locator(f"#subscription-{sub.id}")).to_contain_text("Next renewal")
    [invoice] = page.locator(f"#invoices-{sub.id} tbody tr").all()  # the first payment's, read from Stripe
    expect(invoice).to_contain_text("$40.00 USD")  # four seats at the catalog's $10
    page.screenshot(path=SHOT.format("dashboard"), full_page=True)

    # Downloads: the license, and what an air-gapped server needs to check it.
    name, text = _download(page, f"#download-{lic.id}")
    assert name == f"{lic.id}.lic" and verify(text, keyring).id == lic.id
    name, jwks = _download(page, "#download-jwks")
    assert name == "jwks.json"
    assert verify(text, Keyring.from_jwks(json.loads(jwks))).seats == 4  # the downloaded keys alone suffice
    name, revocations = _download(page, "#download-revocations")
    assert name == "revocations.lic"
    assert load_revocations(revocations, keyring) is not None

    # Stripe's billing portal: six seats instead of four, invoiced and paid at once; back, the new license
    # (once Stripe's webhooks are processed) and the proration's invoice.
    page.locator(f"#manage-billing-{sub.id}").click()
    expect(page.locator("#return-link")).to_be_visible(timeout=15_000)
    assert page.url.startswith(store.app.state.settings.stripe_api_base)
    page.screenshot(path=SHOT.format("stripe-billing-portal"), full_page=True)
    page.locator(f"#q-{sub.stripe_subscription_id}").fill("6")
    page.locator(f"#update-seats-{sub.stripe_subscription_id}").click()
    expect(page.locator(f"#{sub.stripe_subscription_id}")).to_contain_text("6 seat(s)")
    page.locator("#return-link").click()
    expect(page.locator("#signed-in-as")).to_have_text(BUYER)
    deadline = time.monotonic() + 30
    while page.locator(".license").count() < 2:
        assert time.monotonic() < deadline, "no license with the new seats within 30 s"
        time.sleep(0.2)
        page.reload()
    newest = page.locator(".license").first
    expect(newest.locator(".facts dd").first).to_have_text("6")
    expect(newest.locator(f'a[href="#license-{lic.id}"]')).to_be_visible()
    rows = page.locator(f"#invoices-{sub.id} tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first.locator("[data-status]")).to_have_text("Paid")
    expect(rows.first.get_by_role("link", name="PDF")).to_have_attribute("href", re.compile(r"/pdf$"))
    page.locator(f"#invoices-{sub.id}").scroll_into_view_if_needed()
    page.screenshot(path=SHOT.format("dashboard-invoices"), full_page=True)
    fake_stripe.inject_failure(500, path_prefix="/v1/invoices")  # Stripe failing: a plain note, the rest as usual
    page.reload()
    expect(page.locator("#invoices-note")).to_contain_text("could not be read from Stripe")
    expect(page.locator(f"#manage-billing-{sub.id}")).to_be_visible()
    page.screenshot(path=SHOT.format("dashboard-invoices-unavailable"), full_page=True)

    # Sign out: the form again.
    page.locator("#sign-out").click()
    expect(page.locator("#notice")).to_have_text("You have signed out.")
    expect(page.locator("#sign-in-request")).to_be_visible()
    page.goto("/portal")
    expect(page.locator("#sign-in-request")).to_be_visible()

    # The used link is refused on a clear page, with the form to ask for a new one.
    page.goto(link)
    expect(page.locator("#refused")).to_have_text("This sign-in link has already been used")
    expect(page.locator("#sign-in-request")).to_be_visible()
    page.screenshot(path=SHOT.format("used-link"), full_page=True)

    # An expired link too.
    later = _request_link(page, store, BUYER, already=1)
    clock.set(datetime.now(UTC) + timedelta(minutes=16))
    try:
        page.goto(later)
        expect(page.locator("#refused")).to_have_text("This sign-in link has expired")
        page.screenshot(path=SHOT.format("expired-link"), full_page=True)
    finally:
        clock.fixed = None


def test_a_trial_holder_buys_from_the_portal_and_her_server_gets_the_paid_license(
    portal_page: Page, store: Store, keyring: Keyring
) -> None:
    """SPEC 6: the trial's holder, proven by her portal session, buys from the trial's Buy button; the paid
    license replaces the trial, so her server's next refresh gets it."""
    page = portal_page
    holder = "tia@trial-6a7b.example"
    asked = httpx.post(
        f"{store.url}/v1/trials",
        json={"email": holder, "company": "Trial Co", "seats": 12, "accept_terms": True},
        timeout=30,
    )
    assert asked.status_code == 201, asked.text
    trial_id, trial_file = asked.json()["license"]["id"], asked.json()["license_file"]

    page.goto(_request_link(page, store, holder, already=0))
    page.locator("#sign-in").click()
    expect(page.locator(f"#trial-left-{trial_id}")).to_have_text("30 days left")
    page.screenshot(path=SHOT.format("trial"), full_page=True)
    page.locator(f"#buy-{trial_id}").click()

    expect(page.locator("#replaces-trial")).to_contain_text(trial_id)
    expect(page.get_by_label("Work e-mail")).to_have_value(holder)
    expect(page.get_by_label("Company")).to_have_value("Trial Co")
    expect(page.get_by_label(re.compile(r"^Users"))).to_have_value("12")
    page.screenshot(path=SHOT.format("buy-from-trial"), full_page=True)
    page.get_by_text("Monthly", exact=True).click()
    _pay(page, CARD_OK, "Tia Trial")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your Professional license", timeout=30_000)
    paid = verify(page.locator("#license-file").inner_text(), keyring)
    assert not paid.trial and paid.seats == 12 and paid.claims.get("supersedes") == trial_id

    refreshed = httpx.post(f"{store.url}/v1/licenses/refresh", json={"license_file": trial_file}, timeout=30)
    assert refreshed.status_code == 200 and refreshed.json()["changed"] is True
    assert verify(refreshed.json()["license_file"], keyring).id == paid.id
