"""The /trial page in headless Chromium: the form issues a verifiable 30-day Professional trial,
the download link delivers the same file (a data: URL, which the pages' CSP leaves alone: it governs
what a page loads, not what it saves), and the trial rules show as errors on the form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from licensing.models import License
from licensing.verify import Keyring, verify

if TYPE_CHECKING:
    from pagetools import Forms, LiveServer, Traffic


def fill_trial_form(
    page: Page, *, email: str, company: str, seats: int | str, installation_id: str = "", accept_terms: bool = True
) -> None:
    page.get_by_label("Work e-mail").fill(email)
    page.get_by_label("Company").fill(company)
    page.get_by_label("Seats").fill(str(seats))
    page.get_by_label("Installation id").fill(installation_id)
    if accept_terms:
        page.get_by_label("I accept the trial terms").check()
    page.get_by_role("button", name="Start my trial").click()


def license_count(live_server: LiveServer) -> int:
    with live_server.app.state.sessionmaker() as session:
        return int(session.scalar(select(func.count()).select_from(License)) or 0)


@pytest.mark.browser
def test_trial_form_issues_a_verifiable_license(
    page: Page, traffic: Traffic, live_server: LiveServer, keyring: Keyring, tmp_path: Path
) -> None:
    page.goto("/trial")
    expect(page).to_have_title("Start a Professional trial")
    expect(page.get_by_role("heading", level=1)).to_have_text("Try Professional free for 30 days")
    expect(page.get_by_label("Seats")).to_have_value("250")
    expect(page.get_by_label("I accept the trial terms")).not_to_be_checked()
    page.screenshot(path=tmp_path / "trial-form.png", full_page=True)

    before = datetime.now(UTC).replace(microsecond=0)
    fill_trial_form(page, email="Ada@Example.com", company="Example Ltd", seats=42)

    expect(page.get_by_role("heading", level=1)).to_have_text("Your trial has started")
    after = datetime.now(UTC)
    page.screenshot(path=tmp_path / "trial-issued.png", full_page=True)

    license_text = page.locator("#license-file").inner_text()
    assert license_text.startswith("-----BEGIN LICENSE FILE-----\n")
    assert license_text.rstrip("\n").endswith("\n-----END LICENSE FILE-----")
    lic = verify(license_text, keyring)
    assert lic.status == "valid"
    assert lic.tier == "professional" and lic.trial is True and lic.seats == 42
    assert lic.has_feature("saml") and not lic.has_feature("cluster")
    assert lic.customer["email"].casefold() == "ada@example.com"
    assert lic.customer["company"] == "Example Ltd"
    assert before <= lic.issued_at <= after
    assert lic.expires_at == lic.issued_at + timedelta(days=30)

    expect(page.locator("#license-id")).to_have_text(lic.id)
    expect(page.locator("#expires-at")).to_have_text(lic.expires_at.strftime("%Y-%m-%d %H:%M UTC"))
    expect(page.get_by_text("Professional trial for 42 seats")).to_be_visible()

    download_link = page.locator("#download")
    expect(download_link).to_have_text("Download license file")
    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value
    assert download.suggested_filename == f"{lic.id}.lic"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_text(encoding="utf-8") == license_text
    assert verify(saved.read_text(encoding="utf-8"), keyring).id == lic.id

    with live_server.app.state.sessionmaker() as session:
        stored = session.get(License, lic.id)
        assert stored is not None and stored.source == "trial" and stored.license_file.strip() == license_text.strip()
    assert license_count(live_server) == 1
    # The layout, the form and the download ran under the pages' CSP: no violation, nothing off loopback.
    traffic.assert_clean()
    assert f"{live_server.url}/static/site.css" in traffic.requested


@pytest.mark.browser
def test_second_trial_for_the_same_organisation_is_refused_on_the_form(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    page.goto("/trial")
    fill_trial_form(page, email="ada@example.com", company="Example Ltd", seats=10)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your trial has started")

    # Same organisation: another address at the same domain, differently cased.
    page.goto("/trial")
    fill_trial_form(page, email="Bob@EXAMPLE.COM", company="Example Limited", seats=77)

    expect(page.get_by_role("alert")).to_contain_text("no longer available")
    expect(page.get_by_role("heading", level=1)).to_have_text("Try Professional free for 30 days")
    expect(page.get_by_label("Work e-mail")).to_have_value("Bob@EXAMPLE.COM")
    expect(page.get_by_label("Company")).to_have_value("Example Limited")
    expect(page.get_by_label("Seats")).to_have_value("77")
    expect(page.get_by_label("I accept the trial terms")).to_be_checked()
    expect(page.locator("#license-file")).to_have_count(0)
    page.screenshot(path=tmp_path / "trial-refused.png", full_page=True)
    assert license_count(live_server) == 1


@pytest.mark.browser
def test_terms_must_be_accepted(page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    page.goto("/trial")
    fill_trial_form(page, email="grace@example.org", company="Example Org", seats=5, accept_terms=False)

    expect(page.get_by_role("alert")).to_contain_text("Accept the terms")
    expect(page.get_by_label("Work e-mail")).to_have_value("grace@example.org")
    expect(page.get_by_label("Company")).to_have_value("Example Org")
    expect(page.get_by_label("Seats")).to_have_value("5")
    expect(page.get_by_label("I accept the trial terms")).not_to_be_checked()
    expect(page.locator("#license-file")).to_have_count(0)
    page.screenshot(path=tmp_path / "trial-terms.png", full_page=True)
    assert license_count(live_server) == 0

    # Ticking the box afterwards issues the trial: the refusal claimed nothing.
    fill_trial_form(page, email="grace@example.org", company="Example Org", seats=5)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your trial has started")
    assert license_count(live_server) == 1


@pytest.mark.browser
def test_second_trial_for_the_same_installation_is_refused(
    page: Page, live_server: LiveServer, keyring: Keyring
) -> None:
    page.goto("/trial")
    fill_trial_form(page, email="ada@example.com", company="Example Ltd", seats=10, installation_id="srv-01.prod")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your trial has started")
    lic = verify(page.locator("#license-file").inner_text(), keyring, installation_id="srv-01.prod")
    assert lic.trial is True

    # Another organisation, the same server.
    page.goto("/trial")
    fill_trial_form(page, email="carol@other.example", company="Other Co", seats=10, installation_id="srv-01.prod")
    expect(page.get_by_role("alert")).to_contain_text("no longer available")
    expect(page.get_by_label("Installation id")).to_have_value("srv-01.prod")
    assert license_count(live_server) == 1


@pytest.mark.browser
def test_browser_refuses_a_malformed_installation_id(page: Page, live_server: LiveServer) -> None:
    page.goto("/trial")
    fill_trial_form(page, email="ada@example.com", company="Example Ltd", seats=10, installation_id="my server")
    installation = page.get_by_label("Installation id")
    assert installation.evaluate("el => el.validity.patternMismatch") is True
    expect(page.get_by_role("heading", level=1)).to_have_text("Try Professional free for 30 days")
    expect(page.get_by_role("alert")).to_have_count(0)
    assert license_count(live_server) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("installation_id", "my server", "may contain only letters, digits"),
        ("seats", "lots", "whole number from 1 to 1000"),
        ("seats", "1001", "whole number from 1 to 1000"),
        ("seats", "²", "whole number from 1 to 1000"),
        ("seats", "9" * 5000, "whole number from 1 to 1000"),
    ],
)
def test_form_errors_the_browser_does_not_catch_are_explained_in_words(
    live_server: LiveServer, forms: Forms, field: str, value: str, message: str
) -> None:
    """What a client without HTML validation (or an older browser) gets back: plain words, fields kept."""
    form = {"email": "ada@example.com", "company": "Example Ltd", "seats": "10", "accept_terms": "on", field: value}
    response = forms.post("/trial", form)
    assert response.status_code == 422
    assert message in response.text
    assert "String should match" not in response.text and "Input should be" not in response.text
    assert f'value="{value}"' in response.text
    assert license_count(live_server) == 0
