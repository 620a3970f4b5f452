"""Leads (SPEC section 1, "Leads"): every self-serve request, a refused trial too, and every contact
request is a lead of its organisation; the organisation gets an owner by the catalog's [sales.routing]
and the owner is mailed once per lead; sales list them (JSON pages and CSV)."""

from __future__ import annotations

import csv
import dataclasses
import io
from typing import Any

import pytest
from api_testkit import Api, check_problem, self_serve
from sqlalchemy import select

from licensing.catalog import SalesRouting
from licensing.context import Core
from licensing.kit.settings import Settings
from licensing.models import Lead, Organisation, OutboxMessage

ROUTING = SalesRouting(
    default=None, accounts={"acme.example": "ann@sales.example"}, territories={"de": "dach@sales.example"}
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """LICENSING_SALES_EMAIL set."""
    return settings.model_copy(update={"sales_email": "sales@sales.example"})


@pytest.fixture
def core(core: Core) -> Core:
    """The shipped catalog with example routing."""
    return dataclasses.replace(core, catalog=dataclasses.replace(core.catalog, routing=ROUTING))


def _leads(api: Api) -> list[Lead]:
    with api.session_factory() as session:
        return list(session.scalars(select(Lead).order_by(Lead.id)))


def _owner(api: Api, organisation: str) -> str | None:
    with api.session_factory() as session:
        owner: str | None = session.scalars(
            select(Organisation.owner).where(Organisation.organisation == organisation)
        ).one()
        return owner


def _mails_to(api: Api, address: str) -> list[OutboxMessage]:
    with api.session_factory() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == address)))


def _contact(client: Any, **body: Any) -> Any:
    return client.post("/v1/contact-requests", json={"company": "Acme", "interest": "enterprise", **body})


def test_a_contact_request_is_an_mql_lead_routed_and_mailed(client: Any, api: Api) -> None:
    response = _contact(client, email="Bob@EU.acme.example", name="Bob", seats=500, message="=1+1 please")
    assert response.status_code == 202, response.text
    [lead] = _leads(api)
    assert (lead.organisation, lead.kind, lead.source, lead.interest, lead.seats) == (
        "acme.example",
        "mql",
        "contact",
        "enterprise",
        500,
    )
    assert _owner(api, "acme.example") == "ann@sales.example"
    [mail] = _mails_to(api, "ann@sales.example")
    assert mail.dedupe_key == f"lead:{lead.id}" and "Bob@eu.acme.example asked to be contacted" in mail.text_body


@pytest.mark.parametrize(
    ("email", "owner"),
    [
        ("x@acme.example", "ann@sales.example"),
        ("x@firma.de", "dach@sales.example"),
        ("x@other.io", "sales@sales.example"),
    ],
)
def test_routing_accounts_then_territories_then_the_sales_address(
    client: Any, api: Api, email: str, owner: str
) -> None:
    assert _contact(client, email=email).status_code == 202
    assert _owner(api, _leads(api)[0].organisation) == owner


def test_an_organisation_keeps_its_owner_and_the_owner_hears_of_every_lead(client: Any, api: Api) -> None:
    for i in range(3):
        assert _contact(client, email=f"p{i}@other.io").status_code == 202
    with api.session_factory() as session:
        session.execute(
            Organisation.__table__.update().values(owner="zoe@sales.example")  # type: ignore[attr-defined]
        )
        session.commit()
    assert _contact(client, email="p9@other.io").status_code == 202
    assert len(_mails_to(api, "sales@sales.example")) == 3
    assert len(_mails_to(api, "zoe@sales.example")) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"email": "x@acme.example", "interest": "discount"},
        {"email": "not an address"},
        {"email": "x@acme.example", "company": ""},
        {"email": "x@acme.example", "seats": 0},
        {"email": "x@acme.example", "extra": 1},
    ],
)
def test_a_bad_contact_request_is_refused(client: Any, api: Api, body: dict[str, Any]) -> None:
    response = _contact(client, **body)
    assert response.status_code in (400, 422), response.text
    check_problem(response, response.status_code)
    assert _leads(api) == []


@pytest.mark.parametrize("self_serve_confirmation", ["email", "none"])
def test_an_issued_trial_is_a_pql_lead(client: Any, api: Api) -> None:
    response = self_serve(client, "/v1/trials", {"email": "it@acme.example", "company": "Acme", "accept_terms": True})
    assert response.status_code == 201, response.text
    [lead] = _leads(api)
    assert (lead.kind, lead.source, lead.outcome) == ("pql", "trial", "issued")


def test_a_free_license_is_mql_unless_it_names_an_installation(client: Any, api: Api) -> None:
    assert self_serve(client, "/v1/free-licenses", {"email": "a@free.example"}).status_code == 201
    assert (
        self_serve(client, "/v1/free-licenses", {"email": "b@free.example", "installation_id": "b-1"}).status_code
        == 201
    )
    assert [(lead.kind, lead.outcome) for lead in _leads(api)] == [("mql", "issued"), ("pql", "issued")]


@pytest.mark.parametrize("self_serve_confirmation", ["email", "none"])
def test_a_refused_trial_is_a_lead_too(client: Any, api: Api) -> None:
    body = {"email": "a@acme.example", "company": "Acme", "accept_terms": True}
    assert self_serve(client, "/v1/trials", body).status_code == 201
    refused = client.post("/v1/trials", json={**body, "email": "b@acme.example"})
    check_problem(refused, 409, "trial_already_used")
    assert [(lead.email, lead.outcome) for lead in _leads(api)] == [
        ("a@acme.example", "issued"),
        ("b@acme.example", "refused"),
    ]
    assert len(_mails_to(api, "ann@sales.example")) == 2


def test_an_unknown_interest_is_named_as_such(client: Any, api: Api) -> None:
    problem = check_problem(_contact(client, email="x@acme.example", interest="discount"), 422, "invalid_interest")
    assert "enterprise" in problem["detail"]
    assert _leads(api) == []


def test_sales_list_leads_by_owner_kind_and_organisation_in_pages(client: Any, api: Api) -> None:
    for email in ("a@acme.example", "b@acme.example", "c@firma.de"):
        assert _contact(client, email=email).status_code == 202
    trial = {"email": "t@firma.de", "company": "F", "accept_terms": True}
    assert self_serve(client, "/v1/trials", trial).status_code == 201
    assert [x["email"] for x in api.list_all("/v1/leads", limit=1, owner="ann@sales.example")] == [
        "b@acme.example",
        "a@acme.example",
    ]
    assert [x["email"] for x in api.list_all("/v1/leads", kind="pql")] == ["t@firma.de"]
    assert [x["email"] for x in api.list_all("/v1/leads", organisation="firma.de")] == ["t@firma.de", "c@firma.de"]
    assert client.get("/v1/leads").status_code == 401
    check_problem(api.get("/v1/leads?kind=hot"), 422, "invalid_kind")
    check_problem(api.get("/v1/leads?since=2026-01-01T00:00:00"), 422)  # a time without its zone
    check_problem(api.get("/v1/leads?since=2026-13-01T00:00:00Z"), 422)
    assert len(api.list_all("/v1/leads", since="2000-01-01T00:00:00Z")) == 4
    assert api.list_all("/v1/leads", since="2999-01-01T00:00:00Z") == []


def test_leads_as_csv_are_safe_in_a_spreadsheet(client: Any, api: Api) -> None:
    assert _contact(client, email="x@acme.example", name="=HYPERLINK(1)", message="@SUM(A1)").status_code == 202
    response = api.get("/v1/leads", headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["email"], r["name"], r["message"]) for r in rows] == [("x@acme.example", "'=HYPERLINK(1)", "'@SUM(A1)")]


def test_an_organisation_shows_its_owner_customers_licenses_and_leads(client: Any, api: Api) -> None:
    trial = {"email": "it@acme.example", "company": "Acme", "accept_terms": True}
    assert self_serve(client, "/v1/trials", trial).status_code == 201
    assert _contact(client, email="cfo@acme.example", interest="quote").status_code == 202
    response = api.get("/v1/organisations/ACME.example")
    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["organisation"] == "acme.example" and detail["owner"] == "ann@sales.example"
    assert [c["email"] for c in detail["customers"]] == ["it@acme.example"]
    assert [lic["trial"] for lic in detail["licenses"]] == [True]
    assert detail["subscriptions"] == []
    assert [lead["source"] for lead in detail["leads"]] == ["contact", "trial"]
    check_problem(api.get("/v1/organisations/nobody.example"), 404, "organisation_not_found")


def test_sales_change_an_owner_and_it_is_audited(client: Any, api: Api, readonly_auth: dict[str, str]) -> None:
    assert _contact(client, email="x@other.io").status_code == 202
    response = client.patch("/v1/organisations/other.io", json={"owner": "Zoe@Sales.example"}, headers=api.auth)
    assert response.status_code == 200, response.text
    assert response.json()["owner"] == "Zoe@sales.example" and _owner(api, "other.io") == "Zoe@sales.example"
    events = api.list_all("/v1/audit-events", action="organisation.owner_changed")
    assert [(e["subject_id"], e["data"]) for e in events] == [
        ("other.io", {"owner": "Zoe@sales.example", "before": "sales@sales.example"})
    ]
    assert client.patch("/v1/organisations/other.io", json={"owner": None}, headers=readonly_auth).status_code == 403
    check_problem(client.patch("/v1/organisations/none.example", json={"owner": None}, headers=api.auth), 404)
    assert _contact(client, email="y@other.io").status_code == 202
    assert len(_mails_to(api, "Zoe@sales.example")) == 1
