"""Sales-ops endpoints: customers, licenses, subscriptions, self-serve requests and the audit log. Bearer API
keys, by role."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import CoreDep, ReadKey, SalesKey, SessionDep
from api.idempotent import respond
from api.public import PROBLEM_RESPONSES, issued
from api.schemas import (
    AuditEventList,
    AuditEventOut,
    CatalogOut,
    Change,
    CustomerCreate,
    CustomerList,
    CustomerOut,
    CustomerUpdate,
    IssuedLicense,
    LicenseCreate,
    LicenseList,
    LicenseOut,
    LicensePreview,
    LicensePreviewOut,
    LicenseRenew,
    LicenseRevoke,
    LicenseSend,
    LicenseSent,
    OfferOut,
    PreviewComparison,
    PriceOut,
    SeatRange,
    SelfServeRequestList,
    SelfServeRequestOut,
    SubscriptionList,
    SubscriptionOut,
)
from licensing.context import Core
from licensing.kit.errors import NotFound, ValidationFailed
from licensing.licenses import queries
from licensing.licenses.customers import create_customer, get_customer, update_customer
from licensing.licenses.issuance import (
    IssueRequest,
    get_license,
    issue_license_unguarded,
    renew_license,
    renewal_request,
)
from licensing.licenses.preview import Preview, preview_license
from licensing.licenses.queries import newest_of_lines, successors
from licensing.licenses.revocations import revoke_license
from licensing.licenses.status import Status
from licensing.mail.sending import send_license
from licensing.models import ApiKey, Customer, License, Subscription
from licensing.selfserve.requests import RequestStatus, list_requests, request_status

router = APIRouter(
    prefix="/v1", responses={401: {"description": "No or bad API key"}, 403: {"description": "Role too low"}}
)

Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=64, description="`next_cursor` of the previous page.")]
LicenseId = Annotated[str, Path(max_length=40, description="A license id (lic_...).")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such customer, license or subscription", "content": {"application/problem+json": {}}}
}
# Stripe's subscription statuses.
SubscriptionStatus = Literal[
    "active", "trialing", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "paused"
]


def actor(key: ApiKey) -> str:
    return f"{key.name} ({key.id})"


def license_out(session: Session, lic: License, now: datetime) -> LicenseOut:
    return LicenseOut.of(lic, now, successors(session, [lic]).get(lic.id))


# --- customers ---------------------------------------------------------------------------------
@router.post("/customers", tags=["customers"], status_code=201, response_model=CustomerOut, responses=PROBLEM_RESPONSES)
def post_customer(
    payload: CustomerCreate, request: Request, session: SessionDep, core: CoreDep, key: SalesKey
) -> Response:
    """Create a customer."""

    def produce() -> CustomerOut:
        return CustomerOut.of(customer_created(session, core, actor(key), payload))

    return respond(request, session, key.id, payload, produce)


def customer_created(session: Session, core: Core, actor: str, payload: CustomerCreate) -> Customer:
    """The customer a `POST /v1/customers` body makes (the API's and the console's)."""
    return create_customer(
        session,
        core,
        actor,
        name=payload.name,
        email=payload.email,
        company=payload.company,
        allow_duplicate=payload.allow_duplicate,
    )


@router.patch(
    "/customers/{customer_id}",
    tags=["customers"],
    response_model=CustomerOut,
    responses={**PROBLEM_RESPONSES, **NOT_FOUND},
)
def patch_customer(
    customer_id: Annotated[str, Path(max_length=40)],
    payload: CustomerUpdate,
    session: SessionDep,
    core: CoreDep,
    key: SalesKey,
) -> CustomerOut:
    """Change a customer's name, e-mail or company; a new e-mail recomputes the organisation, and one
    another customer has is 409 `customer_exists`. Audited with before and after."""
    return CustomerOut.of(customer_updated(session, core, actor(key), customer_id, payload))


def customer_updated(session: Session, core: Core, actor: str, customer_id: str, payload: CustomerUpdate) -> Customer:
    """The customer a `PATCH /v1/customers/{id}` body changes (the API's and the console's)."""
    return update_customer(
        session,
        core,
        actor,
        customer_id,
        name=payload.name,
        email=payload.email,
        company=payload.company,
        clear_company="company" in payload.model_fields_set and payload.company is None,
    )


@router.get("/customers", tags=["customers"], response_model=CustomerList)
def list_customers(
    session: SessionDep,
    key: ReadKey,
    limit: Limit = 50,
    cursor: Cursor = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> CustomerList:
    """List customers, newest first."""
    page = queries.list_customers(session, limit=limit, cursor=cursor, email=email)
    return CustomerList(data=[CustomerOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/customers/{customer_id}", tags=["customers"], response_model=CustomerOut, responses=NOT_FOUND)
def read_customer(customer_id: Annotated[str, Path(max_length=40)], session: SessionDep, key: ReadKey) -> CustomerOut:
    """One customer."""
    return CustomerOut.of(get_customer(session, customer_id))


# --- catalog -----------------------------------------------------------------------------------
@router.get("/catalog", tags=["catalog"], response_model=CatalogOut)
def read_catalog(core: CoreDep, key: ReadKey) -> CatalogOut:
    """The offers sales may issue: features, seat ranges, grace, terms and prices; and each tier's features."""
    catalog = core.catalog
    return CatalogOut(
        offers=[
            OfferOut(
                key=offer.key,
                tier=offer.tier,
                trial=offer.trial,
                term_days=offer.term_days,
                seats=SeatRange(default=offer.seats.default, min=offer.seats.minimum, max=offer.seats.maximum),
                grace_days=offer.grace_days,
                features=list(offer.features),
                self_serve=offer.self_serve,
                max_moves=offer.max_moves,
                prices=[
                    PriceOut(
                        lookup_key=p.lookup_key, interval=p.interval, unit_amount=p.unit_amount, currency=p.currency
                    )
                    for p in offer.prices
                ],
            )
            for offer in catalog.offers.values()
        ],
        features={tier: list(names) for tier, names in catalog.tier_features.items()},
    )


# --- licenses ----------------------------------------------------------------------------------
def issue_request(session: Session, core: Core, actor: str, payload: LicenseCreate | LicensePreview) -> IssueRequest:
    """The issuance a `POST /v1/licenses` body asks for (the API's and the console's), by ``actor``."""
    if payload.customer_id is None or payload.tier is None:
        missing = "customer_id" if payload.customer_id is None else "tier"
        raise ValidationFailed(f"Give {missing} (or renews).", field=missing, code="invalid_preview")
    return IssueRequest(
        customer=get_customer(session, payload.customer_id),
        offer=core.catalog.offer_for(payload.tier, payload.trial),
        actor=actor,
        source="api",
        seats=payload.seats,
        # "seats": null asks for unlimited seats (enterprise); a paid license without seats is refused.
        unlimited_seats="seats" in payload.model_fields_set and payload.seats is None,
        features=payload.features,
        custom_features=payload.custom_features,
        starts_at=payload.starts_at,
        expires_at=payload.expires_at,
        duration_days=payload.duration_days,
        grace_days=payload.grace_days,
        installation_id=payload.installation_id,
        note=payload.note,
    )


_RENEWAL_FIELDS = frozenset({"renews", "expires_at", "duration_days", "seats", "custom_features", "note"})


@router.post(
    "/licenses/preview",
    tags=["licenses"],
    response_model=LicensePreviewOut,
    responses={**PROBLEM_RESPONSES, **NOT_FOUND},
)
def preview(payload: LicensePreview, session: SessionDep, core: CoreDep, key: SalesKey) -> LicensePreviewOut:
    """What `POST /v1/licenses` (or, with `renews`, a renewal of that license) would sign: the exact
    claims, warnings (seats above the offer's default, a term over three years, a past start) and, for a
    renewal, the claims that change and `comparison`: what installing it changes against the line's newest
    license (SPEC section 8, the lines `licensing verify --compare` prints). Nothing is stored, signed or
    audited."""
    result = preview_of(session, core, actor(key), payload)
    return LicensePreviewOut(
        claims=result.claims,
        warnings=result.warnings,
        changes=[Change(claim=c["claim"], from_=c["from"], to=c["to"]) for c in result.changes],
        comparison=None
        if result.comparison is None
        else PreviewComparison(
            changes=result.comparison.changes, warnings=result.comparison.warnings, lines=result.comparison.lines
        ),
    )


def preview_of(session: Session, core: Core, actor: str, payload: LicensePreview) -> Preview:
    """The preview a `POST /v1/licenses/preview` body asks for (the API's and the console's)."""
    if payload.renews is not None:
        extra = sorted(payload.model_fields_set - _RENEWAL_FIELDS)
        if extra:
            raise ValidationFailed(
                f"A renewal takes expires_at, duration_days, seats, custom_features and note, not {', '.join(extra)}.",
                field=extra[0],
                code="invalid_preview",
            )
        request = renewal_request(
            session,
            core,
            actor,
            payload.renews,
            expires_at=payload.expires_at,
            duration_days=payload.duration_days,
            seats=payload.seats,
            custom_features=payload.custom_features,
            note=payload.note,
        )
    else:
        request = issue_request(session, core, actor, payload)
    return preview_license(session, core, request)


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
        # No savepoint: nothing here or in respond catches the error, so a failure rolls the whole
        # request back (api.deps), the Idempotency-Key's reservation with it.
        lic = issue_license_unguarded(session, core, issue_request(session, core, actor(key), payload))
        return issued(lic, core)

    return respond(request, session, key.id, payload, produce)


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
    page = queries.list_licenses(
        session,
        now,
        limit=limit,
        cursor=cursor,
        customer_id=customer_id,
        tier=tier,
        status=status,
        installation_id=installation_id,
    )
    later = successors(session, page.items)
    return LicenseList(
        data=[LicenseOut.of(lic, now, later.get(lic.id)) for lic in page.items], next_cursor=page.next_cursor
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
        return issued(renewed(session, core, actor(key), license_id, payload), core)

    return respond(request, session, key.id, payload, produce)


def renewed(session: Session, core: Core, actor: str, license_id: str, payload: LicenseRenew) -> License:
    """The license a `POST /v1/licenses/{id}/renew` body issues (the API's and the console's)."""
    return renew_license(
        session,
        core,
        actor,
        license_id,
        expires_at=payload.expires_at,
        duration_days=payload.duration_days,
        seats=payload.seats,
        custom_features=payload.custom_features,
        note=payload.note,
    )


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


@router.post(
    "/licenses/{license_id}/send",
    tags=["licenses"],
    status_code=202,
    response_model=LicenseSent,
    responses={**PROBLEM_RESPONSES, **NOT_FOUND},
)
def send(
    license_id: LicenseId, payload: LicenseSend, request: Request, session: SessionDep, core: CoreDep, key: SalesKey
) -> Response:
    """E-mail the license file (attached) to the customer, or to `to`; queued in the outbox, audited.
    A revoked license is 409 `license_revoked`. With an `Idempotency-Key`, sent at most once per key."""

    def produce() -> LicenseSent:
        sent = send_license(session, core, actor(key), license_id, payload.to)
        return LicenseSent(license_id=sent.license_id, to=sent.to, queued=True)

    return respond(request, session, key.id, payload, produce, status_code=202)


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
    page = queries.list_audit_events(session, limit=limit, cursor=cursor, subject_id=subject_id, action=action)
    return AuditEventList(data=[AuditEventOut.of(e) for e in page.items], next_cursor=page.next_cursor)


# --- subscriptions -----------------------------------------------------------------------------
@router.get("/subscriptions", tags=["subscriptions"], response_model=SubscriptionList)
def list_subscriptions(
    session: SessionDep,
    key: ReadKey,
    limit: Limit = 50,
    cursor: Cursor = None,
    customer_id: Annotated[str | None, Query(max_length=40)] = None,
    status: SubscriptionStatus | None = None,
) -> SubscriptionList:
    """Self-serve subscriptions, newest first, filtered by customer or Stripe status."""
    page = queries.list_subscriptions(session, limit=limit, cursor=cursor, customer_id=customer_id, status=status)
    newest = newest_of_lines(session, [sub.line_id for sub in page.items])
    return SubscriptionList(
        data=[SubscriptionOut.of(sub, newest.get(sub.line_id or "")) for sub in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/subscriptions/{subscription_id}", tags=["subscriptions"], response_model=SubscriptionOut, responses=NOT_FOUND
)
def read_subscription(
    subscription_id: Annotated[str, Path(max_length=40, description="A subscription id of ours (sub_...).")],
    session: SessionDep,
    key: ReadKey,
) -> SubscriptionOut:
    """One subscription: Stripe's status, seats, interval and period end, its license line and newest license."""
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFound(f"No subscription {subscription_id!r}.", code="subscription_not_found")
    newest = newest_of_lines(session, [sub.line_id])
    return SubscriptionOut.of(sub, newest.get(sub.line_id or ""))


# --- self-serve requests -------------------------------------------------------------------------
@router.get("/self-serve-requests", tags=["self-serve requests"], response_model=SelfServeRequestList)
def list_self_serve_requests(
    session: SessionDep,
    core: CoreDep,
    key: ReadKey,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: RequestStatus | None = None,
    kind: Literal["trial", "free"] | None = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    organisation: Annotated[str | None, Query(max_length=320, description="e.g. `acme.co.uk`")] = None,
) -> SelfServeRequestList:
    """Self-serve trial and free-license requests, newest first: the product-qualified leads.

    `status` is `pending_confirmation` (link mailed, not followed yet), `issued` (`license_id`), `refused`
    (`refusal_code`: the trial rules refused it on confirmation) or `expired` (not confirmed within 24
    hours). `created_by` is the requesting client's address.
    """
    now = core.now()
    page = list_requests(
        session,
        now,
        limit=limit,
        cursor=cursor,
        status=status,
        kind=kind,
        email=email,
        organisation=organisation,
    )
    return SelfServeRequestList(
        data=[SelfServeRequestOut.of(row, request_status(row, now)) for row in page.items], next_cursor=page.next_cursor
    )
