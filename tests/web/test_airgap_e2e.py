"""SPEC section 8 end to end, in a real browser against the whole store (fake Stripe, SMTP on loopback, the
in-process worker), with a self-hosted "server" in its own process that has no network and only the
verifier library (tests/airgap_server.py):

1. a buyer pays for 5 seats of Professional through the fake Stripe; the server writes an activation
   request for the paid license; in the portal she uploads it and downloads the license bound to it;
2. the server records 30 days of users above its seats (up to 12) and exports a usage report; she uploads
   it and downloads the receipt, the overage explained;
3. the loop raises the Stripe subscription's quantity to 12 (prorated, invoiced at once), and the webhook
   that follows issues the renewal license with 12 seats, still bound to the server;
4. the portal's comparison page and the server itself say what installing it changes, and the server
   checks the receipt (``verify_receipt``).

Screenshots of every page go to /tmp/airgap-*.png."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakestripe import FakeStripe
from pagetools import Store
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_checkout_flow import CARD_OK, _buy
from test_portal_flow import _download, _request_link

from licensing.licenses.queries import newest_of_line
from licensing.models import License, Subscription, TrueUp

SHOT = "/tmp/airgap-{}.png"
BUYER = "ops@airgap-e2e-5b6c.example"
SERVER = Path(__file__).resolve().parents[1] / "airgap_server.py"
INSTALLATION = "srv-basement-7"


def server(directory: Path, *args: str) -> dict[str, Any]:
    """Run the server's process; its JSON answer."""
    done = subprocess.run(
        [sys.executable, str(SERVER), args[0], str(directory), *args[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


@pytest.fixture
def airgap_page(browser: Browser, store: Store) -> Iterator[Page]:
    context = browser.new_context(base_url=store.url, accept_downloads=True, viewport={"width": 1024, "height": 900})
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        url = str(message.location.get("url", ""))
        # Refusals answer 4xx on purpose (Chromium reports the status); the fake Stripe's pages have no icon.
        expected = "status of 4" in message.text or (url.endswith("/favicon.ico") and not url.startswith(store.url))
        if message.type in {"error", "warning"} and not expected:
            problems.append(f"{message.text} at {url}")

    page.on("console", on_console)
    try:
        yield page
        assert problems == [], f"console errors or warnings: {problems}"
    finally:
        context.close()


def _newest(store: Store, line_id: str) -> License:
    with Session(store.app.state.engine) as session:
        lic = newest_of_line(session, line_id)
        session.expunge(lic)
        return lic


def test_an_air_gapped_server_is_activated_reports_usage_and_gets_the_trued_up_license(
    airgap_page: Page, store: Store, fake_stripe: FakeStripe, tmp_path: Path
) -> None:
    page = airgap_page
    # 1. Bought: 5 seats; the server holds the paid license and the published keys.
    _buy(page, 5, CARD_OK, BUYER)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your Professional license", timeout=30_000)
    with Session(store.app.state.engine) as session:
        paid = session.scalars(select(License)).one()
        sub = session.scalars(select(Subscription)).one()
        session.expunge_all()
    (tmp_path / "license.lic").write_text(paid.license_file)
    (tmp_path / "jwks.json").write_text(page.request.get(f"{store.url}/.well-known/jwks.json").text())
    thumbprint = server(tmp_path, "activate", INSTALLATION)["thumbprint"]
    assert (tmp_path / "key.pem").stat().st_mode & 0o077 == 0

    page.context.clear_cookies()
    page.goto(_request_link(page, store, BUYER, already=0))
    page.locator("#sign-in").click()
    expect(page.locator("#signed-in-as")).to_have_text(BUYER)
    page.locator("#installations-link").click()
    expect(page.locator("#activate-form")).to_be_visible()
    page.screenshot(path=SHOT.format("installations"), full_page=True)

    # A file that is not a request: told on the page.
    page.locator("#request_text").fill("-----BEGIN LICENSE ACTIVATION REQUEST-----\nnot one\n")
    page.locator("#activate-submit").click()
    expect(page.locator("#error")).to_contain_text("not a valid activation request")
    page.screenshot(path=SHOT.format("activation-refused"), full_page=True)

    page.locator("#request_text").fill("")
    page.locator("#request_file").set_input_files(str(tmp_path / "request.lic"))
    page.locator("#activate-submit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Server activated")
    expect(page.locator("#bound-installation")).to_have_text(INSTALLATION)
    expect(page.locator("#bound-key")).to_have_text(thumbprint)
    expect(page.locator("#bound-seats")).to_have_text("5")
    page.screenshot(path=SHOT.format("activated"), full_page=True)
    name, bound_text = _download(page, "#download-bound")
    (tmp_path / "bound.lic").write_text(bound_text)
    with Session(store.app.state.engine) as session:
        bound = session.scalars(select(License).where(License.cnf_jkt == thumbprint)).one()
        session.expunge(bound)
    assert name == f"{bound.id}.lic" and bound.supersedes_id == paid.id and bound.subscription_id == sub.id

    # 2. A month of users above the seats, reported; the receipt downloaded.
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    counts = [(today - timedelta(days=30 - i), 6 + i % 7) for i in range(30)]  # 6..12 users a day
    exported = server(tmp_path, "report", INSTALLATION, json.dumps([[at.isoformat(), users] for at, users in counts]))
    assert exported["seq"] == 1
    page.goto("/portal/installations")
    page.locator("#report_file").set_input_files(str(tmp_path / "report.lic"))
    page.locator("#report-submit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage report received")
    expect(page.locator("#peak")).to_have_text("12")
    expect(page.locator("#seats")).to_have_text("5")
    expect(page.locator("#overage")).to_have_text("7")
    expect(page.locator("#overage-explained")).to_contain_text("raised to 12 users")
    page.screenshot(path=SHOT.format("receipt"), full_page=True)
    name, receipt = _download(page, "#download-receipt")
    assert name == "receipt-1.lic"
    (tmp_path / "receipt.lic").write_text(receipt)
    assert server(tmp_path, "receipt") == {"seq": 1, "overage": 7, "gap": False, "seats": 5, "peak_users": 12}

    # 3. The loop raises the subscription to the peak; Stripe's webhook brings the renewal license.
    deadline = time.monotonic() + 60
    while (newest := _newest(store, bound.line_id)).seats != 12:
        assert time.monotonic() < deadline, "no license with the peak's seats within 60 s"
        time.sleep(0.2)
    stripe_sub = fake_stripe.get(sub.stripe_subscription_id)
    assert stripe_sub["items"]["data"][0]["quantity"] == 12
    invoice = fake_stripe.get(stripe_sub["latest_invoice"])
    assert invoice["billing_reason"] == "subscription_update" and invoice["status"] == "paid"
    assert (newest.installation_id, newest.cnf_jkt, newest.supersedes_id) == (INSTALLATION, thumbprint, bound.id)
    with Session(store.app.state.engine) as session:
        [true_up] = session.scalars(select(TrueUp)).all()
        assert (true_up.status, true_up.seats_before, true_up.peak_users) == ("raised", 5, 12)

    # 4. What installing it changes: in the portal, and on the server itself.
    page.goto("/portal")
    expect(page.locator(f"#license-{newest.id} .facts dd").first).to_have_text("12")
    page.screenshot(path=SHOT.format("dashboard"), full_page=True)
    page.goto("/portal/installations")
    page.locator("#license_file").set_input_files(str(tmp_path / "bound.lic"))
    page.locator("#compare-submit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What the new license changes")
    expect(page.locator("#comparison-lines")).to_contain_text("seats: 5 -> 12")
    page.screenshot(path=SHOT.format("compare"), full_page=True)
    portal_lines = page.locator("#comparison-lines li").all_inner_texts()
    name, renewal = _download(page, "#download-newest")
    assert name == f"{newest.id}.lic"
    (tmp_path / "renewal.lic").write_text(renewal)
    on_server = server(tmp_path, "compare", INSTALLATION, "bound.lic", "renewal.lic")["lines"]
    assert on_server == portal_lines and "seats: 5 -> 12" in on_server
