"""The portal's pages for servers without internet access (SPEC section 8), driven as a browser would
(CSRF cookie and token, multipart forms): an activation request for one of HER licenses (pasted or
uploaded) gives the bound license to download; a usage report gives its receipt and explains the overage;
the comparison page shows what the newest license of a line changes. Another customer's license is 404."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from airgaptools import DAY, day_start
from api_testkit import Api
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from licensing.airgap import InstallationKey, activation_request, report_digest, usage_report, verify_receipt
from licensing.kit.settings import Settings
from licensing.models import ActivationRequest, License, OutboxMessage, UsageReport
from licensing.verify import Keyring

TOKEN_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
LINK = re.compile(r"http://testserver/portal/sign-in/(psl_[A-Za-z0-9_-]+)")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": "http://testserver"})


class Browser:
    def __init__(self, client: TestClient, db: Callable[[], Any]) -> None:
        self.client, self.db = client, db

    def token(self, path: str) -> str:
        match = TOKEN_FIELD.search(self.client.get(path).text)
        assert match, path
        return match.group(1)

    def post(self, path: str, data: dict[str, str], *, form: str = "/portal", **kwargs: Any) -> Any:
        return self.client.post(path, data={**data, "csrf_token": self.token(form)}, follow_redirects=False, **kwargs)

    def sign_in(self, email: str) -> None:
        assert self.post("/portal", {"email": email}).status_code == 200
        with self.db() as session:
            body = session.scalars(
                select(OutboxMessage.text_body)
                .where(OutboxMessage.to_address == email)
                .order_by(OutboxMessage.id.desc())
            ).first()
        match = LINK.search(body)
        assert match, body
        token = match.group(1)
        done = self.post("/portal/sign-in", {"token": token}, form=f"/portal/sign-in/{token}")
        assert done.status_code == 303, done.text

    def upload(self, path: str, field: str, text: str, *, as_file: bool = False) -> Any:
        form = "/portal/installations"
        if as_file:
            return self.client.post(
                path,
                data={"csrf_token": self.token(form)},
                files={field.replace("_text", "_file"): ("upload.lic", text.encode(), "text/plain")},
                follow_redirects=False,
            )
        return self.client.post(
            path,
            data={field: text, "csrf_token": self.token(form)},
            files={"_": ("", b"", "application/octet-stream")},  # a multipart form, as the page's
            follow_redirects=False,
        )


@pytest.fixture
def browser(client: TestClient, session_factory: Callable[[], Any]) -> Browser:
    return Browser(client, session_factory)


@pytest.fixture
def licenses(api: Api) -> dict[str, Any]:
    ada = api.customer("ada@portal-9e2b.example", "Ada", "Example Ltd")
    mine = api.issue(ada["id"], tier="professional", seats=10, duration_days=30)
    bob = api.customer("bob@portal-other-9e2b.example", "Bob", "Other Inc")
    bobs = api.issue(bob["id"], tier="professional", seats=3, duration_days=30)
    return {"ada": mine, "bob": bobs}


def _count(db: Callable[[], Any], model: Any) -> int:
    with db() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("as_file", [False, True], ids=["pasted", "uploaded"])
def test_she_activates_her_server_and_downloads_the_bound_license(
    browser: Browser, licenses: dict[str, Any], session_factory: Callable[[], Any], as_file: bool
) -> None:
    browser.sign_in("ada@portal-9e2b.example")
    page = browser.client.get("/portal/installations")
    assert (
        page.status_code == 200 and 'id="activate-form"' in page.text and 'enctype="multipart/form-data"' in page.text
    )
    assert 'href="/portal/installations"' in browser.client.get("/portal").text
    key = InstallationKey.generate()
    request = activation_request(key, "srv-portal", license_text=licenses["ada"]["license_file"])
    response = browser.upload("/portal/activate", "request_text", request, as_file=as_file)
    assert response.status_code == 201, response.text
    assert key.thumbprint in response.text and "srv-portal" in response.text
    with session_factory() as session:
        bound = session.scalars(select(License).where(License.cnf_jkt == key.thumbprint)).one()
        bound_id, bound_file = bound.id, bound.license_file
    assert f'href="/portal/licenses/{bound_id}/file"' in response.text
    download = browser.client.get(f"/portal/licenses/{bound_id}/file")
    assert download.status_code == 200 and download.text == bound_file


def test_another_customers_license_or_a_forged_request_is_refused(
    browser: Browser, licenses: dict[str, Any], session_factory: Callable[[], Any]
) -> None:
    browser.sign_in("ada@portal-9e2b.example")
    before = (_count(session_factory, License), _count(session_factory, ActivationRequest))
    theirs = activation_request(InstallationKey.generate(), "srv-x", license_text=licenses["bob"]["license_file"])
    refused = browser.upload("/portal/activate", "request_text", theirs)
    assert refused.status_code == 404 and "not one of yours" in refused.text and 'id="error"' in refused.text
    forged = browser.upload("/portal/activate", "request_text", "-----BEGIN LICENSE ACTIVATION REQUEST-----\nabc\n")
    assert forged.status_code == 422 and "not a valid activation request" in forged.text
    empty = browser.upload("/portal/activate", "request_text", "")
    assert empty.status_code == 422 and "paste its text" in empty.text
    assert (_count(session_factory, License), _count(session_factory, ActivationRequest)) == before
    # Without the page's token: refused as any cross-site post.
    request = activation_request(InstallationKey.generate(), "srv-y", license_text=licenses["ada"]["license_file"])
    bare = browser.client.post("/portal/activate", data={"request_text": request}, follow_redirects=False)
    assert bare.status_code == 403
    assert (_count(session_factory, License), _count(session_factory, ActivationRequest)) == before


def test_she_sends_a_usage_report_and_downloads_its_receipt(
    browser: Browser, licenses: dict[str, Any], session_factory: Callable[[], Any], jwks: dict[str, Any], api: Api
) -> None:
    browser.sign_in("ada@portal-9e2b.example")
    key = InstallationKey.generate()
    request = activation_request(key, "srv-r", license_text=licenses["ada"]["license_file"])
    assert browser.upload("/portal/activate", "request_text", request).status_code == 201
    with session_factory() as session:
        bound_id = session.scalars(select(License.id).where(License.cnf_jkt == key.thumbprint)).one()
    start = day_start(datetime.now(UTC)) - 10 * DAY
    report = usage_report(
        key,
        license_id=bound_id,
        installation_id="srv-r",
        seq=1,
        prev=None,
        period_start=start,
        period_end=start + 2 * DAY,
        daily=[(start, 9), (start + DAY, 13)],
    )
    page = browser.upload("/portal/usage-reports", "report_text", report, as_file=True)
    assert page.status_code == 201, page.text
    assert 'data-overage="3"' in page.text and "3 more" in page.text and "sales team" in page.text
    # The two days the report covers, by name (its period ends at the start of the day after the last).
    first, last = (datetime.fromtimestamp(day, UTC).strftime("%Y-%m-%d") for day in (start, start + DAY))
    assert f"number 1, {first} to {last}" in page.text
    with session_factory() as session:
        report_id = session.scalars(select(UsageReport.id)).one()
    receipt = browser.client.get(f"/portal/usage-reports/{report_id}/receipt")
    assert receipt.status_code == 200 and "attachment" in receipt.headers["content-disposition"]
    checked = verify_receipt(receipt.text, Keyring.from_jwks(jwks), report_digest(report))
    assert (checked.seq, checked.overage) == (1, 3)
    # The same report again: the same receipt.
    again = browser.upload("/portal/usage-reports", "report_text", report)
    assert again.status_code == 201 and _count(session_factory, UsageReport) == 1
    # Bob sees neither the receipt nor Ada's line.
    browser.client.cookies.clear()
    browser.sign_in("bob@portal-other-9e2b.example")
    assert browser.client.get(f"/portal/usage-reports/{report_id}/receipt").status_code == 404
    stolen = browser.upload("/portal/usage-reports", "report_text", report)
    assert stolen.status_code == 404


def test_the_comparison_shows_what_the_newest_license_changes(
    browser: Browser, licenses: dict[str, Any], api: Api
) -> None:
    renewed = api.renew(licenses["ada"]["license"]["id"], duration_days=365, seats=25)
    browser.sign_in("ada@portal-9e2b.example")
    page = browser.upload("/portal/compare", "license_text", licenses["ada"]["license_file"], as_file=True)
    assert page.status_code == 200, page.text
    assert "<code>seats: 10 -&gt; 25</code>" in page.text and "expires: " in page.text
    assert "warning:" not in page.text
    assert f'href="/portal/licenses/{renewed["license"]["id"]}/file"' in page.text
    same = browser.upload("/portal/compare", "license_text", renewed["license_file"])
    assert (
        same.status_code == 200
        and 'id="up-to-date"' in same.text
        and "warning: NEW is the same license as OLD" in same.text
    )
    theirs = browser.upload("/portal/compare", "license_text", licenses["bob"]["license_file"])
    assert theirs.status_code == 404
    junk = browser.upload("/portal/compare", "license_text", "not a license")
    assert junk.status_code == 422 and "not a valid license file" in junk.text
