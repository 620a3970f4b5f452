"""Air-gapped installations for sales ops (SPEC section 8): activation requests and usage reports that
customers e-mail in, and the true-ups reports start."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import CoreDep, ReadKey, SalesKey, SessionDep
from api.idempotent import respond
from api.public import PROBLEM_RESPONSES, issued
from api.sales import Cursor, Limit, actor
from api.schemas import (
    ActivationCreate,
    IssuedLicense,
    TrueUpList,
    TrueUpOut,
    UsageReceiptOut,
    UsageReportCreate,
)
from licensing.installs.activation import activate
from licensing.installs.trueups import TrueUpStatus, list_true_ups
from licensing.installs.usage import accept_usage_report

router = APIRouter(
    prefix="/v1", responses={401: {"description": "No or bad API key"}, 403: {"description": "Role too low"}}
)
# The bodies that carry an air-gap file (the API's and the portal's uploads): up to the readers' million
# characters, escaped in JSON or a form.
MAX_BODY_BYTES = 2 * 1024 * 1024
FILE_PATHS = ("/v1/activations", "/v1/usage-reports", "/portal/activate", "/portal/usage-reports", "/portal/compare")
_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such license (`license_not_found`)", "content": {"application/problem+json": {}}},
    409: {"description": "Refused: see the `code`", "content": {"application/problem+json": {}}},
}


@router.post(
    "/activations",
    tags=["installations"],
    status_code=201,
    response_model=IssuedLicense,
    responses={**PROBLEM_RESPONSES, **_REFUSED},
)
def post_activation(
    payload: ActivationCreate, request: Request, session: SessionDep, core: CoreDep, key: SalesKey
) -> Response:
    """Bind the license an activation request names to the installation that signed it: the line's next
    license, with the same term, seats and features, `installation_id` and `cnf` (the installation key's
    thumbprint), superseding the newest. The same request again answers the same license. A line bound to
    another installation: 409 `already_activated`, unless `"move": true` (audited, old and new
    installation). A file that is not a valid request: 422 `invalid_request_file` (`reason`: the reader's
    code)."""

    def produce() -> IssuedLicense:
        lic = activate(session, core, payload.request, actor=actor(key), move=payload.move)
        return issued(lic, core)

    return respond(request, session, key.id, payload, produce)


@router.post(
    "/usage-reports",
    tags=["installations"],
    status_code=201,
    response_model=UsageReceiptOut,
    responses={**PROBLEM_RESPONSES, **_REFUSED},
)
def post_usage_report(
    payload: UsageReportCreate, request: Request, session: SessionDep, core: CoreDep, key: SalesKey
) -> Response:
    """Accept a usage report of a bound line and answer its signed receipt (give it back to the
    installation). The same report again answers the same receipt; over the seats, a true-up follows."""

    def produce() -> UsageReceiptOut:
        accepted = accept_usage_report(session, core, payload.report, actor=actor(key))
        return UsageReceiptOut(receipt=accepted.receipt, seq=accepted.seq, overage=accepted.overage, gap=accepted.gap)

    return respond(request, session, key.id, payload, produce)


@router.get("/true-ups", tags=["installations"], response_model=TrueUpList)
def get_true_ups(
    session: SessionDep,
    key: ReadKey,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: TrueUpStatus | None = None,
    customer_id: Annotated[str | None, Query(max_length=40)] = None,
) -> TrueUpList:
    """True-ups (usage reports over the seats), newest first: `pending` (Stripe to be raised by the
    background loop), `raised`, `failed` (given up: see `last_error`) or `recorded` (a sales line's)."""
    page = list_true_ups(session, limit=limit, cursor=cursor, status=status, customer_id=customer_id)
    return TrueUpList(data=[TrueUpOut.of(row) for row in page.items], next_cursor=page.next_cursor)
