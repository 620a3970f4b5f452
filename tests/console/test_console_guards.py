"""Who may post what in the console: a post without a session, with a bad or another session's form token,
or from another origin is refused with a 403 page and changes nothing; a readonly member gets the 403
page for every change and every form that makes one; a page without a session redirects to sign-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from consoletools import ORIGIN, Console
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from licensing.models import AuditEvent, Customer, License, Organisation, OutboxMessage, StaffSession


def changes(world: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """Every post of the console that changes something, with a body that would succeed."""
    lic, customer, org = world["license"], world["customer"], world["organisation"]
    issue = {"customer_id": customer, "tier": "professional", "seats": "5", "duration_days": "30"}
    return [
        ("/console/customers", {"name": "Alan", "email": "alan@bletchley-41.example"}),
        (f"/console/customers/{customer}", {"name": "Grace B. Hopper", "email": "grace@navy-7e1f.example"}),
        ("/console/licenses/preview", issue),
        ("/console/licenses/new", issue),
        ("/console/licenses", issue),
        (f"/console/licenses/{lic}/send", {}),
        (f"/console/licenses/{lic}/revoke", {"reason": "chargeback"}),
        (f"/console/licenses/{lic}/renew/preview", {"duration_days": "30"}),
        (f"/console/licenses/{lic}/renew/change", {"duration_days": "30"}),
        (f"/console/licenses/{lic}/renew", {"duration_days": "30"}),
        (f"/console/organisations/{org}/owner", {"owner": "kim@vendor-c0n5.example"}),
    ]


def snapshot(db: Callable[[], Any]) -> dict[str, Any]:
    """What a change would change: counts of rows, revocations and owners."""
    with db() as session:
        return {
            "customers": sorted((c.id, c.name) for c in session.scalars(select(Customer))),
            "licenses": session.scalar(select(func.count()).select_from(License)),
            "revoked": session.scalar(select(func.count()).select_from(License).where(License.revoked_at.is_not(None))),
            "mail": session.scalar(select(func.count()).select_from(OutboxMessage)),
            "owners": sorted((o.organisation, o.owner or "") for o in session.scalars(select(Organisation))),
            "audit": session.scalar(select(func.count()).select_from(AuditEvent)),
        }


def assert_refused(response: Any, reason: str) -> None:
    assert response.status_code == 403, response.text[:500]
    assert 'id="forbidden"' in response.text and f'data-reason="{reason}"' in response.text
    assert "Nothing was changed." in response.text


def test_a_post_without_a_session_is_refused(
    console: Console, world: dict[str, str], db: Callable[[], Any], staff: dict[str, str]
) -> None:
    before = snapshot(db)
    for path, data in changes(world):
        response = console.client.post(path, data={**data, "console_csrf": "x" * 64}, headers={"Origin": ORIGIN})
        assert_refused(response, "signed_out")
    assert snapshot(db) == before


def test_a_post_with_a_bad_or_foreign_token_is_refused(
    sales: Console, world: dict[str, str], db: Callable[[], Any], client: TestClient, staff: dict[str, str]
) -> None:
    # Another member's session token (valid for their session, not this one), none, and garbage.
    other = Console(TestClient(client.app, base_url="http://testserver"), db)
    other.sign_in(staff["admin"])
    foreign = other.token()
    before = snapshot(db)
    for path, data in changes(world):
        for token in (foreign, "", "0" * 64):
            body = {**data, "console_csrf": token} if token else data
            response = sales.client.post(path, data=body, headers={"Origin": ORIGIN})
            assert_refused(response, "bad_token")
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil-5e2a.example"},
        {"Origin": "https://testserver"},  # another scheme is another origin
        {"Origin": "null"},
        {"Referer": "http://evil-5e2a.example/console/licenses"},
        {},  # neither Origin nor Referer
        {"Origin": ORIGIN, "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_post_from_another_origin_is_refused(
    sales: Console, world: dict[str, str], db: Callable[[], Any], headers: dict[str, str]
) -> None:
    before = snapshot(db)
    for path, data in changes(world):
        body = {**data, "console_csrf": sales.token()}
        response = sales.client.post(path, data=body, headers=headers, follow_redirects=False)
        assert_refused(response, "cross_origin")
    assert snapshot(db) == before


def test_a_referer_of_the_service_is_enough_without_an_origin(sales: Console, world: dict[str, str]) -> None:
    response = sales.client.post(
        f"/console/licenses/{world['license']}/send",
        data={"console_csrf": sales.token()},
        headers={"Referer": f"{ORIGIN}/console/licenses/{world['license']}"},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_readonly_gets_the_403_page_for_every_change(
    reader: Console, world: dict[str, str], db: Callable[[], Any]
) -> None:
    before = snapshot(db)
    for path, data in changes(world):
        assert_refused(reader.post(path, data), "readonly")
    for form in (
        "/console/customers/new",
        "/console/licenses/new",
        f"/console/licenses/{world['license']}/renew",
        f"/console/licenses/{world['license']}/revoke",
    ):
        assert_refused(reader.client.get(form), "readonly")
    assert snapshot(db) == before
    # Readonly reads, and sees no button for a change.
    page = reader.client.get(f"/console/licenses/{world['license']}")
    assert page.status_code == 200 and 'id="download"' in page.text
    assert 'id="renew"' not in page.text and 'id="revoke"' not in page.text and 'id="send"' not in page.text
    assert reader.client.get(f"/console/licenses/{world['license']}/file").status_code == 200


def test_readonly_may_sign_out(reader: Console, db: Callable[[], Any]) -> None:
    response = reader.post("/console/sign-out")
    assert response.status_code == 303
    with db() as session:
        assert session.scalars(select(StaffSession.ended_at)).one() is not None


@pytest.mark.parametrize(
    "path",
    [
        "/console",
        "/console/leads",
        "/console/customers",
        "/console/customers/new",
        "/console/licenses",
        "/console/licenses/new",
        "/console/subscriptions",
        "/console/audit",
        "/console/true-ups",
    ],
)
def test_a_page_without_a_session_goes_to_sign_in(console: Console, path: str) -> None:
    response = console.client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/sign-in"


def test_license_pages_and_files_need_a_session(console: Console, world: dict[str, str]) -> None:
    for path in (f"/console/licenses/{world['license']}", f"/console/licenses/{world['license']}/file"):
        response = console.client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/sign-in"


def test_sign_in_forms_from_another_origin_are_refused(
    console: Console, staff: dict[str, str], db: Callable[[], Any]
) -> None:
    token = console.site_token("/console/sign-in")
    for headers in ({"Origin": "http://evil-5e2a.example"}, {}):
        asked = console.client.post(
            "/console/sign-in", data={"email": staff["sales"], "csrf_token": token}, headers=headers
        )
        assert_refused(asked, "cross_origin")
    with db() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert console.request_link(staff["sales"]).status_code == 200
    link = console.last_link(staff["sales"])
    page_token = console.site_token(f"/console/sign-in/{link}")
    started = console.client.post(
        "/console/session",
        data={"token": link, "csrf_token": page_token},
        headers={"Origin": "http://evil-5e2a.example"},
        follow_redirects=False,
    )
    assert_refused(started, "cross_origin")
    with db() as session:
        assert session.scalars(select(StaffSession)).all() == []
    # Without the site's form token (the sign-in forms are the site's), refused too.
    missing = console.client.post("/console/session", data={"token": link}, headers={"Origin": ORIGIN})
    assert missing.status_code == 403
    assert console.redeem(link).status_code == 303  # the link still works from the real page
