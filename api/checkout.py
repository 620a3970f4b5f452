"""Public billing endpoints: starting a Stripe checkout, and Stripe's webhooks. They translate HTTP to
calls of ``billing`` (the one package that knows Stripe) and back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.deps import CoreDep, RateLimitedClient, RuntimeDep, SessionDep, bearer_token
from api.idempotent import respond
from api.public import NO_STORE, PROBLEM_RESPONSES
from api.schemas import CheckoutOut, CheckoutRequest, CheckoutState, LicenseOut, WebhookAnswer
from billing.checkout import create_checkout, poll_checkout
from billing.webhooks import MAX_BODY_BYTES, Received, receive
from licensing.context import Runtime
from licensing.licenses.queries import successors

router = APIRouter()
WEBHOOK_PATH = "/v1/webhooks/stripe"

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
CHECKOUT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEM_RESPONSES,
    404: {"description": "Self-serve checkout is not enabled (no Stripe key): `billing_disabled`", **_PROBLEM},
    503: {"description": "Stripe cannot be reached, or the catalog is not in Stripe yet", **_PROBLEM},
}
WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Unsigned, forged, stale or malformed: `invalid_signature`, `malformed_event`", **_PROBLEM},
    404: {"description": "Webhooks are disabled (no webhook secret): `webhooks_disabled`", **_PROBLEM},
    413: {"description": f"Body over {MAX_BODY_BYTES} bytes", **_PROBLEM},
}


@router.post(
    "/v1/checkout/sessions",
    tags=["public"],
    status_code=201,
    response_model=CheckoutOut,
    summary="Start a Professional subscription checkout",
    description="Opens a Stripe Checkout Session for the catalog's Professional price (per month or per year) "
    "times `seats`; send the buyer to `url`. After paying, Stripe sends them to `/checkout/success`, which shows "
    "the license; it is e-mailed to `email` too. Invalid input answers 422 with `invalid_interval`, "
    "`invalid_seats`, `invalid_email`, `invalid_installation_id` or `invalid_trial_link`. A self-hosted server "
    "buying for itself sends its `installation_id` (the license and its renewals are bound to it), sends its "
    "administrator's browser to `url`, and polls `GET /v1/checkout/sessions/{id}` with "
    "`Authorization: Bearer <poll_token>` until the license is `issued`. `trial_token` (a trial's buy link) makes "
    "the purchase replace that trial.",
    responses=CHECKOUT_RESPONSES,
)
def start_checkout(
    payload: CheckoutRequest, request: Request, session: SessionDep, core: CoreDep, client: RateLimitedClient
) -> Response:
    def produce() -> CheckoutOut:
        started = create_checkout(
            session,
            core,
            interval=payload.interval,
            seats=payload.seats,
            email=payload.email,
            company=payload.company,
            name=payload.name,
            trial_token=payload.trial_token or None,
            installation_id=payload.installation_id,
            actor=f"public:{client}",
        )
        return CheckoutOut(id=started.id, url=started.url, poll_token=started.poll_token)

    response = respond(request, session, f"public:{client}", payload, produce)
    response.headers.update(NO_STORE)  # the poll token that fetches the license (replays too)
    return response


_poll_bearer = HTTPBearer(
    auto_error=False, scheme_name="CheckoutPollToken", description="The `poll_token` of the checkout's 201 answer."
)


@router.get(
    "/v1/checkout/sessions/{checkout_id}",
    tags=["public"],
    response_model=CheckoutState,
    summary="Where a checkout stands (in-product purchase)",
    description="For the holder of the checkout's `poll_token` (`Authorization: Bearer <poll_token>`): `open` until "
    "paid, `expired` when abandoned, `pending` once paid until the license is issued, then `issued` with "
    "`license` and `license_file` (the newest of the subscription's line, so renewals too). An unknown id and a "
    "wrong or missing token alike answer 404 `checkout_not_found`.",
    responses={
        404: {"description": "No such checkout, or not its poll token", **_PROBLEM},
        429: PROBLEM_RESPONSES[429],
    },
)
def read_checkout_state(
    checkout_id: Annotated[str, Path(max_length=40, description="The checkout's id (chk_...).")],
    session: SessionDep,
    core: CoreDep,
    client: RateLimitedClient,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_poll_bearer)],
) -> Response:
    token = bearer_token(credentials)
    progress = poll_checkout(session, checkout_id, token)
    state = CheckoutState(status=progress.status)
    if progress.license is not None:
        now = core.now()
        superseded_by = successors(session, [progress.license]).get(progress.license.id)
        state = CheckoutState(
            status=progress.status,
            license=LicenseOut.of(progress.license, now, superseded_by),
            license_file=progress.license.license_file,
        )
    return Response(state.model_dump_json(exclude_unset=True), media_type="application/json", headers=NO_STORE)


@router.post(
    WEBHOOK_PATH,
    tags=["public"],
    response_model=WebhookAnswer,
    summary="Stripe's webhook endpoint",
    description="Register this address in Stripe with the events `checkout.session.*`, `customer.subscription.*`, "
    "`invoice.paid`, `invoice.payment_failed`, `invoice.payment_action_required`, `charge.refunded`, "
    "`charge.dispute.created` and `charge.dispute.closed` (`licensing billing sync-catalog --webhook-endpoint` "
    "does it; the list is in docs/operations.md), and set `LICENSING_STRIPE_WEBHOOK_SECRET` to its signing secret. "
    "Each event is verified (`Stripe-Signature`, 5-minute tolerance), stored once and answered at once; the "
    "background worker processes it by re-reading the object from Stripe.",
    responses=WEBHOOK_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StripeEventBody"}}},
        }
    },
)
async def stripe_webhook(request: Request, runtime: RuntimeDep) -> JSONResponse:
    # The raw body (the signature covers its bytes), then the verification and the insert in the thread pool,
    # like a sync endpoint's work, so the event loop keeps serving.
    payload = await request.body()
    signature = request.headers.get("stripe-signature")
    received = await run_in_threadpool(_store, runtime, payload, signature)
    if received.stored and (worker := getattr(request.app.state, "worker", None)) is not None:
        worker.wake()
    return JSONResponse({"received": True, "event": received.event_id, "stored": received.stored})


def _store(runtime: Runtime, payload: bytes, signature: str | None) -> Received:
    with runtime.unit_of_work() as session:
        return receive(session, runtime.core, payload, signature)
