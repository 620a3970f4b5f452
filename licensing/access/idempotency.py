"""Idempotency-Key: the first answer to a POST is stored and replayed for the same key and body.

The key is reserved by inserting its row at the start of the caller's transaction. A concurrent
request with the same key waits on the unique constraint until the first one commits, then
replays its answer; so 30 concurrent POSTs with one key make one license. A request that fails
rolls its reservation back with everything else, so a retry runs again. Reserving never rolls back
more than its own savepoint: the caller's transaction stays as it was.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing.kit.errors import Conflict, ValidationFailed
from licensing.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


def reserve(session: Session, scope: str, key: str, fingerprint: str, now: datetime) -> IdempotencyRecord | Replay:
    """Reserve ``key`` for this request (its record, to complete) or the earlier answer to replay."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.", code="invalid_idempotency_key"
        )
    record = IdempotencyRecord(
        scope=scope, key=key, request_hash=fingerprint, status_code=0, response_body="", created_at=now
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        earlier = session.scalars(
            select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        ).one()
        if earlier.request_hash != fingerprint:
            raise Conflict(
                "This Idempotency-Key was used with a different request; use a new key.", code="idempotency_conflict"
            ) from None
        return Replay(earlier.status_code, earlier.response_body)
    return record


def complete(record: IdempotencyRecord, status_code: int, body: str) -> None:
    record.status_code, record.response_body = status_code, body
