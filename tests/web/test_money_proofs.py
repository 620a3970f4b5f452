"""SPEC section 6 in a real browser (issue 14): a card that needs 3-D Secure bought with in Chromium (the
bank's challenge step on Stripe's hosted page completed), and a purchase refunded in full ending in a license
the real ``licensing verify`` command rejects as revoked, with the customer told by e-mail.

Screenshots: /tmp/proof-3ds-challenge.png, /tmp/proof-3ds-success.png, /tmp/proof-refund-bought.png,
/tmp/proof-refund-revoked.png (the customer portal after the refund)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe
from cli_support import clean_env, licensing_command
from fakestripe import CARD_3DS, CARD_OK, FakeStripe
from mailtools import text_of
from pagetools import Store
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_checkout_flow import _buy, _work_off

from licensing.models import License
from licensing.verify import Keyring, verify

SHOTS = "/tmp/proof-{}.png"
REVOKED_SUBJECT = "Your Professional license has been revoked"


def _licensing_verify(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``licensing verify`` in a subprocess, as the CLI's own tests run it."""
    return subprocess.run(
        [*licensing_command(), "verify", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def shop_page(browser: Browser, store: Store) -> Iterator[Page]:
    context = browser.new_context(base_url=store.url, accept_downloads=True, viewport={"width": 1024, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def _shown_license(page: Page, keyring: Keyring) -> tuple[str, str]:
    """The success page's license (verified) and the checkout session id in its address."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Your Professional license", timeout=20_000)
    shown = page.locator("#license-file").inner_text()
    verify(shown, keyring)
    return shown, parse_qs(urlsplit(page.url).query)["session_id"][0]


def test_a_card_that_needs_3d_secure_buys_after_the_bank_challenge(
    shop_page: Page, store: Store, keyring: Keyring, fake_stripe: FakeStripe
) -> None:
    page = shop_page
    _buy(page, 4, CARD_3DS, "tess@secure-3d5a.example", company="Proof Co")
    # The bank's challenge, over Stripe's page: nothing is paid until it is answered.
    challenge = page.locator("#three-d-secure")
    expect(challenge).to_be_visible()
    expect(page.locator("#heading")).to_have_text("3-D Secure")
    expect(page.locator("#complete-authentication")).to_have_text("Complete authentication")
    page.screenshot(path=SHOTS.format("3ds-challenge"), full_page=True)
    with Session(store.app.state.engine) as session:
        assert session.scalars(select(License)).all() == []
    page.locator("#complete-authentication").click()

    shown, session_id = _shown_license(page, keyring)
    page.screenshot(path=SHOTS.format("3ds-success"), full_page=True)
    lic = verify(shown, keyring)
    assert lic.tier == "professional" and not lic.trial and lic.seats == 4
    assert lic.customer["email"] == "tess@secure-3d5a.example" and lic.customer["company"] == "Proof Co"
    subscription = fake_stripe.subscription_for_session(session_id)
    assert subscription is not None and subscription["status"] == "active"
    fake_stripe.webhooks.wait_idle()
    _work_off(store)
    with Session(store.app.state.engine) as session:
        assert [row.id for row in session.scalars(select(License))] == [lic.id]


def test_a_full_refund_revokes_the_bought_license_for_the_cli(
    shop_page: Page,
    store: Store,
    keyring: Keyring,
    fake_stripe: FakeStripe,
    stripe_client: stripe.StripeClient,
    tmp_path: Path,
) -> None:
    page = shop_page
    _buy(page, 2, CARD_OK, "rex@refund-8c2e.example", company="Proof Co")
    shown, session_id = _shown_license(page, keyring)
    page.screenshot(path=SHOTS.format("refund-bought"), full_page=True)
    lic = verify(shown, keyring)
    fake_stripe.webhooks.wait_idle()

    # Refunded in full through the SDK, as the vendor would from the dashboard.
    subscription = fake_stripe.subscription_for_session(session_id)
    assert subscription is not None
    charge = fake_stripe.invoice_charge(fake_stripe.get(subscription["id"])["latest_invoice"])
    refund = stripe_client.v1.refunds.create(params={"charge": charge["id"]})
    assert refund.status == "succeeded" and refund.amount == charge["amount"]
    fake_stripe.webhooks.wait_idle()
    _work_off(store)

    # What an air-gapped server would be given: the license, the JWKS and the signed revocation list.
    with httpx.Client(base_url=store.url) as client:
        revocations, jwks = client.get("/v1/revocations"), client.get("/.well-known/jwks.json")
    assert revocations.status_code == 200 and jwks.status_code == 200
    (tmp_path / "bought.lic").write_text(shown)
    (tmp_path / "jwks.json").write_text(jwks.text)
    (tmp_path / "revocations.lic").write_text(revocations.text)

    accepted = _licensing_verify(tmp_path, "bought.lic", "--jwks", "jwks.json")  # a good signature
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    rejected = _licensing_verify(tmp_path, "bought.lic", "--jwks", "jwks.json", "--revocations", "revocations.lic")
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    assert rejected.stdout.startswith("REJECTED (revoked)"), rejected.stdout
    assert "Traceback" not in rejected.stdout + rejected.stderr

    mail = store.inbox.wait_for(lambda m: m["Subject"] == REVOKED_SUBJECT)
    assert mail["To"] == "rex@refund-8c2e.example"
    assert lic.id in text_of(mail) and "refund" in text_of(mail)
    assert [m["Subject"] for m in store.inbox.to("rex@refund-8c2e.example")].count(REVOKED_SUBJECT) == 1

    # The customer portal, signed in by e-mail in the same browser, shows the license revoked.
    page.goto("/portal")
    page.get_by_label("E-mail address").fill("rex@refund-8c2e.example")
    page.locator("#send-link").click()
    expect(page.locator("#check-mail")).to_have_text("Check your e-mail")
    store.app.state.worker.run_until_idle()  # stopped by _work_off: the sign-in e-mail sent here
    sign_in = store.inbox.wait_for(lambda m: m["Subject"] == "Sign in to the customer portal")
    [link] = re.findall(rf"{re.escape(store.url)}/portal/sign-in/\S+", text_of(sign_in))
    page.goto(link)
    page.locator("#sign-in").click()
    expect(page.locator("#signed-in-as")).to_have_text("rex@refund-8c2e.example")
    expect(page.locator(f"#license-{lic.id} [data-status]")).to_have_text("Revoked")
    page.screenshot(path=SHOTS.format("refund-revoked"), full_page=True)
