"""The customer portal over HTTP (the pages, driven as a browser would: CSRF cookie and token): a sign-in
link by e-mail that answers the same for any address, is single use, expires after 15 minutes and is
stored hashed; sessions that expire and end server-side on sign-out; a customer's own licenses and
nobody else's; the audit log; the flood limit; cross-site posts refused; security headers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_testkit import Api
from billingrows import record_subscription
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from licensing.context import Core
from licensing.kit.settings import Settings
from licensing.models import AuditEvent, OutboxMessage, PortalLink, PortalSession

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TOKEN_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
LINK = re.compile(r"http://testserver/portal/sign-in/(psl_[A-Za-z0-9_-]+)")
COOKIE = "licensing_portal"


@pytest.fixture(autouse=True)
def frozen(clock: Any) -> None:
    clock.set(START)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": "http://testserver"})


class Browser:
    """A TestClient that fetches a page's form and posts it back with its CSRF token."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def token(self, path: str = "/portal") -> str:
        response = self.client.get(path)
        match = TOKEN_FIELD.search(response.text)
        assert match, f"{path} renders no CSRF token ({response.status_code})"
        return match.group(1)

    def post(self, path: str, data: dict[str, str] | None = None, *, form: str = "/portal", **kwargs: Any) -> Any:
        return self.client.post(
            path, data={**(data or {}), "csrf_token": self.token(form)}, follow_redirects=False, **kwargs
        )

    def request_link(self, email: str) -> Any:
        return self.post("/portal", {"email": email})


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)


@pytest.fixture
def db(session_factory: Callable[[], Any]) -> Callable[[], Any]:
    return session_factory


def last_link(db: Callable[[], Any], to: str) -> str:
    with db() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.to_address == to).order_by(OutboxMessage.id.desc())
        ).all()
        assert rows, f"no mail to {to}"
        match = LINK.search(rows[0].text_body)
        assert match, rows[0].text_body
        assert rows[0].dedupe_key.startswith("signin:psl_")
        return match.group(1)


def sign_in(browser: Browser, db: Callable[[], Any], email: str) -> str:
    """Request a link for ``email``, follow it and press Sign in; the session cookie's value."""
    assert browser.request_link(email).status_code == 200
    token = last_link(db, email.lower())
    response = browser.post("/portal/sign-in", {"token": token}, form=f"/portal/sign-in/{token}")
    assert response.status_code == 303 and response.headers["location"] == "/portal", response.text
    cookie = browser.client.cookies.get(COOKIE)
    assert cookie
    return str(cookie)


@pytest.fixture
def customers(api: Api) -> dict[str, Any]:
    """Ada (a professional license renewed once, and a trial) and Bob (one license)."""
    ada = api.customer("Ada@Acme-5F3A.example", "Ada", "Example Ltd")
    old = api.issue(ada["id"], tier="professional", seats=10, duration_days=30, installation_id="srv-1")
    new = api.renew(old["license"]["id"], duration_days=60)
    trial = api.issue(ada["id"], tier="professional", trial=True, seats=5, duration_days=30)
    bob = api.customer("bob@other.example", "Bob", "Other Inc")
    bobs = api.issue(bob["id"], tier="professional", seats=3, duration_days=30)
    return {
        "ada_old": old["license"]["id"],
        "ada_new": new["license"]["id"],
        "ada_trial": trial["license"]["id"],
        "bob": bobs["license"]["id"],
    }


def _normalised(text: str, email: str) -> str:
    return TOKEN_FIELD.sub("", text).replace(email, "ADDRESS")


def test_the_answer_is_the_same_for_a_known_and_an_unknown_address(
    browser: Browser, customers: dict[str, Any], db: Callable[[], Any]
) -> None:
    known = browser.request_link("ada@acme-5f3a.example")
    unknown = browser.request_link("nobody@nowhere.example")
    assert known.status_code == unknown.status_code == 200
    assert "Check your e-mail" in known.text
    assert _normalised(known.text, "ada@acme-5f3a.example") == _normalised(unknown.text, "nobody@nowhere.example")
    assert {k: v for k, v in known.headers.items() if k not in {"content-length", "date", "x-request-id"}} == {
        k: v for k, v in unknown.headers.items() if k not in {"content-length", "date", "x-request-id"}
    }
    # The same work for both: a link row and a mail each (an unknown address signs into an empty portal).
    with db() as session:
        assert sorted(session.scalars(select(PortalLink.email))) == ["ada@acme-5f3a.example", "nobody@nowhere.example"]
        assert sorted(session.scalars(select(OutboxMessage.to_address))) == [
            "ada@acme-5f3a.example",
            "nobody@nowhere.example",
        ]
    browser.client.cookies.clear()
    sign_in(browser, db, "nobody@nowhere.example")
    empty = browser.client.get("/portal")
    assert "No licenses or subscriptions are registered under" in empty.text


def test_an_invalid_address_is_told_on_the_page(browser: Browser, db: Callable[[], Any]) -> None:
    response = browser.request_link("not an address")
    assert response.status_code == 422
    assert 'id="error"' in response.text and "is not an e-mail address" in response.text
    with db() as session:
        assert session.scalars(select(PortalLink)).all() == []


def test_an_address_with_an_encoded_word_is_told_on_the_page(browser: Browser, db: Callable[[], Any]) -> None:
    response = browser.request_link("=?utf-8?q?attacker=40evil.com?=@victim.example")
    assert response.status_code == 422 and 'id="error"' in response.text and "encoded" in response.text
    with db() as session:
        assert session.scalars(select(PortalLink)).all() == []
        assert session.scalars(select(OutboxMessage)).all() == []


def test_the_link_is_single_use_and_survives_prefetching(
    browser: Browser, customers: dict[str, Any], db: Callable[[], Any]
) -> None:
    assert browser.request_link("ada@acme-5f3a.example").status_code == 200
    token = last_link(db, "ada@acme-5f3a.example")
    # A mail scanner's GETs use nothing up.
    for _ in range(3):
        page = browser.client.get(f"/portal/sign-in/{token}")
        assert page.status_code == 200 and 'id="sign-in"' in page.text
    response = browser.post("/portal/sign-in", {"token": token}, form=f"/portal/sign-in/{token}")
    assert response.status_code == 303
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=pss_")
    assert "HttpOnly" in set_cookie and "Path=/portal" in set_cookie and "SameSite=lax" in set_cookie
    assert "Max-Age=43200" in set_cookie and "Secure" not in set_cookie
    dashboard = browser.client.get("/portal")
    assert "Signed in as" in dashboard.text and customers["ada_new"] in dashboard.text

    again = browser.client.get(f"/portal/sign-in/{token}")
    assert again.status_code == 410 and "This sign-in link has already been used" in again.text
    assert 'action="/portal"' in again.text  # a form to ask for a new one
    fresh = Browser(TestClient(browser.client.app, base_url="http://testserver"))
    reused = fresh.post("/portal/sign-in", {"token": token}, form="/portal")
    assert reused.status_code == 410 and "already been used" in reused.text
    assert COOKIE not in fresh.client.cookies


def test_an_unknown_link_is_refused(browser: Browser) -> None:
    for token in ("psl_" + "A" * 43, "nonsense", "psl_" + "x" * 300):
        response = browser.client.get(f"/portal/sign-in/{token}")
        assert response.status_code == 404 and "This sign-in link is not valid" in response.text
    assert browser.post("/portal/sign-in", {"token": "psl_" + "A" * 43}).status_code == 404


def test_the_link_expires_after_15_minutes(
    browser: Browser, customers: dict[str, Any], db: Callable[[], Any], clock: Any
) -> None:
    assert browser.request_link("ada@acme-5f3a.example").status_code == 200
    token = last_link(db, "ada@acme-5f3a.example")
    clock.set(START + timedelta(minutes=14, seconds=59))
    assert browser.client.get(f"/portal/sign-in/{token}").status_code == 200
    form_token = browser.token(f"/portal/sign-in/{token}")
    clock.set(START + timedelta(minutes=15))
    page = browser.client.get(f"/portal/sign-in/{token}")
    assert page.status_code == 410 and "This sign-in link has expired" in page.text
    response = browser.client.post("/portal/sign-in", data={"token": token, "csrf_token": form_token})
    assert response.status_code == 410 and "expired" in response.text
    assert COOKIE not in browser.client.cookies


def test_the_session_expires_after_12_hours(
    browser: Browser, customers: dict[str, Any], db: Callable[[], Any], clock: Any
) -> None:
    sign_in(browser, db, "ada@acme-5f3a.example")
    clock.set(START + timedelta(hours=11, minutes=59))
    assert "Signed in as" in browser.client.get("/portal").text
    clock.set(START + timedelta(hours=12))
    page = browser.client.get("/portal")
    assert "Signed in as" not in page.text and "Your session has ended" in page.text
    assert 'id="sign-in-request"' in page.text
    download = browser.client.get(f"/portal/licenses/{customers['ada_new']}/file", follow_redirects=False)
    assert download.status_code == 303


def test_sign_out_ends_the_session_server_side(
    browser: Browser, customers: dict[str, Any], db: Callable[[], Any]
) -> None:
    cookie = sign_in(browser, db, "ada@acme-5f3a.example")
    response = browser.post("/portal/sign-out")
    assert response.status_code == 303 and response.headers["location"] == "/portal?signed-out"
    assert f'{COOKIE}=""' in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]
    assert "You have signed out" in browser.client.get("/portal?signed-out").text
    # The old cookie, presented again, is refused: the row is ended.
    browser.client.cookies.set(COOKIE, cookie, path="/portal")
    assert "Signed in as" not in browser.client.get("/portal").text
    old = browser.client.get(f"/portal/licenses/{customers['ada_new']}/file", follow_redirects=False)
    assert old.status_code == 303
    with db() as session:
        [row] = session.scalars(select(PortalSession)).all()
        assert row.signed_out_at == START
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == row.id)))
        assert actions == ["portal.sign_in", "portal.sign_out"]


def test_she_sees_and_downloads_her_licenses_only(
    browser: Browser, customers: dict[str, Any], db: Callable[[], Any], core: Core
) -> None:
    sign_in(browser, db, "ADA@acme-5f3a.example")  # addresses match case-insensitively
    page = browser.client.get("/portal").text
    for mine in ("ada_old", "ada_new", "ada_trial"):
        assert customers[mine] in page
    assert customers["bob"] not in page
    assert "Professional trial" in page and "srv-1" in page and 'data-status="superseded"' in page
    # Grouped by line, the newest first: the renewal before the license it replaced.
    assert page.index(f'id="license-{customers["ada_new"]}"') < page.index(f'id="license-{customers["ada_old"]}"')
    assert page.index(f'id="license-{customers["ada_trial"]}"') < page.index(f'id="license-{customers["ada_new"]}"')
    assert f'href="#license-{customers["ada_new"]}"' in page  # "replaced by"

    mine = browser.client.get(f"/portal/licenses/{customers['ada_new']}/file")
    assert mine.status_code == 200
    assert mine.headers["content-disposition"] == f'attachment; filename="{customers["ada_new"]}.lic"'
    assert mine.headers["content-type"].startswith("application/x-license-file")
    assert mine.text.startswith("-----BEGIN LICENSE")
    theirs = browser.client.get(f"/portal/licenses/{customers['bob']}/file")
    assert theirs.status_code == 404 and "BEGIN" not in theirs.text
    assert browser.client.get("/portal/licenses/lic_nonexistent/file").status_code == 404


def test_tokens_are_never_stored_in_clear(browser: Browser, customers: dict[str, Any], db: Callable[[], Any]) -> None:
    cookie = sign_in(browser, db, "ada@acme-5f3a.example")
    with db() as session:
        [link] = session.scalars(select(PortalLink)).all()
        [row] = session.scalars(select(PortalSession)).all()
        stored = [
            str(value)
            for table in (PortalLink.__table__, PortalSession.__table__)
            for record in session.execute(select(table)).all()
            for value in record
        ]
    token = last_link(db, "ada@acme-5f3a.example")
    assert not any(token in value or cookie in value for value in stored)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest() and len(link.token_hash) == 64
    assert row.token_hash == hashlib.sha256(cookie.encode()).hexdigest()


def test_sign_in_is_audited(browser: Browser, customers: dict[str, Any], db: Callable[[], Any]) -> None:
    sign_in(browser, db, "ada@acme-5f3a.example")
    with db() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action.startswith("portal."))).all()
        by_action = {e.action: e for e in events}
        assert set(by_action) == {"portal.sign_in_requested", "portal.sign_in"}
        assert {e.actor for e in events} == {"portal:ada@acme-5f3a.example"}
        [link] = session.scalars(select(PortalLink)).all()
        assert by_action["portal.sign_in"].data == {"link_id": link.id}
        assert by_action["portal.sign_in"].occurred_at == START


def test_at_most_five_sign_in_mails_an_hour_per_address(browser: Browser, db: Callable[[], Any], clock: Any) -> None:
    answers = [browser.request_link("flood@victim.example") for _ in range(7)]
    assert {a.status_code for a in answers} == {200}
    assert len({_normalised(a.text, "flood@victim.example") for a in answers}) == 1
    assert browser.request_link("FLOOD@victim.example").status_code == 200  # another spelling counts too
    with db() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 5
        assert len(session.scalars(select(PortalLink)).all()) == 5
    clock.set(START + timedelta(hours=1, seconds=1))
    assert browser.request_link("flood@victim.example").status_code == 200
    with db() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 6


def test_spellings_of_one_mailbox_share_its_five_sign_in_mails(
    browser: Browser, db: Callable[[], Any], clock: Any
) -> None:
    spellings = [
        "Ann@mailbox-4e1a.example",
        "ann+1@mailbox-4e1a.example",
        "ANN+2@mailbox-4e1a.example",
        "aNn+portal@MAILBOX-4e1a.example",
        "ann+@mailbox-4e1a.example",
        "ann+x+y@mailbox-4e1a.example",
        "f.a.r.m.e.r+1@googlemail.com",  # and at Gmail, the catalog's rules
        "Far.Mer@gmail.com",
    ]
    answers = [browser.request_link(email) for email in spellings]
    assert {a.status_code for a in answers} == {200}
    assert len({_normalised(a.text, e.lower()) for a, e in zip(answers, spellings, strict=True)}) == 1
    with db() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 7  # 5 of Ann's, both of the farmer's
        assert len(session.scalars(select(PortalLink)).all()) == 7
    for email in ("Ann+9@mailbox-4e1a.example", "farmer+2@gmail.com", "farmer@gmail.com", "farmer@gmail.com"):
        assert browser.request_link(email).status_code == 200
    with db() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 10  # the farmer's 3 more; nothing for Ann
    # Another mailbox at the same domain is not held back; an hour later Ann gets a link again.
    assert browser.request_link("bob@mailbox-4e1a.example").status_code == 200
    clock.set(START + timedelta(hours=1, seconds=1))
    assert browser.request_link("ann+10@mailbox-4e1a.example").status_code == 200
    with db() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 12


def test_one_organisations_addresses_together_get_at_most_thirty_sign_in_mails_an_hour(
    browser: Browser, db: Callable[[], Any], clock: Any
) -> None:
    addresses = [f"person{n:02}@{'eu.' if n % 2 else ''}bigco-8d2f.example" for n in range(34)]
    answers = [browser.request_link(email) for email in addresses]
    assert {a.status_code for a in answers} == {200}
    assert len({_normalised(a.text, e) for a, e in zip(answers, addresses, strict=True)}) == 1
    with db() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 30
        assert len(session.scalars(select(PortalLink)).all()) == 30
    assert browser.request_link("it@otherco-8d2f.example").status_code == 200  # another organisation
    clock.set(START + timedelta(hours=1, seconds=1))
    assert browser.request_link("person99@bigco-8d2f.example").status_code == 200
    with db() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 32


def test_the_sign_in_mail_carries_nothing_but_the_address_and_the_link(browser: Browser, db: Callable[[], Any]) -> None:
    """The form takes only the address: the mail is the same fixed text for everyone, the address and
    the link aside, so there is no requester's text to carry."""
    bodies = []
    for email in ("ann@one-7a4c.example", "Bob.Other+tag@two-7a4c.example"):
        assert browser.post("/portal", {"email": email, "company": "ACTION REQUIRED", "name": "x"}).status_code == 200
        with db() as session:
            row = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
            assert row is not None and row.to_address == email.lower()
            link = LINK.search(row.text_body)
            assert link and "ACTION REQUIRED" not in row.text_body + row.html_body + row.subject
            bodies.append(
                tuple(
                    part.replace(link.group(0), "LINK").replace(row.to_address, "ADDRESS")
                    for part in (row.subject, row.text_body, row.html_body)
                )
            )
    assert bodies[0] == bodies[1]


def test_the_rate_limit_covers_the_request_and_the_redemption(settings: Settings, core: Core, engine: Any) -> None:
    from api.app import create_app

    app = create_app(settings.model_copy(update={"public_rate_limit": 2}), core=core, engine=engine)
    with TestClient(app, base_url="http://testserver") as client:
        token = TOKEN_FIELD.search(client.get("/portal").text)
        assert token
        answers = [
            client.post("/portal", data={"email": "ada@acme-5f3a.example", "csrf_token": token.group(1)}).status_code
            for _ in range(3)
        ]
        assert answers == [200, 200, 429]
        assert client.get("/portal/sign-in/psl_" + "A" * 43).status_code == 429


def _subscription(db: Callable[[], Any], core: Core, email: str, stripe_customer: str, status: str = "active") -> str:
    from licensing.licenses.customers import create_customer

    with db() as session:
        customer = create_customer(session, core, "test", name="Ada", email=email, company="Example Ltd")
        sub = record_subscription(
            session,
            customer_id=customer.id,
            email=email,
            stripe_customer_id=stripe_customer,
            stripe_subscription_id=f"sub_{stripe_customer}",
            status=status,
            current_period_end=START + timedelta(days=20),
        )
        return sub.id


def test_a_past_due_subscription_is_shown_plainly_and_billing_without_stripe_is_a_clear_error(
    browser: Browser, db: Callable[[], Any], core: Core
) -> None:
    sub_id = _subscription(db, core, "ada@acme-5f3a.example", "cus_fake1", status="past_due")
    sign_in(browser, db, "ada@acme-5f3a.example")
    page = browser.client.get("/portal").text
    assert "Payment overdue" in page and "The last payment failed" in page and "2026-12-14" in page
    response = browser.post(f"/portal/subscriptions/{sub_id}/billing")
    assert response.status_code == 404
    assert 'id="error"' in response.text and "Billing could not be opened" in response.text
    assert "Signed in as" in response.text  # the rest of the page still works


def test_manage_billing_opens_stripes_billing_portal(
    settings: Settings, core: Core, engine: Any, db: Callable[[], Any], fake_stripe: Any
) -> None:
    from api.app import create_app

    configured = settings.model_copy(
        update={"stripe_secret_key": SecretStr(fake_stripe.secret_key), "stripe_api_base": fake_stripe.base_url}
    )
    stripe_customer = fake_stripe.create_customer(email="ada@acme-5f3a.example")["id"]
    mine = _subscription(db, core, "ada@acme-5f3a.example", stripe_customer)
    theirs = _subscription(db, core, "bob@other.example", "cus_someone_else")
    app = create_app(configured, core=core, engine=engine)
    with TestClient(app, base_url="http://testserver") as client:
        browser = Browser(client)
        sign_in(browser, db, "ada@acme-5f3a.example")
        dashboard = client.get("/portal")
        form_action = dashboard.headers["content-security-policy"].split("form-action")[1].split(";")[0]
        assert fake_stripe.base_url in form_action
        response = browser.post(f"/portal/subscriptions/{mine}/billing")
        assert response.status_code == 303, response.text
        assert response.headers["location"].startswith(f"{fake_stripe.base_url}/p/session/")
        [call] = [r for r in fake_stripe.requests if r.path == "/v1/billing_portal/sessions"]
        assert call.params["customer"] == stripe_customer
        assert call.params["return_url"] == "http://testserver/portal"
        other = browser.post(f"/portal/subscriptions/{theirs}/billing")
        assert other.status_code == 404 and "No such subscription" in other.text


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://attacker.example"}, None],
    ids=["sec-fetch-site", "foreign-origin", "no-token"],
)
def test_cross_site_posts_are_refused(
    browser: Browser, customers: dict[str, Any], db: Callable[[], Any], headers: dict[str, str] | None, core: Core
) -> None:
    sub_id = _subscription(db, core, "ada@acme-5f3a.example", "cus_fake2")
    sign_in(browser, db, "ada@acme-5f3a.example")
    with db() as session:
        links_before = len(session.scalars(select(PortalLink)).all())
    browser.client.get("/portal")  # the CSRF cookie is there
    for path, data in (
        ("/portal", {"email": "ada@acme-5f3a.example"}),
        (f"/portal/subscriptions/{sub_id}/billing", {}),
        ("/portal/sign-out", {}),
        ("/portal/sign-in", {"token": "psl_" + "A" * 43}),
    ):
        if headers is None:
            response = browser.client.post(path, data=data, follow_redirects=False)
        else:
            response = browser.post(path, data, headers=headers)
        assert response.status_code == 403, (path, response.status_code)
        assert "This form could not be sent" in response.text
    with db() as session:
        assert len(session.scalars(select(PortalLink)).all()) == links_before
        assert session.scalars(select(PortalSession)).one().signed_out_at is None


def test_portal_pages_carry_the_security_headers(
    browser: Browser, customers: dict[str, Any], db: Callable[[], Any]
) -> None:
    pages = {"request form": browser.client.get("/portal"), "check mail": browser.request_link("ada@acme-5f3a.example")}
    token = last_link(db, "ada@acme-5f3a.example")
    pages["sign-in button"] = browser.client.get(f"/portal/sign-in/{token}")
    pages["unknown link"] = browser.client.get("/portal/sign-in/psl_nothing")
    sign_in(browser, db, "ada@acme-5f3a.example")
    pages["dashboard"] = browser.client.get("/portal")
    for name, response in pages.items():
        csp = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, name
        assert "script-src" not in csp, name  # no script allowed beyond 'self'
        assert response.headers["x-content-type-options"] == "nosniff", name
        assert response.headers["x-frame-options"] == "DENY", name
        assert response.headers["referrer-policy"] == "same-origin", name
        assert response.headers["cache-control"] == "no-store", name
        assert '<link rel="stylesheet" href="/static/site.css">' in response.text, name
        assert 'href="/portal" aria-current="page"' in response.text or name != "request form", name
    download = browser.client.get(f"/portal/licenses/{customers['ada_new']}/file")
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_a_secure_public_url_makes_the_cookie_secure(
    settings: Settings, core: Core, engine: Any, db: Callable[[], Any]
) -> None:
    from api.app import create_app

    app = create_app(settings.model_copy(update={"public_url": "https://testserver"}), core=core, engine=engine)
    with TestClient(app, base_url="https://testserver") as client:
        browser = Browser(client)
        assert browser.request_link("ada@acme-5f3a.example").status_code == 200
        with db() as session:
            body = session.scalars(select(OutboxMessage.text_body)).one()
        token = re.search(r"https://testserver/portal/sign-in/(\S+)", body)
        assert token
        response = browser.post("/portal/sign-in", {"token": token.group(1)}, form=f"/portal/sign-in/{token.group(1)}")
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Secure-licensing_portal=pss_") and "; Secure" in cookie
        assert "Path=/portal" in cookie and "HttpOnly" in cookie
        assert "Signed in as" in client.get("/portal").text


def test_jwks_and_revocation_list_downloads(browser: Browser, core: Core) -> None:
    jwks = browser.client.get("/portal/downloads/jwks.json")
    assert jwks.status_code == 200 and jwks.json() == core.keys.jwks()
    assert jwks.headers["content-disposition"] == 'attachment; filename="jwks.json"'
    revocations = browser.client.get("/portal/downloads/revocations.lic")
    assert revocations.status_code == 200 and "REVOCATION" in revocations.text
    assert revocations.headers["content-disposition"] == 'attachment; filename="revocations.lic"'


def _stripe_subscription_with_two_invoices(stripe_client: Any, fake_stripe: Any, email: str) -> tuple[str, str]:
    """A paid monthly subscription in the fake Stripe whose seats were then changed (two paid invoices)."""
    product = stripe_client.v1.products.create(params={"name": "Professional"})
    price = stripe_client.v1.prices.create(
        params={"product": product.id, "currency": "usd", "unit_amount": 1000, "recurring": {"interval": "month"}}
    )
    customer = stripe_client.v1.customers.create(params={"email": email})
    session = stripe_client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer.id,
            "line_items": [{"price": price.id, "quantity": 3}],
            "success_url": "http://testserver/checkout/success?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://testserver/checkout/cancel",
        }
    )
    fake_stripe.pay_checkout(session.id)
    sub = fake_stripe.subscription_for_session(session.id)
    fake_stripe.portal_update(sub["id"], quantity=5)
    return customer.id, sub["id"]


def test_the_dashboard_lists_each_subscriptions_invoices_from_stripe(
    settings: Settings, core: Core, engine: Any, db: Callable[[], Any], fake_stripe: Any, stripe_client: Any
) -> None:
    from api.app import create_app
    from licensing.licenses.customers import create_customer

    configured = settings.model_copy(
        update={"stripe_secret_key": SecretStr(fake_stripe.secret_key), "stripe_api_base": fake_stripe.base_url}
    )
    email = "ada@acme-5f3a.example"
    stripe_customer, stripe_sub = _stripe_subscription_with_two_invoices(stripe_client, fake_stripe, email)
    with db() as session:
        customer = create_customer(session, core, "test", name="Ada", email=email, company="Example Ltd")
        sub_id = record_subscription(
            session,
            customer_id=customer.id,
            email=email,
            stripe_customer_id=stripe_customer,
            stripe_subscription_id=stripe_sub,
            status="active",
            current_period_end=START + timedelta(days=20),
        ).id
    app = create_app(configured, core=core, engine=engine)
    with TestClient(app, base_url="http://testserver") as client:
        browser = Browser(client)
        sign_in(browser, db, email)
        page = client.get("/portal")
        assert page.status_code == 200
        html = page.text
        first, second = fake_stripe.ordered(fake_stripe.invoices)[::-1]
        section = html.split(f'id="invoices-{sub_id}"')[1].split("</table>")[0]
        assert section.index(second["number"]) < section.index(first["number"])  # newest first
        for invoice in (first, second):
            row = section.split(f'id="invoice-{invoice["id"]}"')[1].split("</tr>")[0]
            assert invoice["number"] in row and "Paid" in row
            assert f'href="{invoice["hosted_invoice_url"]}"' in row and f'href="{invoice["invoice_pdf"]}"' in row
            amount = f"{invoice['total'] / 100:,.2f}"
            assert amount in row and "USD" in row
        assert "$30.00 USD" in section  # the first invoice: three seats at $10
        [call] = [r for r in fake_stripe.requests if r.path == "/v1/invoices"]
        assert call.params == {"subscription": stripe_sub, "limit": "12"}

        # Stripe failing: a plain note in place of the invoices, the rest of the page as usual.
        fake_stripe.inject_failure(500, path_prefix="/v1/invoices")
        failing = client.get("/portal")
        assert failing.status_code == 200
        assert 'id="invoices-note"' in failing.text and "could not be read from Stripe" in failing.text
        assert "Signed in as" in failing.text and f'id="manage-billing-{sub_id}"' in failing.text
        assert 'id="invoice-' not in failing.text


def test_without_stripe_the_dashboard_says_invoices_are_not_available(
    browser: Browser, db: Callable[[], Any], core: Core
) -> None:
    _subscription(db, core, "ada@acme-5f3a.example", "cus_fake1")
    sign_in(browser, db, "ada@acme-5f3a.example")
    page = browser.client.get("/portal")
    assert page.status_code == 200 and 'id="invoices-note"' in page.text
