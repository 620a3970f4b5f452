"""Public billing endpoints: starting a Stripe checkout, and Stripe's webhooks. They translate HTTP to
calls of ``billing`` (the one package that knows Stripe) and back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import CoreDep, RateLimitedClient, RuntimeDep, SessionDep
from api.idempotent import respond
from api.public import PROBLEM_RESPONSES
from api.schemas import CheckoutOut, CheckoutRequest, WebhookAnswer
from billing.checkout import create_checkout
from billing.webhooks import MAX_BODY_BYTES, Received, receive
from licensing.context import Runtime

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
    "`invalid_seats` or `invalid_email`.",
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
            actor=f"public:{client}",
        )
        return CheckoutOut(id=started.id, url=started.url)

    return respond(request, session, f"public:{client}", payload, produce)


@router.post(
    WEBHOOK_PATH,
    tags=["public"],
    response_model=WebhookAnswer,
    summary="Stripe's webhook endpoint",
    description="Register this address in Stripe with the events `checkout.session.*`, `customer.subscription.*`, "
    "`invoice.paid` and `invoice.payment_failed`, and set `LICENSING_STRIPE_WEBHOOK_SECRET` to its signing secret. "
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
