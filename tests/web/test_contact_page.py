"""The /contact page in headless Chromium: prefilled from the query, it records a contact request (a lead);
a refused trial on /trial links to it prefilled with what was typed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from test_trial_page import fill_trial_form

from licensing.models import Lead

if TYPE_CHECKING:
    from pagetools import LiveServer, Traffic

SHOTS = Path("/tmp/i16-leads-shots")


def _leads(live_server: LiveServer) -> list[Lead]:
    with live_server.app.state.sessionmaker() as session:
        return list(session.scalars(select(Lead).order_by(Lead.id)))


@pytest.mark.browser
def test_the_contact_page_records_a_lead(page: Page, traffic: Traffic, live_server: LiveServer) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.goto("/contact?interest=quote&email=ann%40acme.example&company=Acme&seats=40")
    expect(page).to_have_title("Contact sales")
    expect(page.get_by_label("Work e-mail")).to_have_value("ann@acme.example")
    expect(page.get_by_label("Company")).to_have_value("Acme")
    expect(page.get_by_label("Seats")).to_have_value("40")
    expect(page.get_by_label("What would you like?")).to_have_value("quote")
    page.screenshot(path=SHOTS / "contact.png", full_page=True)

    page.get_by_label("Message").fill("=cmd|' /C calc'!A0")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    [lead] = _leads(live_server)
    assert (lead.email, lead.interest, lead.seats, lead.kind) == ("ann@acme.example", "quote", 40, "mql")
    traffic.assert_clean()


@pytest.mark.browser
def test_a_refused_trial_offers_contact_prefilled(page: Page, traffic: Traffic, live_server: LiveServer) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.goto("/trial")
    fill_trial_form(page, email="a@refused.example", company="Refused Ltd", seats=10)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your trial has started")
    page.goto("/trial")
    fill_trial_form(page, email="b@refused.example", company="Refused Ltd", seats=10)
    link = page.locator("#contact-sales")
    expect(link).to_have_text("Ask sales for a longer trial")
    page.screenshot(path=SHOTS / "trial-refused.png", full_page=True)
    link.click()
    expect(page.get_by_label("Work e-mail")).to_have_value("b@refused.example")
    expect(page.get_by_label("Company")).to_have_value("Refused Ltd")
    expect(page.get_by_label("What would you like?")).to_have_value("trial_extension")
    assert [lead.outcome for lead in _leads(live_server)] == ["issued", "refused"]
    assert traffic.left_loopback == [] and traffic.page_errors == []  # the refusal is a 409 page
