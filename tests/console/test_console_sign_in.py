"""Console sign-in: a mailed single-use link for a known, enabled staff member and the same answer (and
no mail) for anyone else; links that expire; sessions that end on sign-out, after the idle time, at the
absolute maximum and when the member is removed; the cookie's attributes; the audit log."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from consoletools import ADMIN, COOKIE, READER, SALES, START, TOKEN_FIELD_NAMES, Console, audit_count
from fastapi.testclient import TestClient
from sqlalchemy import select

from licensing.context import Core
from licensing.kit.settings import Settings
from licensing.models import AuditEvent, OutboxMessage, StaffLink, StaffSession
from licensing.staff.members import add_member, disable_member


def _normalised(text: str, email: str) -> str:
    for pattern in TOKEN_FIELD_NAMES:
        text = pattern.sub("", text)
    return text.replace(email, "ADDRESS")


def test_a_member_gets_a_link_and_anyone_else_the_same_answer_and_no_mail(
    console: Console, staff: dict[str, str], db: Callable[[], Any], core: Core
) -> None:
    with db() as session:
        add_member(session, core, "gone@vendor-c0n5.example", "sales")
        disable_member(session, core, "gone@vendor-c0n5.example")
    known = console.request_link(SALES.upper())
    unknown = console.request_link("mallory@outside-9f8e.example")
    disabled = console.request_link("gone@vendor-c0n5.example")
    assert known.status_code == unknown.status_code == disabled.status_code == 200
    assert "Check your e-mail" in known.text
    assert _normalised(known.text, SALES) == _normalised(unknown.text, "mallory@outside-9f8e.example")
    assert _normalised(known.text, SALES) == _normalised(disabled.text, "gone@vendor-c0n5.example")
    with db() as session:
        mails = session.scalars(select(OutboxMessage)).all()
        assert [m.to_address for m in mails] == [SALES]
        assert mails[0].subject == "Sign in to the sales console" and mails[0].dedupe_key.startswith("console-signin:")
        link = session.scalars(select(StaffLink)).one()
    # Only the token's hash is kept.
    secret = console.last_link(SALES)
    assert link.token_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in str(link.__dict__)
    assert audit_count(db, action="staff.sign_in_requested", actor=f"staff:{SALES}") == 1


def test_an_invalid_address_is_told_on_the_page(console: Console, staff: dict[str, str], db: Callable[[], Any]) -> None:
    response = console.request_link("not an address")
    assert response.status_code == 422 and 'id="error"' in response.text
    with db() as session:
        assert session.scalars(select(StaffLink)).all() == []


def test_the_link_is_single_use_and_survives_prefetching(
    console: Console, staff: dict[str, str], db: Callable[[], Any]
) -> None:
    assert console.request_link(SALES).status_code == 200
    link = console.last_link(SALES)
    for _ in range(3):  # a mail scanner's GETs use nothing up
        page = console.client.get(f"/console/sign-in/{link}")
        assert page.status_code == 200 and 'id="sign-in"' in page.text
    response = console.redeem(link)
    assert response.status_code == 303 and response.headers["location"] == "/console/leads"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=css_")
    assert "HttpOnly" in cookie and "Path=/console" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # the public URL is http here
    page = console.client.get("/console/leads")
    assert page.status_code == 200 and f'<span id="signed-in-as">{SALES}</span>' in page.text
    again = console.client.get(f"/console/sign-in/{link}")
    assert again.status_code == 410 and "already been used" in again.text
    fresh = Console(TestClient(console.client.app, base_url="http://testserver"), db)
    reused = fresh.redeem_raw(link)
    assert reused.status_code == 410 and "already been used" in reused.text
    assert COOKIE not in fresh.client.cookies
    assert audit_count(db, action="staff.sign_in", actor=f"staff:{SALES}") == 1


def test_an_unknown_link_is_refused(console: Console, staff: dict[str, str]) -> None:
    for token in ("csl_" + "A" * 43, "nonsense", "psl_" + "A" * 43):
        response = console.client.get(f"/console/sign-in/{token}")
        assert response.status_code == 404 and "This sign-in link is not valid" in response.text
        assert console.redeem_raw(token).status_code == 404


def test_the_link_expires_after_15_minutes(
    console: Console, staff: dict[str, str], db: Callable[[], Any], clock: Any
) -> None:
    assert console.request_link(SALES).status_code == 200
    link = console.last_link(SALES)
    clock.set(START + timedelta(minutes=14, seconds=59))
    assert console.client.get(f"/console/sign-in/{link}").status_code == 200
    clock.set(START + timedelta(minutes=15))
    page = console.client.get(f"/console/sign-in/{link}")
    assert page.status_code == 410 and "This sign-in link has expired" in page.text
    assert console.redeem_raw(link).status_code == 410
    assert COOKIE not in console.client.cookies


def test_a_link_of_a_member_removed_since_does_not_sign_in(
    console: Console, staff: dict[str, str], db: Callable[[], Any], core: Core
) -> None:
    assert console.request_link(SALES).status_code == 200
    link = console.last_link(SALES)
    with db() as session:
        disable_member(session, core, SALES)
    assert console.redeem_raw(link).status_code == 404
    with db() as session:
        assert session.scalars(select(StaffSession)).all() == []


def test_sign_out_ends_the_session_server_side(console: Console, staff: dict[str, str], db: Callable[[], Any]) -> None:
    cookie = console.sign_in(SALES)
    response = console.post("/console/sign-out")
    assert response.status_code == 303 and response.headers["location"] == "/console/sign-in?signed-out"
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    # The old cookie, replayed, is refused: pages redirect, posts are refused.
    replay = TestClient(console.client.app, base_url="http://testserver", cookies={COOKIE: cookie})
    page = replay.get("/console/leads", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/console/sign-in?ended"
    assert audit_count(db, action="staff.sign_out", actor=f"staff:{SALES}") == 1
    with db() as session:
        assert session.scalars(select(StaffSession.ended_at)).one() is not None


@pytest.mark.parametrize("idle", [30, 5])
def test_an_idle_session_ends(
    console: Console, staff: dict[str, str], clock: Any, settings: Settings, idle: int, app: Any
) -> None:
    app.state.core.settings.console_idle_minutes = idle
    console.sign_in(SALES)
    # Each request counts as use: requests closer together than the idle time keep the session.
    for step in range(1, 4):
        clock.set(START + step * timedelta(minutes=idle - 1))
        assert console.client.get("/console/leads", follow_redirects=False).status_code == 200
    clock.set(START + 3 * timedelta(minutes=idle - 1) + timedelta(minutes=idle))
    response = console.client.get("/console/leads", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/sign-in?ended"


def test_a_session_ends_after_12_hours_however_used(console: Console, staff: dict[str, str], clock: Any) -> None:
    console.sign_in(SALES)
    moment = START
    while moment + timedelta(minutes=20) < START + timedelta(hours=12):
        moment += timedelta(minutes=20)
        clock.set(moment)
        assert console.client.get("/console/leads", follow_redirects=False).status_code == 200
    clock.set(START + timedelta(hours=12))
    assert console.client.get("/console/leads", follow_redirects=False).status_code == 303


def test_removing_a_member_ends_their_sessions(
    console: Console, staff: dict[str, str], db: Callable[[], Any], core: Core
) -> None:
    console.sign_in(SALES)
    with db() as session:
        disable_member(session, core, SALES)
    assert console.client.get("/console/leads", follow_redirects=False).status_code == 303
    with db() as session:
        assert session.scalars(select(StaffSession.ended_at)).one() is not None


def test_links_are_capped_per_member(
    console: Console, staff: dict[str, str], db: Callable[[], Any], clock: Any
) -> None:
    for _ in range(7):
        assert console.request_link(ADMIN).status_code == 200
    with db() as session:
        assert len(session.scalars(select(StaffLink)).all()) == 5
    clock.set(START + timedelta(hours=1, minutes=1))
    assert console.request_link(ADMIN).status_code == 200
    with db() as session:
        assert len(session.scalars(select(StaffLink)).all()) == 6


def test_the_sign_in_form_is_rate_limited_per_client(
    settings: Settings, core: Core, engine: Any, staff: dict[str, str], db: Callable[[], Any]
) -> None:
    from api.app import create_app

    limited = create_app(settings.model_copy(update={"public_rate_limit": 3}), core=core, engine=engine)
    with TestClient(limited, base_url="http://testserver") as client:
        browser = Console(client, db)
        answers = [browser.request_link(READER).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_secure_cookie_behind_https(
    settings: Settings, core: Core, engine: Any, staff: dict[str, str], db: Callable[[], Any]
) -> None:
    from api.app import create_app

    secure = create_app(settings.model_copy(update={"public_url": "https://testserver"}), core=core, engine=engine)
    with TestClient(secure, base_url="https://testserver") as client:
        browser = Console(client, db, origin="https://testserver")
        assert browser.request_link(SALES).status_code == 200
        response = browser.redeem(browser.last_link(SALES, host="https://testserver"))
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"__Secure-{COOKIE}=css_") and "Secure" in cookie and "SameSite=strict" in cookie


def test_the_audit_log_names_the_member(sales: Console, db: Callable[[], Any]) -> None:
    with db() as session:
        actors = {e.actor for e in session.scalars(select(AuditEvent).where(AuditEvent.action.like("staff.sign%")))}
    assert actors == {f"staff:{SALES}"}
