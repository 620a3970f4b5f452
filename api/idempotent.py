"""Running a POST handler under an optional Idempotency-Key (SPEC section 5).

The stored answer is sealed under the Idempotency-Key and the service's secret, so that a replay gives
a self-serve request's poll token back to its sender while the database holds it in clear nowhere
(:mod:`licensing.access.idempotency` says why this design).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.security import signing_secret
from licensing.access import idempotency


def records_secret(request: Request) -> bytes:
    """The secret idempotency records are sealed with: ``LICENSING_SECRET_KEY`` (``signing_secret``)
    under a label of its own, derived once per app."""
    state = request.app.state
    found: bytes | None = getattr(state, "idempotency_secret", None)
    if found is None:
        found = hmac.new(signing_secret(state.settings), b"licensing idempotency records", hashlib.sha256).digest()
        state.idempotency_secret = found
    return found


def respond(
    request: Request,
    session: Session,
    scope: str,
    payload: BaseModel | None,
    produce: Callable[[], BaseModel],
    status_code: int = 201,
) -> Response:
    """Run ``produce`` and answer its result; with an Idempotency-Key, at most once per key and body."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return Response(produce().model_dump_json(), status_code=status_code, media_type="application/json")
    body = payload.model_dump_json().encode() if payload is not None else b""
    fingerprint = idempotency.request_fingerprint(request.method, request.url.path, body)
    reserved = idempotency.reserve(
        session, scope, key, fingerprint, request.app.state.core.now(), secret=records_secret(request)
    )
    if isinstance(reserved, idempotency.Replay):
        return Response(
            reserved.body,
            status_code=reserved.status_code,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    text = produce().model_dump_json()
    idempotency.complete(reserved, status_code, text)
    return Response(text, status_code=status_code, media_type="application/json")
