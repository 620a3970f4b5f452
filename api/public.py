"""Public endpoints: keys, revocations, trials and free licenses (and polling for them), refresh and health."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.conditional import conditional
from api.deps import CoreDep, RateLimitedClient, ReadSessionDep, SessionDep, bearer_token
from api.idempotent import respond
from api.ratelimit import PublicRateLimit
from api.schemas import (
    FreeLicenseRequest,
    IssuedLicense,
    LicenseOut,
    RefreshOut,
    RefreshRequest,
    SelfServePending,
    SelfServeState,
    TrialRequest,
)
from licensing.context import Core
from licensing.licenses.issuance import refresh_license
from licensing.licenses.queries import successors
from licensing.licenses.revocations import revocation_list
from licensing.models import License
from licensing.selfserve.requests import (
    TRIAL_USED_MESSAGE,
    Ask,
    Pending,
    free_ask,
    issues_at_once,
    poll,
    request_license,
    request_status,
    trial_ask,
)

router = APIRouter()
# An answer that carries a license file (or the poll token that fetches one) is its requester's alone.
NO_STORE = {"Cache-Control": "no-store"}

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


# Both documents are public and the same for everyone: a CDN may keep them, and revalidates them with
# their ETag (304 Not Modified, no body) once they are older than max-age. A revocation must reach the
# fleet soon, so the list's copies are fresh for a minute and never served stale.
JWKS_CACHE = "public, max-age=300"
REVOCATIONS_CACHE = "public, max-age=60, must-revalidate"
_CONDITIONAL: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the `If-None-Match` tag is the current `ETag`; no body."}
}


@router.get(
    "/.well-known/jwks.json",
    tags=["public"],
    summary="The public signing keys (JWKS)",
    description="With an `ETag`; `If-None-Match` with it answers 304 when nothing changed.",
    responses=_CONDITIONAL,
)
def jwks(request: Request, core: CoreDep) -> Response:
    return conditional(request, JSONResponse(core.keys.jwks()), JWKS_CACHE)


@router.get(
    "/v1/revocations",
    tags=["public"],
    summary="The signed revocation list",
    response_class=PlainTextResponse,
    description="With an `ETag`; `If-None-Match` with it answers 304 when nothing changed.",
    responses={
        200: {"content": {"text/plain": {"example": "-----BEGIN LICENSE REVOCATIONS-----\n...\n"}}},
        **_CONDITIONAL,
    },
)
def revocations(request: Request, session: SessionDep, core: CoreDep) -> Response:
    listing = PlainTextResponse(
        revocation_list(session, core), headers={"Content-Disposition": 'inline; filename="revocations.lic"'}
    )
    return conditional(request, listing, REVOCATIONS_CACHE)


def trial_ask_of(payload: TrialRequest) -> Ask:
    return trial_ask(
        email=payload.email,
        name=payload.name,
        company=payload.company,
        installation_id=payload.installation_id,
        seats=payload.seats,
        accept_terms=payload.accept_terms,
    )


def free_ask_of(payload: FreeLicenseRequest) -> Ask:
    return free_ask(
        email=payload.email, name=payload.name, company=payload.company, installation_id=payload.installation_id
    )


def _answer_self_serve(
    request: Request, session: Session, core: Core, payload: BaseModel, ask: Callable[[], Ask], client: str
) -> Response:
    """202 and the pending request, or 201 and the license with confirmation off. An Idempotency-Key
    replays the first answer, poll token included: a replay needs the same key, body and client, so
    it goes to whoever sent the first."""
    status_code = 201 if issues_at_once(core) else 202

    def produce() -> BaseModel:
        result = request_license(session, core, ask(), actor=f"public:{client}")
        if isinstance(result, Pending):
            return SelfServePending(id=result.request.id, poll_token=result.poll_token)
        return issued(result, core)

    response = respond(request, session, f"public:{client}", payload, produce, status_code=status_code)
    response.headers.update(NO_STORE)  # the license file, or the poll token that fetches it (replays too)
    return response


_SELF_SERVE_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {
        "model": IssuedLicense,
        "description": "Issued at once: confirmation is off (`LICENSING_SELF_SERVE_CONFIRMATION=none`).",
    },
    **PROBLEM_RESPONSES,
}
_CONFIRMATION = (
    "Nothing is issued yet: the answer is 202 with the request's `id` and a `poll_token`, and a single-use "
    "confirmation link is mailed to `email` (valid 24 hours). Following it issues the license, shows it and "
    "mails it; a server that asked in-product polls `GET /v1/self-serve-requests/{id}` with "
    "`Authorization: Bearer <poll_token>`. With confirmation off the answer is 201 with the license. "
    "Rate limited per client address; one address gets at most a few confirmation e-mails an hour "
    "(further requests are answered alike but send none)."
)


@router.post(
    "/v1/trials",
    tags=["public"],
    status_code=202,
    response_model=SelfServePending,
    summary="Start a 30-day Professional trial",
    description="One trial per organisation (the registrable domain of `email`, or the canonical address at a "
    "free-mail provider) and per `installation_id`, none after paying: 409 `trial_already_used` at once when "
    "the rules already refuse, checked again on confirmation. " + _CONFIRMATION,
    responses=_SELF_SERVE_RESPONSES,
)
def create_trial(
    payload: TrialRequest, request: Request, session: SessionDep, core: CoreDep, client: RateLimitedClient
) -> Response:
    return _answer_self_serve(request, session, core, payload, lambda: trial_ask_of(payload), client)


@router.post(
    "/v1/free-licenses",
    tags=["public"],
    status_code=202,
    response_model=SelfServePending,
    summary="Get a perpetual free license",
    description=_CONFIRMATION,
    responses=_SELF_SERVE_RESPONSES,
)
def create_free_license(
    payload: FreeLicenseRequest, request: Request, session: SessionDep, core: CoreDep, client: RateLimitedClient
) -> Response:
    return _answer_self_serve(request, session, core, payload, lambda: free_ask_of(payload), client)


_poll_bearer = HTTPBearer(
    auto_error=False, scheme_name="PollToken", description="The `poll_token` of the request's 202 answer."
)


@router.get(
    "/v1/self-serve-requests/{request_id}",
    tags=["public"],
    response_model=SelfServeState,
    summary="Where a self-serve request stands",
    description="For the holder of the request's `poll_token` (`Authorization: Bearer <poll_token>`): "
    "`pending_confirmation` until the e-mailed link is followed, then `issued` with `license` and "
    "`license_file`; `expired` when unconfirmed after 24 hours; `refused` with `code` when the trial rules "
    "refused it on confirmation. An unknown id and a wrong or missing token alike answer 404 "
    "`self_serve_request_not_found`.",
    responses={
        404: {"description": "No such request, or not its poll token", "content": {"application/problem+json": {}}},
        429: PROBLEM_RESPONSES[429],
    },
)
def read_self_serve_request(
    request_id: Annotated[str, Path(max_length=40, description="The request's id (ssr_...).")],
    session: SessionDep,
    core: CoreDep,
    client: RateLimitedClient,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_poll_bearer)],
) -> Response:
    token = bearer_token(credentials)
    row = poll(session, request_id, token)
    now = core.now()
    status = request_status(row, now)
    state = SelfServeState(status=status)
    if status == "issued" and row.license is not None:
        superseded_by = successors(session, [row.license]).get(row.license.id)
        state = SelfServeState(
            status=status, license=LicenseOut.of(row.license, now, superseded_by), license_file=row.license.license_file
        )
    elif status == "refused":
        state = SelfServeState(status=status, code=row.refusal_code, detail=TRIAL_USED_MESSAGE)
    return Response(state.model_dump_json(exclude_unset=True), media_type="application/json", headers=NO_STORE)


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
def refresh(
    payload: RefreshRequest, response: Response, session: ReadSessionDep, core: CoreDep, client: RateLimitedClient
) -> RefreshOut:
    result = refresh_license(session, core, payload.license_file)
    response.headers.update(NO_STORE)
    return RefreshOut(license_file=result.license_file, changed=result.changed)


@router.get("/healthz", tags=["operation"], summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["operation"],
    summary="The database is reachable and a signing key is loaded",
    description="200 `ready`, or 503 `not_ready` naming the failed check. When Redis (the shared rate limit) "
    "does not answer, 200 `degraded`: the service works on, each process counting the rate limit itself.",
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
    ready = all(v.startswith("ok") for v in checks.values())
    # Redis holds only the public rate limit's counts, and without it each process counts in its own
    # memory (api.ratelimit): the service still works, so it stays ready (200) and reports "degraded".
    # A 503 here would make the load balancer take every replica out at once because of the cache.
    degraded = False
    limiter: PublicRateLimit = request.app.state.rate_limiter
    if limiter.shared:  # Redis: the workers' shared counts
        if limiter.check():
            checks["rate_limit_storage"] = "ok"
        else:
            checks["rate_limit_storage"] = "unreachable: counting the public rate limit in each process's memory"
            degraded = True
    status = "not_ready" if not ready else "degraded" if degraded else "ready"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)
