"""Rows the background loop works off (webhook events, outgoing e-mail): claimed, done, retried.

A row is due while it is not done and its ``next_attempt_at`` has come. Claiming takes due rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite, where one writer runs at a time, ignores the
clause) and leases them: ``next_attempt_at`` moves past the lease and ``attempts`` grows, in a short
transaction that commits before the work starts. So several workers never take the same row, no
transaction stays open while a mail server or Stripe is called, and a worker that dies mid-way only
delays its rows until the lease runs out. Nothing about the queue lives in a process's memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, Integer, Text, select, update
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session, mapped_column

from licensing.kit.db import UTCDateTime


class QueuedJob:
    """The columns of a row the background loop works off (this module): due while not done and
    ``next_attempt_at`` has come; ``next_attempt_at`` empty and not done means given up."""

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


J = TypeVar("J", bound=QueuedJob)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
ERROR_MAX = 2000


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 30 s, 1 min, 2 min... at most an hour."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_WAIT)


class JobQueue(Generic[J]):
    """The queue of one table of :class:`~licensing.models.QueuedJob` rows; ``done`` is its completion time."""

    def __init__(
        self,
        model: type[J],
        *,
        done: InstrumentedAttribute[datetime | None],
        lease: timedelta = LEASE,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.model = model
        self.done_column = done
        self.lease = lease
        self.max_attempts = max_attempts

    def due(self, now: datetime) -> Any:
        return (self.done_column.is_(None)) & (self.model.next_attempt_at <= now)

    def claim(self, session: Session, now: datetime, limit: int) -> Sequence[J]:
        """Lease up to ``limit`` due rows, oldest due first (commit the session to hand them over)."""
        rows = session.scalars(
            select(self.model)
            .where(self.due(now))
            .order_by(self.model.next_attempt_at, self.model.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = now + self.lease
        session.flush()
        return rows

    def done(self, session: Session, row_id: int, now: datetime, **values: Any) -> bool:
        """Mark a claimed row done (with more ``values``); False when it was done already."""
        result = session.execute(
            update(self.model)
            .where(self.model.id == row_id, self.done_column.is_(None))
            .values({self.done_column.key: now, "next_attempt_at": None, "last_error": None, **values})
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def failed(self, session: Session, row_id: int, now: datetime, error: BaseException | str) -> datetime | None:
        """Record a failed attempt: retried after a backoff, or given up after ``max_attempts``.
        Returns when it is tried next (None: given up)."""
        row = session.get(self.model, row_id, with_for_update=True)
        if row is None or getattr(row, self.done_column.key) is not None:
            return None
        reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        row.last_error = reason[:ERROR_MAX]
        row.next_attempt_at = None if row.attempts >= self.max_attempts else now + backoff(row.attempts)
        session.flush()
        return row.next_attempt_at

    def retry(self, session: Session, now: datetime, row_id: int | None = None) -> int:
        """Make given-up rows (or the one ``row_id``, if not done) due again now, attempts from zero."""
        query = update(self.model).where(self.done_column.is_(None))
        query = (
            query.where(self.model.id == row_id)
            if row_id is not None
            else query.where(self.model.next_attempt_at.is_(None))
        )
        result = session.execute(
            query.values(next_attempt_at=now, attempts=0).execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))
