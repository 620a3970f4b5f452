"""Running a POST handler under an optional Idempotency-Key (SPEC section 5)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from licensing.access import idempotency


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
    reserved = idempotency.reserve(session, scope, key, fingerprint, request.app.state.core.now())
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
