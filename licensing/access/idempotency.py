"""Idempotency-Key: the first answer to a POST is stored and replayed for the same key and body.

The key is reserved by inserting its row at the start of the caller's transaction. A concurrent
request with the same key waits on the unique constraint until the first one commits, then
replays its answer; so 30 concurrent POSTs with one key make one license. A request that fails
rolls its reservation back with everything else, so a retry runs again. Reserving never rolls back
more than its own savepoint: the caller's transaction stays as it was.

What is stored reveals neither the key nor the answer. An answer may hold a secret shown once (a
self-serve request's ``poll_token``: whoever holds it reads the request's license), and the replay
must give it back, since a client that lost the first answer to a timeout retries precisely to get
it. So the answer is kept, but sealed: the row is found by ``HMAC(secret, scope, key)`` (the
``key`` column) and its answer is encrypted (AES-256-GCM, bound to the row and the request) under a
second key derived the same way. ``secret`` is the service's own (``LICENSING_SECRET_KEY``), never in
the database; the Idempotency-Key is known only to the caller who sent it. Reading an answer back
therefore takes both: the caller, sending the same key, body and client again, gets it; a reader of
the database or of a backup gets neither the answer nor what would let them replay the request. Leaving
the token out of the stored answer instead would break the replay, and hashing it (as the request's own
row does) cannot give it back. A new service secret leaves earlier records unreachable: a retry with an
older key then runs again, as with a new key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing.kit.errors import Conflict, ValidationFailed
from licensing.models import IdempotencyRecord

if TYPE_CHECKING:
    from licensing.context import Runtime

log = logging.getLogger("licensing.idempotency")
MAX_KEY_LENGTH = 255
PRUNE_BATCH = 1000  # records deleted by one statement, so a long backlog never holds a big lock
PRUNE_EVERY_SECONDS = 300.0
SEALED = "sealed:v1:"  # the stored answer: this, then base64url(nonce + AES-GCM ciphertext and tag)


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


@dataclass(frozen=True)
class Reservation:
    """A reserved key: its record, to :func:`complete` with the answer, sealed under ``answer_key``."""

    record: IdempotencyRecord
    answer_key: bytes


def _derive(secret: bytes, purpose: bytes, scope: str, key: str) -> bytes:
    parts = (purpose, scope.encode("utf-8", "surrogatepass"), key.encode("utf-8", "surrogatepass"))
    return hmac.new(secret, b"\0".join(parts), hashlib.sha256).digest()


def _bound_to(record: IdempotencyRecord) -> bytes:
    """What the sealed answer is bound to: moved to another row or request, it does not open."""
    return f"{record.scope}\0{record.key}\0{record.request_hash}\0{record.status_code}".encode("utf-8", "surrogatepass")


def _seal(answer_key: bytes, record: IdempotencyRecord, body: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(answer_key).encrypt(nonce, body.encode(), _bound_to(record))
    return SEALED + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def _open(answer_key: bytes, record: IdempotencyRecord) -> str:
    stored = record.response_body
    try:
        if not stored.startswith(SEALED):
            raise ValueError("not sealed")
        raw = base64.urlsafe_b64decode(stored[len(SEALED) :])
        return AESGCM(answer_key).decrypt(raw[:12], raw[12:], _bound_to(record)).decode()
    except (ValueError, InvalidTag):
        raise Conflict(
            "The answer stored for this Idempotency-Key cannot be read back; use a new key.",
            code="idempotency_unreadable",
        ) from None


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


def reserve(
    session: Session, scope: str, key: str, fingerprint: str, now: datetime, *, secret: bytes
) -> Reservation | Replay:
    """Reserve ``key`` for this request (its record, to complete) or the earlier answer to replay,
    opened with ``key`` and the service's ``secret``."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.", code="invalid_idempotency_key"
        )
    lookup = _derive(secret, b"idempotency record", scope, key).hex()
    answer_key = _derive(secret, b"idempotency answer", scope, key)
    record = IdempotencyRecord(
        scope=scope, key=lookup, request_hash=fingerprint, status_code=0, response_body="", created_at=now
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        earlier = session.scalars(
            select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == lookup)
        ).one()
        if earlier.request_hash != fingerprint:
            raise Conflict(
                "This Idempotency-Key was used with a different request; use a new key.", code="idempotency_conflict"
            ) from None
        return Replay(earlier.status_code, _open(answer_key, earlier))
    return Reservation(record, answer_key)


def complete(reservation: Reservation, status_code: int, body: str) -> None:
    """Store the answer to replay, sealed (see the module's docstring)."""
    record = reservation.record
    record.status_code = status_code
    record.response_body = _seal(reservation.answer_key, record, body)


def prune(session: Session, before: datetime, limit: int = PRUNE_BATCH) -> int:
    """Delete up to ``limit`` records made before ``before``, oldest first; how many went."""
    oldest = select(IdempotencyRecord.id).where(IdempotencyRecord.created_at < before)
    ids = list(session.scalars(oldest.order_by(IdempotencyRecord.created_at).limit(limit)))
    if ids:
        session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(ids)))
    return len(ids)


class IdempotencyPruneTask:
    """The background loop's housekeeping of stored answers: records older than
    ``LICENSING_IDEMPOTENCY_RETENTION_HOURS`` go, a batch a pass while there is a backlog, else one look
    every five minutes. A retry after that runs again as a new request (as Stripe's keys do after 24
    hours). Replicas pruning at once delete the same rows harmlessly."""

    name = "idempotency"

    def __init__(self, every_seconds: float = PRUNE_EVERY_SECONDS) -> None:
        self.every_seconds = every_seconds
        self._next_look = 0.0  # time.monotonic() of the next look; now at start

    def run_due(self, runtime: Runtime, limit: int) -> int:
        if time.monotonic() < self._next_look:
            return 0
        retention = timedelta(hours=runtime.settings.idempotency_retention_hours)
        with runtime.unit_of_work() as session:
            pruned = prune(session, runtime.core.now() - retention)
        if pruned:
            log.info("idempotency.pruned", extra={"records": pruned})
        if pruned < PRUNE_BATCH:
            self._next_look = time.monotonic() + self.every_seconds
        return pruned
