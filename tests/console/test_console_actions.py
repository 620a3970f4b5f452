"""What the console does, over HTTP as a browser would: each change through the API's own service calls,
audited with the staff member's address; issuing and renewing through the preview (the exact claims,
warnings, changes), errors next to the form with the input kept; customers (409 with a link and "create
anyway", edits); sending, revoking (with its confirmation), downloading; leads and organisations."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape
from typing import Any

from consoletools import SALES, START, Console
from sqlalchemy import select
from trueuptools import record_sales_true_up

from licensing.context import Core
from licensing.licenses.customers import create_customer
from licensing.models import AuditEvent, Customer, License, Organisation, OutboxMessage
from licensing.verify import Keyring, verify

ACTOR = f"staff:{SALES}"
CLAIMS = re.compile(r'<pre class="license-file claims" id="claims">(.*?)</pre>', re.DOTALL)


def events(db: Callable[[], Any], action: str) -> list[AuditEvent]:
    with db() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def claims_of(text: str) -> dict[str, Any]:
    match = CLAIMS.search(text)
    assert match, text[:2000]
    data: dict[str, Any] = json.loads(unescape(match.group(1)))
    return data


def test_create_a_customer_then_a_second_with_the_same_address(sales: Console, db: Callable[[], Any]) -> None:
    form = {"name": "Alan Turing", "email": "alan@bletchley-41.example", "company": "GC&CS"}
    created = sales.post("/console/customers", form, form="/console/customers/new")
    assert created.status_code == 303
    location = created.headers["location"]
    customer_id = location.split("/")[-1].split("?")[0]
    page = sales.client.get(location)
    assert "The customer is created." in page.text and "Alan Turing" in page.text
    # The same address again: 409 shown with a link to the existing one, the input kept, nothing made.
    again = sales.post("/console/customers", {**form, "name": "A. M. Turing"}, form="/console/customers/new")
    assert again.status_code == 409
    assert f'href="/console/customers/{customer_id}" id="existing-customer"' in again.text
    assert 'value="A. M. Turing"' in again.text and 'id="allow-duplicate"' in again.text
    # "Create anyway".
    anyway = sales.post(
        "/console/customers", {**form, "name": "A. M. Turing", "allow_duplicate": "yes"}, form="/console/customers/new"
    )
    assert anyway.status_code == 303
    with db() as session:
        assert sorted(session.scalars(select(Customer.name))) == ["A. M. Turing", "Alan Turing"]
    assert [e.actor for e in events(db, "customer.created")] == [ACTOR, ACTOR]


def test_a_bad_customer_is_told_next_to_the_field(sales: Console, db: Callable[[], Any]) -> None:
    response = sales.post("/console/customers", {"name": "", "email": "nope"}, form="/console/customers/new")
    assert response.status_code == 422
    assert 'id="error-name"' in response.text and 'value="nope"' in response.text
    with db() as session:
        assert session.scalars(select(Customer)).all() == []


def test_edit_a_customer(sales: Console, world: dict[str, str], db: Callable[[], Any]) -> None:
    path = f"/console/customers/{world['customer']}"
    response = sales.post(
        path, {"name": "Rear Admiral Hopper", "email": "grace@navy-7e1f.example", "company": ""}, form=path
    )
    assert response.status_code == 303 and response.headers["location"] == f"{path}?done=saved"
    with db() as session:
        customer = session.get(Customer, world["customer"])
        assert (customer.name, customer.company) == ("Rear Admiral Hopper", None)
    [event] = events(db, "customer.updated")
    assert event.actor == ACTOR and event.data["after"] == {"name": "Rear Admiral Hopper", "company": None}
    # Another customer's address: 409 next to the form, input kept.
    sales.post("/console/customers", {"name": "Ada", "email": "ada@navy-7e1f.example"}, form="/console/customers/new")
    taken = sales.post(path, {"name": "Grace", "email": "ada@navy-7e1f.example", "company": ""}, form=path)
    assert taken.status_code == 409 and "already has the address" in taken.text and 'value="Grace"' in taken.text


def test_issue_an_enterprise_license_with_a_custom_feature_through_the_preview(
    sales: Console, world: dict[str, str], db: Callable[[], Any], core: Core, keyring: Keyring
) -> None:
    form = {
        "customer_id": world["customer"],
        "tier": "enterprise",
        "seats": "250",
        "features": ["cluster"],
        "custom_features": "custom_sso_bridge, acme_reports",
        "duration_days": "365",
        "grace_days": "30",
        "installation_id": "srv-42",
        "note": "PO 4471",
    }
    preview = sales.post("/console/licenses/preview", form, form="/console/licenses/new")
    assert preview.status_code == 200, preview.text[:2000]
    claims = claims_of(preview.text)
    assert claims["tier"] == "enterprise" and claims["seats"] == 250 and claims["installation_id"] == "srv-42"
    assert {"custom_sso_bridge", "acme_reports", "cluster"} <= set(claims["features"])
    assert "Custom features outside the catalog: acme_reports, custom_sso_bridge." in preview.text
    with db() as session:
        assert session.scalars(select(License).where(License.tier == "enterprise")).all() == []
    # "Change" goes back to the form with everything kept.
    back = sales.post("/console/licenses/new", form, form="/console/licenses/new")
    assert back.status_code == 200 and 'value="custom_sso_bridge, acme_reports"' in back.text
    assert 'id="feature-cluster" name="features" value="cluster" checked' in back.text
    # Sign posts exactly the previewed fields (hidden inputs).
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', preview.text))
    assert hidden["custom_features"] == "custom_sso_bridge, acme_reports" and hidden["seats"] == "250"
    signed = sales.post("/console/licenses", form, form="/console/licenses/new")
    assert signed.status_code == 303
    license_id = signed.headers["location"].split("/")[-1].split("?")[0]
    with db() as session:
        lic = session.get(License, license_id)
        assert lic is not None and lic.created_by == ACTOR
        assert sorted(lic.features) == claims["features"]
        file_text = lic.license_file
    checked = verify(file_text, keyring, now=START + timedelta(hours=1), installation_id="srv-42")
    assert checked.seats == 250 and "acme_reports" in checked.features
    [event] = [e for e in events(db, "license.issued") if e.subject_id == license_id]
    assert event.actor == ACTOR
    page = sales.client.get(signed.headers["location"])
    assert "The license is signed and issued." in page.text and license_id in page.text
    download = sales.client.get(f"/console/licenses/{license_id}/file")
    assert download.status_code == 200 and download.text == file_text
    assert download.headers["content-disposition"] == f'attachment; filename="{license_id}.lic"'


def test_issuing_errors_are_shown_with_the_input_kept(
    sales: Console, world: dict[str, str], db: Callable[[], Any]
) -> None:
    base = {"customer_id": world["customer"], "tier": "professional", "duration_days": "365", "note": "keep me"}
    no_seats = sales.post("/console/licenses/preview", base, form="/console/licenses/new")
    assert no_seats.status_code == 422 and 'id="error-seats"' in no_seats.text
    assert "need a seat count" in no_seats.text and "keep me" in no_seats.text
    typo = sales.post(
        "/console/licenses/preview", {**base, "seats": "5", "custom_features": "x"}, form="/console/licenses/new"
    )
    assert typo.status_code == 422 and 'id="error-custom_features"' in typo.text
    unknown = sales.post(
        "/console/licenses/preview",
        {**base, "tier": "enterprise", "seats": "5", "features": ["clustr"]},
        form="/console/licenses/new",
    )
    assert unknown.status_code == 422 and 'id="error-features"' in unknown.text
    assert "did you mean &#39;cluster&#39;?" in unknown.text
    bad_number = sales.post("/console/licenses", {**base, "seats": "ten"}, form="/console/licenses/new")
    assert bad_number.status_code == 422 and 'id="error-seats"' in bad_number.text and 'value="ten"' in bad_number.text
    with db() as session:
        assert len(session.scalars(select(License)).all()) == 1  # the world's alone


def test_renew_through_the_preview_then_revoke_the_line(
    sales: Console, world: dict[str, str], db: Callable[[], Any]
) -> None:
    old = world["license"]
    preview = sales.post(
        f"/console/licenses/{old}/renew/preview",
        {"duration_days": "365", "seats": "25"},
        form=f"/console/licenses/{old}/renew",
    )
    assert preview.status_code == 200, preview.text[:2000]
    assert 'data-claim="seats"' in preview.text and 'data-claim="exp"' in preview.text
    assert claims_of(preview.text)["supersedes"] == old
    signed = sales.post(
        f"/console/licenses/{old}/renew", {"duration_days": "365", "seats": "25"}, form=f"/console/licenses/{old}/renew"
    )
    assert signed.status_code == 303
    new = signed.headers["location"].split("/")[-1].split("?")[0]
    with db() as session:
        lic = session.get(License, new)
        assert lic is not None and lic.supersedes_id == old and lic.seats == 25 and lic.created_by == ACTOR
    old_page = sales.client.get(f"/console/licenses/{old}")
    assert 'data-status="superseded"' in old_page.text and f'id="newest">{new}' in old_page.text
    # Renewing the old one again is refused on the form.
    again = sales.post(
        f"/console/licenses/{old}/renew/preview", {"duration_days": "30"}, form=f"/console/licenses/{new}"
    )
    assert again.status_code == 409 and "already superseded" in again.text
    # Revoke: the confirmation page, then the post with a reason; the whole line is revoked.
    confirm = sales.client.get(f"/console/licenses/{new}/revoke")
    assert confirm.status_code == 200 and old in confirm.text and new in confirm.text
    empty = sales.post(f"/console/licenses/{new}/revoke", {"reason": ""}, form=f"/console/licenses/{new}/revoke")
    assert empty.status_code == 422 and 'id="error-reason"' in empty.text
    revoked = sales.post(
        f"/console/licenses/{new}/revoke", {"reason": "chargeback 1042"}, form=f"/console/licenses/{new}/revoke"
    )
    assert revoked.status_code == 303
    with db() as session:
        rows = session.scalars(select(License).where(License.line_id == old)).all()
        assert {lic.id for lic in rows} == {old, new} and all(lic.revoked_at for lic in rows)
    assert {e.actor for e in events(db, "license.revoked")} == {ACTOR}
    page = sales.client.get(revoked.headers["location"])
    assert "chargeback 1042" in page.text and 'id="revoke"' not in page.text


def test_send_a_license_to_the_customer_or_another_address(
    sales: Console, world: dict[str, str], db: Callable[[], Any]
) -> None:
    path = f"/console/licenses/{world['license']}"
    assert sales.post(f"{path}/send", {"to": ""}, form=path).status_code == 303
    assert sales.post(f"{path}/send", {"to": "it@navy-7e1f.example"}, form=path).status_code == 303
    bad = sales.post(f"{path}/send", {"to": "not an address"}, form=path)
    assert bad.status_code == 422 and 'value="not an address"' in bad.text
    with db() as session:
        sent = session.scalars(select(OutboxMessage.to_address).where(OutboxMessage.dedupe_key.like("license%"))).all()
    assert sorted(sent) == ["grace@navy-7e1f.example", "it@navy-7e1f.example"]
    assert [e.actor for e in events(db, "license.sent")] == [ACTOR, ACTOR]


def test_leads_by_organisation_and_reassigning_the_owner(
    sales: Console, world: dict[str, str], db: Callable[[], Any]
) -> None:
    org = world["organisation"]
    leads = sales.client.get("/console/leads")
    assert f'data-organisation="{org}"' in leads.text
    assert f'data-organisation="{org}"' not in sales.client.get("/console/leads?kind=pql").text
    assert f'data-organisation="{org}"' in sales.client.get("/console/leads?kind=mql").text
    assert f'data-organisation="{org}"' not in sales.client.get("/console/leads?owner=kim@vendor-c0n5.example").text
    path = f"/console/organisations/{org}"
    moved = sales.post(f"{path}/owner", {"owner": "Kim@Vendor-C0n5.example"}, form=path)
    assert moved.status_code == 303
    with db() as session:
        assert session.get(Organisation, org).owner == "Kim@vendor-c0n5.example"
    [event] = events(db, "organisation.owner_changed")
    assert event.actor == ACTOR
    page = sales.client.get(path)
    assert "Grace Hopper" in page.text and world["license"] in page.text and "hal@navy-7e1f.example" in page.text
    assert 'data-action="organisation.owner_changed"' in page.text and 'data-action="license.issued"' in page.text
    owned = sales.client.get("/console/leads?owner=Kim@vendor-c0n5.example")
    assert f'data-organisation="{org}"' in owned.text
    bad = sales.post(f"{path}/owner", {"owner": "nobody at all"}, form=path)
    assert bad.status_code == 422 and 'value="nobody at all"' in bad.text


def test_lists_filters_and_the_audit_log(sales: Console, world: dict[str, str]) -> None:
    assert world["license"] in sales.client.get("/console/licenses?status=active").text
    assert world["license"] not in sales.client.get("/console/licenses?status=revoked").text
    assert "Grace Hopper" in sales.client.get("/console/customers?q=navy").text
    assert "Grace Hopper" not in sales.client.get("/console/customers?q=army").text
    audit = sales.client.get(f"/console/audit?actor=staff:{SALES}")
    assert 'data-action="staff.sign_in"' in audit.text and 'data-action="license.issued"' not in audit.text
    assert 'data-action="license.issued"' in sales.client.get("/console/audit?action=license.issued").text
    assert sales.client.get("/console/subscriptions").status_code == 200
    assert sales.client.get("/console/true-ups").status_code == 200
    missing = sales.client.get("/console/licenses/lic_nothing", headers={"Accept": "text/html"})
    assert missing.status_code == 404


def test_signing_twice_issues_one_license(sales: Console, world: dict[str, str], db: Callable[[], Any]) -> None:
    form = {"customer_id": world["customer"], "tier": "professional", "seats": "3", "duration_days": "30"}
    preview = sales.post("/console/licenses/preview", form, form="/console/licenses/new")
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', preview.text))
    once = hidden["once"]
    first = sales.post("/console/licenses", {**form, "once": once}, form="/console/licenses/new")
    second = sales.post("/console/licenses", {**form, "once": once}, form="/console/licenses/new")
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    with db() as session:
        assert len(session.scalars(select(License)).all()) == 2  # the world's and this one
    # The same key with other fields is refused; a refused signing leaves the key usable.
    other = sales.post("/console/licenses", {**form, "seats": "4", "once": once}, form="/console/licenses/new")
    assert other.status_code == 409 and "different request" in other.text
    no_seats = {name: value for name, value in form.items() if name != "seats"}
    fresh = sales.post("/console/licenses", {**no_seats, "once": "k2"}, form="/console/licenses/new")
    assert fresh.status_code == 422 and 'id="error-seats"' in fresh.text
    fixed = sales.post("/console/licenses", {**form, "once": "k2"}, form="/console/licenses/new")
    assert fixed.status_code == 303 and fixed.headers["location"] != first.headers["location"]


def test_the_audit_log_pages(sales: Console, db: Callable[[], Any], core: Core) -> None:
    from licensing.access import audit

    with db() as session:
        for n in range(60):
            audit.record(session, core.now(), "test", "test.paged", "thing", f"thing_{n:02d}")
    first = sales.client.get("/console/audit?action=test.paged")
    assert first.text.count('data-action="test.paged"') == 50 and "thing_59" in first.text
    match = re.search(r'<a href="(\?[^"]+)" id="next">', first.text)
    assert match, "no next page"
    second = sales.client.get("/console/audit" + unescape(match.group(1)))
    assert second.text.count('data-action="test.paged"') == 10 and "thing_00" in second.text
    assert "thing_59" not in second.text and 'id="next"' not in second.text


def test_true_ups_of_sales_lines_are_listed_for_sales(sales: Console, db: Callable[[], Any], core: Core) -> None:
    with db() as session:
        customer = create_customer(session, core, "test", name="Ada", email="ada@trueup-41.example", company="Acme")
        recorded = record_sales_true_up(session, core, customer, START, seats=5, peak=8, installation_id="srv-9")
        session.commit()

    page = sales.client.get("/console/true-ups")

    assert page.status_code == 200
    row = re.search(r'<tr data-status="recorded">(.*?)</tr>', page.text, re.DOTALL)
    assert row, page.text[-3000:]
    cells = [
        unescape(re.sub(r"<[^>]+>", " ", cell)).split()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.DOTALL)
    ]
    assert f'data-customer="{customer.id}"' in row.group(1) and cells[1] == ["Acme"]
    assert " ".join(cells[2]) == f"{recorded.license_id} on srv-9 , report 1"
    assert cells[4:7] == [["5"], ["8"], ["3"]]
    assert 'data-status="recorded"' not in sales.client.get("/console/true-ups?status=raised").text


def test_a_console_page_given_a_query_it_cannot_take_is_a_page(sales: Console) -> None:
    html = {"Accept": "text/html"}
    for path in ("/console/true-ups?cursor=" + "x" * 70, "/console/audit?action=" + "a" * 101):
        answer = sales.client.get(path, headers=html)
        assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html"), path
        assert "Invalid request" in answer.text and 'class="site-header"' in answer.text
