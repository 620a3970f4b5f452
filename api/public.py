"""Public endpoints: keys, revocations, trials, free licenses, refresh and health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from limits.storage import MemoryStorage
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.deps import CoreDep, RateLimitedClient, SessionDep
from api.idempotent import respond
from api.ratelimit import PublicRateLimit
from api.schemas import FreeLicenseRequest, IssuedLicense, LicenseOut, RefreshOut, RefreshRequest, TrialRequest
from licensing.core import Core
from licensing.issuance import refresh_license, revocation_list
from licensing.models import License
from licensing.selfserve import request_free, request_trial

router = APIRouter()

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": desc, "content": {"application/problem+json": {}}}
    for code, desc in (
        (400, "Malformed JSON"),
        (409, "Conflict"),
        (413, "Body too large"),
        (422, "Invalid input"),
        (429, "Rate limited"),
    )
}


def issued(lic: License, core: Core) -> IssuedLicense:
    return IssuedLicense(license=LicenseOut.of(lic, core.now(), None), license_file=lic.license_file)


@router.get("/.well-known/jwks.json", tags=["public"], summary="The public signing keys (JWKS)")
def jwks(core: CoreDep) -> JSONResponse:
    return JSONResponse(core.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})


@router.get(
    "/v1/revocations",
    tags=["public"],
    summary="The signed revocation list",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"example": "-----BEGIN LICENSE REVOCATIONS-----\n...\n"}}}},
)
def revocations(session: SessionDep, core: CoreDep) -> Response:
    return PlainTextResponse(
        revocation_list(session, core),
        headers={"Cache-Control": "public, max-age=60", "Content-Disposition": 'inline; filename="revocations.lic"'},
    )


def start_trial(session: Session, core: Core, payload: TrialRequest, client: str) -> License:
    """A trial for a validated request from ``client`` (the API and the /trial page)."""
    return request_trial(
        session,
        core,
        email=payload.email,
        name=payload.name,
        company=payload.company,
        installation_id=payload.installation_id,
        seats=payload.seats,
        accept_terms=payload.accept_terms,
        actor=f"public:{client}",
    )


@router.post(
    "/v1/trials",
    tags=["public"],
    status_code=201,
    response_model=IssuedLicense,
    summary="Start a 30-day Professional trial",
    responses=PROBLEM_RESPONSES,
)
def create_trial(
    payload: TrialRequest, request: Request, session: SessionDep, core: CoreDep, client: RateLimitedClient
) -> Response:
    def produce() -> IssuedLicense:
        return issued(start_trial(session, core, payload, client), core)

    return respond(request, session, f"public:{client}", payload, produce)


@router.post(
    "/v1/free-licenses",
    tags=["public"],
    status_code=201,
    response_model=IssuedLicense,
    summary="Get a perpetual free license",
    responses=PROBLEM_RESPONSES,
)
def create_free_license(
    payload: FreeLicenseRequest, request: Request, session: SessionDep, core: CoreDep, client: RateLimitedClient
) -> Response:
    def produce() -> IssuedLicense:
        lic = request_free(
            session,
            core,
            email=payload.email,
            name=payload.name,
            company=payload.company,
            installation_id=payload.installation_id,
            actor=f"public:{client}",
        )
        return issued(lic, core)

    return respond(request, session, f"public:{client}", payload, produce)


@router.post(
    "/v1/licenses/refresh",
    tags=["public"],
    response_model=RefreshOut,
    summary="The newest license of a license's line",
    description="A connected server sends its current license file and gets the newest one of the same line "
    "(after a renewal or a seat change). `changed` says whether it differs. A revoked license gets 403 `revoked`.",
    responses={
        403: {"description": "Revoked", "content": {"application/problem+json": {}}},
        404: {"description": "Not a license this service issued", "content": {"application/problem+json": {}}},
        **PROBLEM_RESPONSES,
    },
)
def refresh(payload: RefreshRequest, session: SessionDep, core: CoreDep, client: RateLimitedClient) -> RefreshOut:
    result = refresh_license(session, core, payload.license_file)
    return RefreshOut(license_file=result.license.license_file, changed=result.changed)


@router.get("/healthz", tags=["operation"], summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["operation"],
    summary="The database is reachable and a signing key is loaded (and Redis answers, when configured)",
)
def readyz(request: Request, core: CoreDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        checks["signing_key"] = f"ok ({core.signer().kid})"
    except Exception as exc:
        checks["signing_key"] = f"missing: {exc}"
    limiter: PublicRateLimit = request.app.state.rate_limiter
    if not isinstance(limiter.storage, MemoryStorage):  # Redis: the workers' shared counts
        checks["rate_limit_storage"] = "ok" if limiter.check() else "unreachable"
    ready = all(v.startswith("ok") for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )
