"""Leads: the public contact requests, and for sales the leads (JSON pages or CSV) and organisations."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import CoreDep, RateLimitedClient, ReadKey, SalesKey, SessionDep
from api.public import PROBLEM_RESPONSES
from api.sales import actor
from api.schemas import (
    ContactAccepted,
    ContactRequest,
    CustomerOut,
    LeadList,
    LeadOut,
    LicenseOut,
    OrganisationOut,
    OrganisationPatch,
    SubscriptionOut,
)
from licensing.context import Core
from licensing.kit.errors import ValidationFailed
from licensing.leads.organisations import OrganisationDetail, organisation_detail, set_owner
from licensing.leads.records import list_leads, record_lead
from licensing.licenses.queries import newest_of_lines, successors

router = APIRouter()

Interest = Literal["enterprise", "quote", "trial_extension", "other"]


@router.post(
    "/v1/contact-requests",
    tags=["public"],
    status_code=202,
    response_model=ContactAccepted,
    summary="Ask sales to get in touch",
    description="A lead for the organisation of `email`, whose sales owner is e-mailed about it. "
    "Rate limited per client address like `POST /v1/trials`.",
    responses=PROBLEM_RESPONSES,
)
def create_contact_request(
    payload: ContactRequest, session: SessionDep, core: CoreDep, client: RateLimitedClient
) -> ContactAccepted:
    record_contact_request(session, core, payload, client)
    return ContactAccepted()


def record_contact_request(session: Session, core: Core, payload: ContactRequest, client: str) -> None:
    """The lead of a contact request (the API's and the /contact page's)."""
    record_lead(
        session,
        core,
        f"public:{client}",
        email=payload.email,
        source="contact",
        name=payload.name,
        company=payload.company,
        interest=payload.interest,
        seats=payload.seats,
        message=payload.message,
    )


# Cells a spreadsheet would take for a formula (OWASP, "CSV Injection") get a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def leads_csv(leads: list[LeadOut]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = list(LeadOut.model_fields)
    writer.writerow(columns)
    for lead in leads:
        writer.writerow([_cell(getattr(lead, c)) for c in columns])
    return out.getvalue()


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("since: not a time.", field="since") from None


@router.get(
    "/v1/leads",
    tags=["leads"],
    response_model=LeadList,
    summary="List leads",
    description="Newest first, a page at a time (`next_cursor`), by organisation, owner, kind and "
    "`since` (created at or after). With `Accept: text/csv`, the page as CSV with a header row (cells "
    "a spreadsheet would read as a formula are prefixed with `'`) and the next cursor in `Next-Cursor`.",
    responses={200: {"content": {"text/csv": {}}}, 401: {"description": "No or bad API key"}},
)
def read_leads(
    request: Request,
    session: SessionDep,
    key: ReadKey,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    cursor: Annotated[str | None, Query(max_length=64, description="`next_cursor` of the previous page.")] = None,
    organisation: Annotated[str | None, Query(max_length=320)] = None,
    owner: Annotated[str | None, Query(max_length=320)] = None,
    kind: Annotated[
        str | None,
        Query(
            max_length=10, description="pql or mql (else 422 invalid_kind).", json_schema_extra={"enum": ["pql", "mql"]}
        ),
    ] = None,
    since: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$",
            description="Created at or after this time, with its zone: 2026-12-01T00:00:00Z.",
        ),
    ] = None,
) -> Response:
    page = list_leads(
        session, limit=limit, cursor=cursor, organisation=organisation, owner=owner, kind=kind, since=_time(since)
    )
    data = [LeadOut.of(lead) for lead in page.items]
    if "text/csv" in request.headers.get("accept", ""):
        headers = {"Next-Cursor": page.next_cursor} if page.next_cursor else {}
        return Response(leads_csv(data), media_type="text/csv; charset=utf-8", headers=headers)
    body = LeadList(data=data, next_cursor=page.next_cursor)
    return Response(body.model_dump_json(), media_type="application/json")


def organisation_out(session: Session, detail: OrganisationDetail, now: datetime) -> OrganisationOut:
    later = successors(session, detail.licenses)
    newest = newest_of_lines(session, [sub.line_id for sub in detail.subscriptions])
    return OrganisationOut(
        organisation=detail.organisation,
        owner=detail.owner,
        customers=[CustomerOut.of(c) for c in detail.customers],
        licenses=[LicenseOut.of(lic, now, later.get(lic.id)) for lic in detail.licenses],
        subscriptions=[SubscriptionOut.of(sub, newest.get(sub.line_id or "")) for sub in detail.subscriptions],
        leads=[LeadOut.of(lead) for lead in detail.leads],
    )


OrganisationName = Annotated[str, PathParam(max_length=320, description="An organisation: acme.example")]
_ORGANISATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No lead and no customer of it", "content": {"application/problem+json": {}}},
    401: {"description": "No or bad API key"},
    403: {"description": "Role too low"},
}


@router.get(
    "/v1/organisations/{organisation}",
    tags=["leads"],
    response_model=OrganisationOut,
    summary="An organisation: its owner, customers, licenses, subscriptions and leads",
    description="Each list newest first, at most 100 items.",
    responses=_ORGANISATION_RESPONSES,
)
def read_organisation(
    organisation: OrganisationName, session: SessionDep, core: CoreDep, key: ReadKey
) -> OrganisationOut:
    return organisation_out(session, organisation_detail(session, organisation), core.now())


@router.patch(
    "/v1/organisations/{organisation}",
    tags=["leads"],
    response_model=OrganisationOut,
    summary="Change an organisation's sales owner",
    description="`{owner}`: an e-mail address, or null for nobody. Audited (`organisation.owner_changed`).",
    responses={**_ORGANISATION_RESPONSES, **PROBLEM_RESPONSES},
)
def update_organisation(
    organisation: OrganisationName, payload: OrganisationPatch, session: SessionDep, core: CoreDep, key: SalesKey
) -> OrganisationOut:
    detail = set_owner(session, core, actor(key), organisation, payload.owner)
    return organisation_out(session, detail, core.now())
