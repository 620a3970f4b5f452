"""The sales console in a real browser (Debian's headless Chromium) against a live server with SMTP on
loopback and the in-process worker: a staff member signs in through the e-mailed link, looks at leads and
an organisation (reassigns its owner), creates a customer (and meets the duplicate warning), issues an
Enterprise license with a custom feature through the preview, sends and downloads it, renews it through
the preview and revokes the line; subscriptions, the audit log and true-ups; a used link is refused; a
readonly member gets the 403 page. A screenshot of every console page goes to /tmp/console-*.png."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from billingrows import record_subscription
from fastapi import FastAPI
from livetools import serve_in_thread
from mailtools import Inbox, text_of
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from trueuptools import record_sales_true_up

from licensing.context import Core
from licensing.kit.db import transaction
from licensing.kit.settings import Settings
from licensing.leads.records import record_lead
from licensing.licenses.customers import create_customer
from licensing.licenses.issuance import IssueRequest, issue_license
from licensing.models import AuditEvent, License
from licensing.staff.members import add_member
from licensing.verify import Keyring, verify

SHOT = "/tmp/console-{}.png"
SALES = "sam@vendor-b7c4.example"
READER = "rita@vendor-b7c4.example"
SUBJECT = "Sign in to the sales console"

pytestmark = pytest.mark.browser


@dataclass
class Served:
    url: str
    app: FastAPI
    inbox: Inbox

    def session(self) -> Any:
        return transaction(self.app.state.sessionmaker)


@pytest.fixture
def served(settings: Settings, core: Core, inbox: Inbox) -> Iterator[Served]:
    from api.app import create_app

    configured = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": inbox.port,
            "mail_from": "licenses@vendor-b7c4.example",
            "worker_in_process": True,
        }
    )
    app = create_app(configured, core=core)
    try:
        with serve_in_thread(app) as url:
            public = configured.model_copy(update={"public_url": url})
            app.state.settings = app.state.runtime.core.settings = public
            yield Served(url, app, inbox)
    finally:
        app.state.engine.dispose()


@pytest.fixture
def world(served: Served, core: Core) -> dict[str, str]:
    now = datetime.now(UTC)
    with served.session() as session:
        add_member(session, core, SALES, "sales")
        add_member(session, core, READER, "readonly")
        customer = create_customer(
            session, core, "test", name="Grace Hopper", email="grace@navy-b7c4.example", company="Navy Labs"
        )
        lic = issue_license(
            session,
            core,
            IssueRequest(
                customer=customer,
                offer=core.catalog.offer_for("professional", False),
                actor="test",
                seats=10,
                duration_days=365,
            ),
        )
        record_lead(
            session, core, "test", email="hal@navy-b7c4.example", source="contact", interest="enterprise", seats=300
        )
        record_lead(session, core, "test", email="kay@parc-b7c4.example", source="trial", installation_id="srv-9")
        sub = record_subscription(
            session,
            customer_id=customer.id,
            email=customer.email,
            stripe_customer_id="cus_test_b7c4",
            stripe_subscription_id="sub_test_b7c4",
            status="active",
            current_period_end=now + timedelta(days=20),
        )
        record_sales_true_up(session, core, customer, now, seats=10, peak=14, installation_id="navy-srv-1")
        return {"customer": customer.id, "license": lic.id, "organisation": customer.organisation, "sub": sub.id}


def _new_page(browser: Browser, served: Served, problems: list[str]) -> Page:
    context = browser.new_context(base_url=served.url, accept_downloads=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        # The refusals (403, 409, 410, 422) are answered with their status on purpose: Chromium logs them.
        expected = re.search(r"status of (403|409|410|422)", message.text) is not None
        if message.type in {"error", "warning"} and not expected:
            problems.append(f"{message.text} at {message.location.get('url', '')}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page


def _link(served: Served, address: str, already: int) -> str:
    deadline = time.monotonic() + 30
    while len(mails := [m for m in served.inbox.to(address) if m["Subject"] == SUBJECT]) <= already:
        assert time.monotonic() < deadline, "no sign-in e-mail within 30 s"
        time.sleep(0.1)
    [link] = re.findall(rf"{re.escape(served.url)}/console/sign-in/\S+", text_of(mails[-1]))
    return link


def _sign_in(page: Page, served: Served, address: str, shots: bool = False) -> str:
    page.goto("/console")
    expect(page.locator("#send-link")).to_be_visible()
    if shots:
        page.screenshot(path=SHOT.format("sign-in"), full_page=True)
    page.locator("#email").fill(address)
    page.locator("#send-link").click()
    expect(page.locator("#check-mail")).to_have_text("Check your e-mail")
    if shots:
        page.screenshot(path=SHOT.format("check-mail"), full_page=True)
    link = _link(served, address, 0)
    page.goto(link)
    expect(page.locator("#sign-in")).to_be_visible()
    if shots:
        page.screenshot(path=SHOT.format("link"), full_page=True)
    page.locator("#sign-in").click()
    expect(page.locator("#signed-in-as")).to_have_text(address)
    return link


def _id_from(page: Page) -> str:
    match = re.search(r"/console/licenses/(lic_[0-9a-z]+)", page.url)
    assert match, page.url
    return match.group(1)


def test_the_console_end_to_end(
    browser: Browser, served: Served, world: dict[str, str], keyring: Keyring, tmp_path: Path
) -> None:
    problems: list[str] = []
    page = _new_page(browser, served, problems)
    link = _sign_in(page, served, SALES, shots=True)

    # Leads by organisation, then the organisation; its owner reassigned.
    expect(page.locator(f'[data-organisation="{world["organisation"]}"]')).to_be_visible()
    page.screenshot(path=SHOT.format("leads"), full_page=True)
    page.locator(f'a[href="/console/organisations/{world["organisation"]}"]').click()
    expect(page.locator("#organisation")).to_have_text(world["organisation"])
    page.locator("#new-owner").fill("kim@vendor-b7c4.example")
    page.locator("#reassign-owner").click()
    expect(page.locator("#owner")).to_have_text("kim@vendor-b7c4.example")
    expect(page.locator("#notice")).to_have_text("The owner is changed.")
    page.screenshot(path=SHOT.format("organisation"), full_page=True)

    # Customers: a new one, then the same address again (the duplicate warning).
    page.goto("/console/customers")
    page.screenshot(path=SHOT.format("customers"), full_page=True)
    page.locator("#new-customer").click()
    page.screenshot(path=SHOT.format("customer-new"), full_page=True)
    page.locator("#name").fill("Alan Turing")
    page.locator("#email").fill("alan@bletchley-b7c4.example")
    page.locator("#company").fill("Bletchley Park")
    page.locator("#create-customer").click()
    expect(page.locator("#customer-name")).to_have_text("Alan Turing")
    customer_url = page.url.split("?")[0]
    page.goto("/console/customers/new")
    page.locator("#name").fill("A. M. Turing")
    page.locator("#email").fill("alan@bletchley-b7c4.example")
    page.locator("#create-customer").click()
    expect(page.locator("#customer-exists")).to_be_visible()
    expect(page.locator("#name")).to_have_value("A. M. Turing")
    page.screenshot(path=SHOT.format("customer-exists"), full_page=True)
    page.locator("#existing-customer").click()
    assert page.url == customer_url
    page.screenshot(path=SHOT.format("customer"), full_page=True)

    # Issue an Enterprise license with a custom feature, through the preview; a typo'd seat count first.
    page.locator("#issue-license").click()
    page.locator("#tier").select_option("enterprise")
    page.locator("#seats").fill("two hundred")
    page.locator("#feature-cluster").check()
    page.locator("#custom_features").fill("custom_sso_bridge")
    page.locator("#duration_days").fill("365")
    page.locator("#installation_id").fill("srv-42")
    page.locator("#preview").click()
    expect(page.locator("#error-seats")).to_be_visible()
    expect(page.locator("#custom_features")).to_have_value("custom_sso_bridge")
    page.screenshot(path=SHOT.format("issue-error"), full_page=True)
    page.locator("#seats").fill("200")
    page.locator("#preview").click()
    expect(page.locator("#claims")).to_contain_text('"custom_sso_bridge"')
    expect(page.locator("#warnings")).to_contain_text("Custom features outside the catalog: custom_sso_bridge.")
    page.screenshot(path=SHOT.format("issue-preview"), full_page=True)
    page.locator("#sign").click()
    expect(page.locator("#notice")).to_have_text("The license is signed and issued.")
    issued = _id_from(page)
    page.screenshot(path=SHOT.format("license"), full_page=True)
    with served.session() as session:
        lic = session.get(License, issued)
        assert lic is not None and lic.tier == "enterprise" and lic.seats == 200
        assert "custom_sso_bridge" in lic.features and lic.created_by == f"staff:{SALES}"

    # Download it (a file the verifier accepts), and send it by e-mail to another address.
    with page.expect_download() as info:
        page.locator("#download").click()
    download = info.value
    assert download.suggested_filename == f"{issued}.lic"
    checked = verify(Path(download.path()).read_text(), keyring, installation_id="srv-42")
    assert "custom_sso_bridge" in checked.features
    page.locator("#send-to").fill("it@bletchley-b7c4.example")
    page.locator("#send").click()
    expect(page.locator("#notice")).to_have_text("The license file is queued to be e-mailed.")
    mail = served.inbox.wait_for(lambda m: m["To"] == "it@bletchley-b7c4.example")
    assert any(part.get_filename() == f"{issued}.lic" for part in mail.iter_attachments())

    # Renew through the preview: what changes against the line's newest license.
    page.locator("#renew").click()
    page.screenshot(path=SHOT.format("renew"), full_page=True)
    page.locator("#seats").fill("250")
    page.locator("#preview").click()
    expect(page.locator('#changes [data-claim="seats"]')).to_contain_text("250")
    # The same lines as `licensing verify --compare`, the libraries' compare() and the portal.
    expect(page.locator("#comparison")).to_contain_text("seats: 200 -> 250")
    page.screenshot(path=SHOT.format("renew-preview"), full_page=True)
    page.locator("#sign").click()
    expect(page.locator("#notice")).to_contain_text("The renewal is signed and issued")
    renewed = _id_from(page)
    assert renewed != issued
    expect(page.locator("#seats")).to_have_text("250")

    # Revoke the line, after the confirmation page.
    page.locator("#revoke").click()
    expect(page.locator("#line")).to_contain_text(issued)
    page.locator("#reason").fill("Contract cancelled")
    page.screenshot(path=SHOT.format("revoke"), full_page=True)
    page.locator("#confirm-revoke").click()
    expect(page.locator("#notice")).to_have_text("The line is revoked; the revocation list is signed again.")
    expect(page.locator("#revoked-reason")).to_contain_text("Contract cancelled")
    page.screenshot(path=SHOT.format("license-revoked"), full_page=True)

    # The lists and the rest.
    page.goto("/console/licenses?status=revoked")
    expect(page.locator(f'[data-license="{renewed}"]')).to_be_visible()
    page.screenshot(path=SHOT.format("licenses"), full_page=True)
    page.goto("/console/subscriptions")
    page.screenshot(path=SHOT.format("subscriptions"), full_page=True)
    page.locator(f'a[href="/console/subscriptions/{world["sub"]}"]').click()
    expect(page.locator("#subscription-id")).to_have_text(world["sub"])
    page.screenshot(path=SHOT.format("subscription"), full_page=True)
    page.goto("/console/audit")
    expect(page.locator('[data-action="license.revoked"]').first).to_be_visible()
    page.screenshot(path=SHOT.format("audit"), full_page=True)
    page.goto("/console/true-ups")
    expect(page.locator('#true-ups tr[data-status="recorded"]')).to_contain_text("navy-srv-1")
    page.screenshot(path=SHOT.format("true-ups"), full_page=True)
    with served.session() as session:
        actors = set(
            session.scalars(
                select(AuditEvent.actor).where(
                    AuditEvent.action.in_(
                        [
                            "customer.created",
                            "license.issued",
                            "license.sent",
                            "license.revoked",
                            "organisation.owner_changed",
                        ]
                    ),
                    AuditEvent.actor != "test",
                )
            )
        )
    assert actors == {f"staff:{SALES}"}

    # Sign out; the link used to sign in is refused.
    page.locator("#sign-out").click()
    expect(page.locator("#sign-in-notice")).to_have_text("You have signed out.")
    page.screenshot(path=SHOT.format("signed-out"), full_page=True)
    page.goto(link)
    expect(page.locator("#refused")).to_have_text("This sign-in link has already been used")
    page.screenshot(path=SHOT.format("link-used"), full_page=True)
    page.goto("/console/licenses")
    expect(page.locator("#send-link")).to_be_visible()  # signed out: to the sign-in page
    assert problems == [], problems


def test_a_readonly_member_gets_the_403_page(browser: Browser, served: Served, world: dict[str, str]) -> None:
    problems: list[str] = []
    page = _new_page(browser, served, problems)
    _sign_in(page, served, READER)
    expect(page.locator("#role")).to_have_text("readonly")
    page.goto(f"/console/licenses/{world['license']}")
    expect(page.locator("#download")).to_be_visible()
    expect(page.locator("#revoke")).to_have_count(0)
    page.goto(f"/console/licenses/new?customer_id={world['customer']}")
    expect(page.locator("#forbidden")).to_have_text("This was not done")
    expect(page.locator("#forbidden-reason")).to_contain_text("readonly")
    page.screenshot(path=SHOT.format("forbidden"), full_page=True)
    with Session(served.app.state.engine) as session:
        assert session.scalars(select(License)).all()[0].id == world["license"]
    assert problems == [], problems
