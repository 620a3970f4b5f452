"""The whole purchase in a real browser: pricing -> checkout -> the fake Stripe's hosted page -> pay ->
the success page shows a license that licensing.verify accepts, with the seats bought and the paid
period's end; the same license arrives by e-mail (aiosmtpd on loopback) from the in-process worker.
A declined card shows Stripe's message and issues nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from fakestripe import FakeStripe
from pagetools import Store
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.models import License, OutboxMessage, StripeEvent
from licensing.verify import Keyring, verify

SHOTS = "/tmp/shop-shot-{}.png"
CARD_OK, CARD_DECLINED = "4242 4242 4242 4242", "4000 0000 0000 0002"


@pytest.fixture
def shop_page(browser: Browser, store: Store) -> Iterator[Page]:
    context = browser.new_context(base_url=store.url, accept_downloads=True, viewport={"width": 1024, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def _licenses(store: Store) -> int:
    with Session(store.app.state.engine) as session:
        return int(session.scalar(select(func.count()).select_from(License)) or 0)


def _work_off(store: Store) -> None:
    """Every delivered webhook processed and every e-mail sent: the in-process worker stopped (its pass
    finished), then run here until nothing is due, and nothing left waiting (not even for a retry)."""
    worker = store.app.state.worker
    assert worker is not None
    worker.stop()
    worker.run_until_idle()
    with Session(store.app.state.engine) as session:
        events = session.execute(
            select(StripeEvent.event_id, StripeEvent.last_error).where(StripeEvent.processed_at.is_(None))
        ).all()
        mails = session.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.last_error).where(OutboxMessage.sent_at.is_(None))
        ).all()
    assert events == [] and mails == [], f"left unprocessed: {events}, unsent: {mails}"


def _buy(page: Page, seats: int, card: str, email_address: str, company: str = "Buyer Co") -> None:
    """From the pricing page to Stripe's hosted page, paid by ``card`` (a 3-D Secure card stops at the challenge)."""
    page.goto("/pricing")
    page.locator("#buy").click()
    page.get_by_text("Monthly", exact=True).click()
    page.get_by_label(re.compile(r"^Users")).fill(str(seats))
    expect(page.locator("#total")).to_have_text(f"${10 * seats}.00 USD per month")
    page.get_by_label("Work e-mail").fill(email_address)
    page.get_by_label("Company").fill(company)
    _pay(page, card, "Bea Buyer")


def _pay(page: Page, card: str, name: str) -> None:
    """Continue from our checkout form to Stripe's hosted page (the fake, on loopback) and pay by card."""
    page.locator("#pay").click()
    expect(page.locator("#payment-form")).to_be_visible()
    page.locator("#card_number").fill(card)
    page.locator("#card_expiry").fill("12 / 34")
    page.locator("#card_cvc").fill("123")
    page.locator("#name").fill(name)
    page.locator("#submit").click()


def test_buying_shows_the_license_and_mails_it(
    shop_page: Page, store: Store, keyring: Keyring, fake_stripe: FakeStripe
) -> None:
    page = shop_page
    page.goto("/pricing")
    page.screenshot(path=SHOTS.format("pricing-live"), full_page=True)
    _buy(page, 7, CARD_OK, "bea@buyer-5e6f.example")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your Professional license", timeout=30_000)
    page.screenshot(path=SHOTS.format("success"), full_page=True)
    shown = page.locator("#license-file").inner_text()
    lic = verify(shown, keyring)
    assert lic.tier == "professional" and not lic.trial and lic.seats == 7 and lic.has_feature("saml")
    assert lic.customer["email"] == "bea@buyer-5e6f.example" and lic.customer["company"] == "Buyer Co"
    # To the paid period's end as Stripe bills it (calendar months: 28 to 31 days), plus the professional grace.
    session_id = parse_qs(urlsplit(page.url).query)["session_id"][0]
    subscription = fake_stripe.subscription_for_session(session_id)
    assert subscription is not None
    assert lic.expires_at is not None
    assert lic.expires_at == datetime.fromtimestamp(subscription["items"]["data"][0]["current_period_end"], UTC)
    assert lic.grace_days == 10
    with page.expect_download() as download:
        page.locator("#download").click()
    assert download.value.suggested_filename == f"{lic.id}.lic"

    mail = store.inbox.wait_for(lambda m: any(p.get_filename() == f"{lic.id}.lic" for p in m.iter_attachments()))
    assert mail["To"] == "bea@buyer-5e6f.example"
    attachment = next(p for p in mail.iter_attachments() if p.get_filename() == f"{lic.id}.lic")
    assert (
        verify(
            attachment.get_content()
            if isinstance(attachment.get_content(), str)
            else attachment.get_content().decode(),
            keyring,
        ).id
        == lic.id
    )
    assert mail.get_body(("plain",)) is not None and mail.get_body(("html",)) is not None
    # The webhook and the success page both fulfilled: still one license, once the worker has nothing left.
    fake_stripe.webhooks.wait_idle()
    _work_off(store)
    assert _licenses(store) == 1


def test_a_declined_card_issues_nothing(shop_page: Page, store: Store) -> None:
    page = shop_page
    _buy(page, 3, CARD_DECLINED, "dee@declined-7a8b.example")
    expect(page.locator("#error")).to_contain_text("Your card was declined.")
    page.screenshot(path=SHOTS.format("declined"), full_page=True)
    page.locator("#cancel-link").click()
    expect(page.locator("#cancelled")).to_have_text("Your checkout was cancelled")
    page.screenshot(path=SHOTS.format("cancel"), full_page=True)
    assert _licenses(store) == 0


def test_the_checkout_form_refuses_bad_input_on_the_page(store: Store) -> None:
    import httpx

    with httpx.Client(base_url=store.url) as client:
        page = client.get("/checkout")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        for seats, interval, address, words in (
            ("0", "month", "a@bad-1c.example", "seats"),
            ("5", "fortnight", "a@bad-1c.example", "interval"),
            ("5", "month", "not-an-address", "e-mail address"),
        ):
            answer = client.post(
                "/checkout",
                data={"seats": seats, "interval": interval, "email": address, "company": "C", "csrf_token": token[1]},
            )
            assert answer.status_code == 422, answer.text
            assert 'role="alert"' in answer.text and words in answer.text.lower()
        assert client.get("/checkout/success", params={"session_id": "cs_test_nothing"}).status_code == 404
        assert client.get("/checkout/success").status_code == 404
    assert _licenses(store) == 0
