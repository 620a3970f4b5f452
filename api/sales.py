"""Sales-ops endpoints: customers, licenses and the audit log. Bearer API keys, by role."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from api.deps import CoreDep, ReadKey, SalesKey, SessionDep
from api.idempotent import respond
from api.public import PROBLEM_RESPONSES, issued
from api.schemas import (
    AuditEventList,
    AuditEventOut,
    CustomerCreate,
    CustomerList,
    CustomerOut,
    IssuedLicense,
    LicenseCreate,
    LicenseList,
    LicenseOut,
    LicenseRenew,
    LicenseRevoke,
)
from licensing.customers import create_customer, get_customer
from licensing.errors import ValidationFailed
from licensing.issuance import IssueRequest, get_license, issue_license, renew_license, revoke_license
from licensing.models import ApiKey, AuditEvent, Customer, License

router = APIRouter(
    prefix="/v1", responses={401: {"description": "No or bad API key"}, 403: {"description": "Role too low"}}
)

Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=64, description="`next_cursor` of the previous page.")]
LicenseId = Annotated[str, Path(max_length=40, description="A license id (lic_...).")]
Status = Literal["active", "grace", "expired", "scheduled", "superseded", "revoked"]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such customer or license", "content": {"application/problem+json": {}}}
}


def actor(key: ApiKey) -> str:
    return f"{key.name} ({key.id})"


def _check_cursor(cursor: str | None, prefix: str) -> str | None:
    if cursor is not None and not (cursor.startswith(prefix) and cursor[len(prefix) :].isalnum()):
        raise ValidationFailed("The cursor is not one this API gave out.", field="cursor", code="invalid_cursor")
    return cursor


def successors(session: Session, licenses: list[License]) -> dict[str, str]:
    """License id -> the id of the license that superseded it, for these licenses (one query)."""
    ids = [lic.id for lic in licenses]
    if not ids:
        return {}
    rows = session.execute(select(License.supersedes_id, License.id).where(License.supersedes_id.in_(ids))).all()
    return {old: new for old, new in rows if old is not None}


def license_out(session: Session, lic: License, now: datetime) -> LicenseOut:
    return LicenseOut.of(lic, now, successors(session, [lic]).get(lic.id))


# --- customers ---------------------------------------------------------------------------------
@router.post("/customers", tags=["customers"], status_code=201, response_model=CustomerOut, responses=PROBLEM_RESPONSES)
def post_customer(
    payload: CustomerCreate, request: Request, session: SessionDep, core: CoreDep, key: SalesKey
) -> Response:
    """Create a customer."""

    def produce() -> CustomerOut:
        customer = create_customer(
            session, core.catalog, actor(key), name=payload.name, email=payload.email, company=payload.company
        )
        return CustomerOut.of(customer)

    return respond(request, session, key.id, payload, produce)


@router.get("/customers", tags=["customers"], response_model=CustomerList)
def list_customers(
    session: SessionDep,
    key: ReadKey,
    limit: Limit = 50,
    cursor: Cursor = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> CustomerList:
    """List customers, newest first."""
    query = select(Customer).order_by(Customer.id.desc()).limit(limit + 1)
    if (after := _check_cursor(cursor, "cus_")) is not None:
        query = query.where(Customer.id < after)
    if email:
        query = query.where(Customer.email == email.strip())
    rows = list(session.scalars(query))
    page = rows[:limit]
    return CustomerList(data=[CustomerOut.of(c) for c in page], next_cursor=page[-1].id if len(rows) > limit else None)


@router.get("/customers/{customer_id}", tags=["customers"], response_model=CustomerOut, responses=NOT_FOUND)
def read_customer(customer_id: Annotated[str, Path(max_length=40)], session: SessionDep, key: ReadKey) -> CustomerOut:
    """One customer."""
    return CustomerOut.of(get_customer(session, customer_id))


# --- licenses ----------------------------------------------------------------------------------
@router.post(
    "/licenses",
    tags=["licenses"],
    status_code=201,
    response_model=IssuedLicense,
    responses={**PROBLEM_RESPONSES, **NOT_FOUND},
)
def post_license(
    payload: LicenseCreate, request: Request, session: SessionDep, core: CoreDep, key: SalesKey
) -> Response:
    """Issue a license of any offer, with custom seats, features, dates and installation binding.

    Sales may issue trials and extensions outside the self-serve trial rules; the audit log
    records who did. Enterprise licenses may carry custom features.
    """

    def produce() -> IssuedLicense:
        customer = get_customer(session, payload.customer_id)
        offer = core.catalog.offer_for(payload.tier, payload.trial)
        if "seats" in payload.model_fields_set and payload.seats is None and payload.tier != "enterprise":
            raise ValidationFailed(
                "Only enterprise licenses can have unlimited seats (seats: null).", field="seats", code="invalid_seats"
            )
        if payload.trial and payload.tier != "professional":
            raise ValidationFailed("Only professional licenses have trials.", field="trial", code="invalid_trial")
        enterprise_extra = payload.features if payload.tier == "enterprise" and payload.features is not None else None
        lic = issue_license(
            session,
            core,
            IssueRequest(
                customer=customer,
                offer=offer,
                actor=actor(key),
                source="api",
                seats=payload.seats,
                # "seats": null asks for unlimited seats (enterprise); leaving it out takes the offer's default.
                unlimited_seats=payload.tier == "enterprise"
                and "seats" in payload.model_fields_set
                and payload.seats is None,
                # Enterprise: the catalog's features plus any custom ones; other tiers: exactly those given.
                features=None if enterprise_extra is not None else payload.features,
                extra_features=enterprise_extra or (),
                starts_at=payload.starts_at,
                expires_at=payload.expires_at,
                duration_days=payload.duration_days,
                grace_days=payload.grace_days,
                installation_id=payload.installation_id,
                note=payload.note,
            ),
        )
        return issued(lic, core)

    return respond(request, session, key.id, payload, produce)


def _status_filter(query: Select[tuple[License]], status: Status, now: datetime) -> Select[tuple[License]]:
    later = aliased(License)
    superseded = exists().where(later.supersedes_id == License.id)
    if status == "revoked":
        return query.where(License.revoked_at.is_not(None))
    query = query.where(License.revoked_at.is_(None))
    if status == "superseded":
        return query.where(superseded)
    query = query.where(~superseded)
    if status == "scheduled":
        return query.where(License.starts_at > now)
    query = query.where(License.starts_at <= now)
    if status == "active":
        return query.where(or_(License.expires_at.is_(None), License.expires_at > now))
    if status == "grace":
        return query.where(and_(License.expires_at <= now, License.grace_ends_at > now))
    return query.where(License.grace_ends_at <= now)


@router.get("/licenses", tags=["licenses"], response_model=LicenseList)
def list_licenses(
    session: SessionDep,
    core: CoreDep,
    key: ReadKey,
    limit: Limit = 50,
    cursor: Cursor = None,
    customer_id: Annotated[str | None, Query(max_length=40)] = None,
    tier: Literal["free", "professional", "enterprise"] | None = None,
    status: Status | None = None,
    installation_id: Annotated[str | None, Query(max_length=200)] = None,
) -> LicenseList:
    """List licenses, newest first, filtered by customer, tier, status or installation."""
    now = core.now()
    query = select(License).order_by(License.id.desc()).limit(limit + 1)
    if (after := _check_cursor(cursor, "lic_")) is not None:
        query = query.where(License.id < after)
    if customer_id:
        query = query.where(License.customer_id == customer_id)
    if tier:
        query = query.where(License.tier == tier)
    if installation_id:
        query = query.where(License.installation_id == installation_id)
    if status:
        query = _status_filter(query, status, now)
    rows = list(session.scalars(query))
    page = rows[:limit]
    later = successors(session, page)
    return LicenseList(
        data=[LicenseOut.of(lic, now, later.get(lic.id)) for lic in page],
        next_cursor=page[-1].id if len(rows) > limit else None,
    )


@router.get("/licenses/{license_id}", tags=["licenses"], response_model=LicenseOut, responses=NOT_FOUND)
def read_license(license_id: LicenseId, session: SessionDep, core: CoreDep, key: ReadKey) -> LicenseOut:
    """One license, with its status."""
    return license_out(session, get_license(session, license_id), core.now())


@router.get(
    "/licenses/{license_id}/file",
    tags=["licenses"],
    response_class=Response,
    responses={
        200: {"content": {"application/x-license-file": {}}, "description": "The armored license file"},
        **NOT_FOUND,
    },
)
def download_license(license_id: LicenseId, session: SessionDep, key: ReadKey) -> Response:
    """The armored license file, as an attachment."""
    lic = get_license(session, license_id)
    return Response(
        lic.license_file,
        media_type="application/x-license-file",
        headers={"Content-Disposition": f'attachment; filename="{lic.id}.lic"'},
    )


@router.post(
    "/licenses/{license_id}/renew",
    tags=["licenses"],
    status_code=201,
    response_model=IssuedLicense,
    responses={**PROBLEM_RESPONSES, **NOT_FOUND},
)
def renew(
    license_id: LicenseId, payload: LicenseRenew, request: Request, session: SessionDep, core: CoreDep, key: SalesKey
) -> Response:
    """A new license that supersedes this one. `duration_days` counts from the old end (or now)."""

    def produce() -> IssuedLicense:
        lic = renew_license(
            session,
            core,
            actor(key),
            license_id,
            expires_at=payload.expires_at,
            duration_days=payload.duration_days,
            seats=payload.seats,
            note=payload.note,
        )
        return issued(lic, core)

    return respond(request, session, key.id, payload, produce)


@router.post(
    "/licenses/{license_id}/revoke",
    tags=["licenses"],
    response_model=LicenseOut,
    responses={**PROBLEM_RESPONSES, **NOT_FOUND},
)
def revoke(
    license_id: LicenseId, payload: LicenseRevoke, request: Request, session: SessionDep, core: CoreDep, key: SalesKey
) -> Response:
    """Revoke a license; the signed revocation list is re-signed at once."""

    def produce() -> LicenseOut:
        lic = revoke_license(session, core, actor(key), license_id, payload.reason)
        return license_out(session, lic, core.now())

    return respond(request, session, key.id, payload, produce, status_code=200)


# --- audit -------------------------------------------------------------------------------------
@router.get("/audit-events", tags=["audit"], response_model=AuditEventList)
def list_audit_events(
    session: SessionDep,
    key: ReadKey,
    limit: Limit = 50,
    cursor: Cursor = None,
    subject_id: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
) -> AuditEventList:
    """The audit log, newest first: who changed what, and when."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if cursor is not None:
        if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:
            raise ValidationFailed("The cursor is not one this API gave out.", field="cursor", code="invalid_cursor")
        query = query.where(AuditEvent.id < int(cursor))
    if subject_id:
        query = query.where(AuditEvent.subject_id == subject_id)
    if action:
        query = query.where(AuditEvent.action == action)
    rows = list(session.scalars(query))
    page = rows[:limit]
    return AuditEventList(
        data=[AuditEventOut.of(e) for e in page], next_cursor=str(page[-1].id) if len(rows) > limit else None
    )
