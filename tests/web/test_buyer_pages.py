"""The buyer's pages in a real browser (issue 16): the pricing page's Free card, currency, seats and FAQ,
Contact sales without Stripe, the terms and privacy links and their placeholder pages, and the HTML 404."""

from __future__ import annotations

import re

import pytest
from pagetools import Traffic
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from licensing.kit.settings import Settings

SHOTS = "/tmp/site-shot-{}.png"


@pytest.fixture
def stripe_key() -> SecretStr | None:
    """A service that sells (a Stripe key: these pages never call Stripe); a test sets None for one that does not."""
    return SecretStr("sk_test_pages_never_call_stripe")


@pytest.fixture
def settings(settings: Settings, stripe_key: SecretStr | None) -> Settings:
    return settings.model_copy(update={"stripe_secret_key": stripe_key})


def test_pricing_names_the_currency_explains_seats_and_answers_questions(offline_page: Page, traffic: Traffic) -> None:
    page = offline_page
    page.goto("/pricing")
    expect(page.locator("#price-month")).to_have_text("$10 USD")
    expect(page.locator("#what-is-a-seat")).to_contain_text("one user account that can sign in")
    faq = page.locator("#faq")
    for question in (
        "What happens when the trial ends?",
        "Can I change the number of users later?",
        "How do renewal and cancellation work?",
        "Does it work offline or on an air-gapped network?",
        "Are taxes included?",
        "Can I get a refund?",
    ):
        expect(faq.get_by_text(question)).to_be_visible()
    expect(faq).to_contain_text("customer portal (Manage billing)")
    expect(page.locator("#buy")).to_be_visible()
    page.screenshot(path=SHOTS.format("pricing"), full_page=True)
    page.locator("#get-free").click()
    expect(page).to_have_url(re.compile(r"/free$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Get a free license")
    traffic.assert_clean()


@pytest.mark.parametrize("stripe_key", [None])
def test_without_stripe_buy_is_contact_sales(offline_page: Page, traffic: Traffic) -> None:
    page = offline_page
    page.goto("/pricing")
    expect(page.locator("#buy")).to_have_count(0)
    expect(page.locator("#buy-from-sales")).to_have_text("Contact sales")
    expect(page.locator("#buy-from-sales")).to_have_attribute("href", "/contact?interest=quote")
    expect(page.locator("#faq")).not_to_contain_text("Manage billing")
    page.screenshot(path=SHOTS.format("pricing-no-stripe"), full_page=True)
    page.goto("/checkout")
    expect(page.locator("form")).to_have_count(0)
    expect(page.locator("#contact-sales")).to_have_attribute("href", "/contact?interest=quote")
    page.screenshot(path=SHOTS.format("checkout-no-stripe"), full_page=True)
    traffic.assert_clean()


def test_forms_link_the_placeholder_terms_and_privacy_pages(offline_page: Page, traffic: Traffic) -> None:
    page = offline_page
    for path in ("/trial", "/free"):
        page.goto(path)
        expect(page.locator("#terms-link")).to_have_attribute("href", "/terms")
        expect(page.locator("#privacy-link")).to_have_attribute("href", "/privacy")
    page.screenshot(path=SHOTS.format("free-form"), full_page=True)
    page.goto("/checkout")
    expect(page.locator("#legal").get_by_role("link", name="terms of service")).to_have_attribute("href", "/terms")
    page.goto("/trial")
    page.screenshot(path=SHOTS.format("trial-form"), full_page=True)
    page.locator("#terms-link").click()
    expect(page).to_have_url(re.compile(r"/terms$"))
    expect(page.locator("#not-published")).to_contain_text("has not published its terms of service")
    page.screenshot(path=SHOTS.format("terms"), full_page=True)
    page.get_by_role("navigation", name="Legal").get_by_role("link", name="Privacy").click()
    expect(page).to_have_url(re.compile(r"/privacy$"))
    expect(page.locator("#not-published")).to_contain_text("has not published its privacy notice")
    expect(page.locator("body")).not_to_contain_text("LICENSING_")
    page.screenshot(path=SHOTS.format("privacy"), full_page=True)
    traffic.assert_clean()


def test_an_unknown_page_is_a_page_with_links_back(offline_page: Page, traffic: Traffic) -> None:
    page = offline_page
    response = page.goto("/pricing/enterprize")
    assert response is not None and response.status == 404
    expect(page.locator("#not-found")).to_have_text("This page does not exist")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.screenshot(path=SHOTS.format("404"), full_page=True)
    page.get_by_role("link", name="Pricing and plans").click()
    expect(page).to_have_url(re.compile(r"/pricing$"))
    # The 404 itself is reported on the console ("Failed to load resource"); nothing else is.
    assert [c for c in traffic.console if "404" not in c] == []
    traffic.console.clear()
    traffic.assert_clean()
