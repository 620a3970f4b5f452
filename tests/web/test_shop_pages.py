"""/pricing and /checkout in a real browser: the catalog's offers and prices, the total updating as the
buyer types, one layout, nothing from another host."""

from __future__ import annotations

import re

import pytest
from pagetools import Traffic
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from licensing.catalog import load_catalog
from licensing.kit.settings import Settings

SHOTS = "/tmp/shop-shot-{}.png"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A service that sells (a Stripe key: these pages never call Stripe); without one, Buy is Contact sales."""
    return settings.model_copy(update={"stripe_secret_key": SecretStr("sk_test_pages_never_call_stripe")})


def test_pricing_shows_the_catalog(offline_page: Page, traffic: Traffic) -> None:
    page = offline_page
    page.goto("/pricing")
    expect(page.get_by_role("heading", level=1)).to_have_text("Plans for every team")
    for plan in ("Free", "Professional", "Enterprise"):
        expect(page.get_by_role("heading", name=plan, exact=True)).to_be_visible()
    expect(page.locator("#price-month")).to_have_text("$10 USD")
    # 12 x 10 = 120 a year monthly, against 100 annually: a 17% saving.
    expect(page.locator("#price-year")).to_contain_text("$100 USD per user per year: save 17%")
    expect(page.get_by_text("SAML single sign-on")).to_be_visible()
    expect(page.get_by_text("High-availability cluster")).to_be_visible()
    expect(page.locator("#contact-sales")).to_have_attribute("href", "/contact?interest=enterprise")
    expect(page.locator("#get-free")).to_have_attribute("href", "/free")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Pricing")).to_have_attribute(
        "aria-current", "page"
    )
    page.screenshot(path=SHOTS.format("pricing"), full_page=True)
    page.locator("#buy").click()
    expect(page).to_have_url(re.compile(r"/checkout$"))
    traffic.assert_clean()


def test_checkout_total_follows_seats_and_interval(offline_page: Page, traffic: Traffic) -> None:
    page = offline_page
    page.goto("/checkout?interval=month&seats=3")
    total = page.locator("#total")
    expect(total).to_have_text("$30.00 USD per month")
    page.get_by_label("Users (1 to 100,000)").fill("25")
    expect(total).to_have_text("$250.00 USD per month")
    page.get_by_text("Annual", exact=True).click()
    expect(total).to_have_text("$2,500.00 USD per year")
    page.get_by_label("Users (1 to 100,000)").fill("0")
    expect(total).to_contain_text("enter 1 to 100000 users")
    page.get_by_label("Users (1 to 100,000)").fill("12")
    page.get_by_label("Work e-mail").fill("buyer@shop-1a2b.example")
    page.get_by_label("Company").fill("Shop Ltd")
    page.screenshot(path=SHOTS.format("checkout"), full_page=True)
    traffic.assert_clean()


def test_the_prices_come_from_the_catalog() -> None:
    prices = {p.lookup_key: p.unit_amount for p in load_catalog().offer("professional").prices}
    assert prices == {"professional_monthly": 1000, "professional_annual": 10000}


def test_cancel_says_nothing_was_charged(offline_page: Page, traffic: Traffic) -> None:
    page = offline_page
    page.goto("/checkout/cancel?checkout=chk_x")
    expect(page.locator("#cancelled")).to_have_text("Your checkout was cancelled")
    expect(page.get_by_text("Nothing was charged and no license was issued.")).to_be_visible()
    page.locator("#retry").click()
    expect(page).to_have_url(re.compile(r"/checkout$"))
    traffic.assert_clean()


def test_a_buy_link_that_no_longer_works_says_so_and_leaves_the_form(offline_page: Page, traffic: Traffic) -> None:
    page = offline_page
    response = page.goto("/checkout?trial=tbl_" + "A" * 43)
    assert response is not None and response.status == 410
    expect(page.locator("#error")).to_contain_text("This buy link does not work any more")
    expect(page.locator("#replaces-trial")).to_have_count(0)
    expect(page.locator("#checkout-form")).to_be_visible()
    expect(page.locator("input[name=trial_token]")).to_have_count(0)
    page.screenshot(path=SHOTS.format("buy-link-gone"), full_page=True)
    # Chromium reports the 410 itself on the console; nothing else may be there.
    traffic.console = [c for c in traffic.console if "status of 410" not in c]
    traffic.assert_clean()
