"""Rows the background loop works off (webhook events, outgoing e-mail): claimed, done, retried.

A row is due while it is not done and its ``next_attempt_at`` has come. Claiming takes due rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite, where one writer runs at a time, ignores the
clause) and leases them: ``next_attempt_at`` moves past the lease and ``attempts`` grows, in a short
transaction that commits before the work starts. So several workers never take the same row, and no
transaction stays open while a mail server or Stripe is called. Nothing about the queue lives only in a
process's memory.

Leases are short and renewed (a heartbeat), so work a dead worker held resumes within a minute; we chose
this over worker identities with heartbeats of their own (a table, a migration, a reclaim step) because
the row already says all that is needed. A claim is the row's id, the ``attempts`` and the lease end the
claim wrote: ``attempts`` grows at every claim, so a renewal or a hand-back touches the row only while it
is still this claim's, never a later worker's. The lease is ``LICENSING_WORKER_LEASE_SECONDS`` (45 s by
default). A worker holds its claims in a :class:`Holder` while a task works them off and:

* renews them every :data:`RENEW_EVERY` (10 s) to now + :data:`LEASE` (45 s) from a thread of its own,
  so an item may take as long as it needs while its holder lives (a webhook event calling Stripe a few
  times); the calls themselves time out inside the lease (SMTP 30 s, Stripe 20 s), and the outbox
  starts a send only while its claim was renewed within :data:`SAFE_FOR` (15 s; 15 + 30 <= 45), so that
  no second worker takes a row while its first holder is still sending it, even when renewing fails;
* on a graceful stop (SIGTERM) finishes the item in hand and hands the rest back: due now, the attempt
  not counted (:meth:`Holder.release`), so another worker takes them at once;
* when killed (SIGKILL, a lost machine), simply stops renewing: its rows are due again when their lease
  ends, at most :data:`LEASE` after the kill, so within a minute of any restart, by any worker.

The one case where work is done twice is the documented one: a process killed between a mail server's
acceptance of an e-mail and the outbox row being marked sent (SPEC section 6); a webhook event's step is
idempotent, so its second run changes nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
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

LEASE = timedelta(seconds=45)
# A holder renews every 2/9 of the lease (10 s of 45 s) and starts a send only within a third of the lease
# (15 s) of its claim's last renewal: a call that starts then and times out (SMTP 30 s) ends before the
# lease does.
RENEW_EVERY = LEASE * 2 / 9
SAFE_FOR = LEASE / 3
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
        holder = _holder.get()
        lease = self.lease if holder is None else holder.lease
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = now + lease
        session.flush()
        if holder is not None:
            holder.hold(self, [Claim(row.id, row.attempts, now + lease) for row in rows])
        return rows

    def done(self, session: Session, row_id: int, now: datetime, **values: Any) -> bool:
        """Mark a claimed row done (with more ``values``); False when it was done already."""
        _let_go(self, row_id)
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
        _let_go(self, row_id)
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

    def _claimed(self, claim: Claim) -> Any:
        return (
            (self.model.id == claim.row_id)
            & (self.model.attempts == claim.attempts)
            & (self.model.next_attempt_at == claim.until)
            & self.done_column.is_(None)
        )

    def renew(self, session: Session, claim: Claim, now: datetime, lease: timedelta) -> datetime | None:
        """Extend a claim's lease to now + ``lease``; the new end, or None when the claim is no longer
        this holder's (done, failed, handed back, or its lease ran out and another worker claimed it)."""
        until = now + lease
        result = session.execute(
            update(self.model)
            .where(self._claimed(claim))
            .values(next_attempt_at=until)
            .execution_options(synchronize_session=False)
        )
        return until if getattr(result, "rowcount", 0) else None

    def release(self, session: Session, claim: Claim, now: datetime) -> bool:
        """Hand a claimed row back unworked: due now, its attempt not counted against ``max_attempts``."""
        result = session.execute(
            update(self.model)
            .where(self._claimed(claim))
            .values(next_attempt_at=now, attempts=self.model.attempts - 1)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))


@dataclass
class Claim:
    """One claimed row as its holder knows it: the ``attempts`` the claim set and the lease's end."""

    row_id: int
    attempts: int
    until: datetime
    renewed: float = 0.0  # time.monotonic() of the claim or its last renewal


class Holder:
    """The claims one worker holds while a task works them off (see the module's docstring). The worker
    runs each task inside :meth:`active`: :meth:`JobQueue.claim` records the claims, ``done``/``failed``
    forget them, :meth:`renew` (the heartbeat thread) extends them, and :meth:`release` hands back what
    is left when the worker stops. ``stopping`` is set when the worker is asked to stop: tasks check
    :func:`stopping` between items."""

    def __init__(self, stopping: threading.Event | None = None, *, lease: timedelta = LEASE) -> None:
        self.stopping = stopping or threading.Event()
        self.lease = lease
        self.renew_every = lease * 2 / 9
        self.safe_for = lease / 3
        self._claims: dict[tuple[int, int], tuple[JobQueue[Any], Claim]] = {}
        self._lock = threading.Lock()  # the dict (never held across the database)
        self._renewing = threading.Lock()  # one renewal or release at a time (never held by a task)

    @contextmanager
    def active(self) -> Iterator[Holder]:
        token = _holder.set(self)
        try:
            yield self
        finally:
            _holder.reset(token)

    def hold(self, queue: JobQueue[Any], claims: Sequence[Claim]) -> None:
        with self._lock:
            for claim in claims:
                claim.renewed = time.monotonic()
                self._claims[(id(queue), claim.row_id)] = (queue, claim)

    def let_go(self, queue: JobQueue[Any], row_id: int) -> None:
        with self._lock:
            self._claims.pop((id(queue), row_id), None)

    def holds(self, queue: JobQueue[Any], row_id: int) -> bool:
        """Whether the row is still this holder's with time to spare: claimed or renewed within a third
        of the lease (the heartbeat failing, say with the database away, runs that out)."""
        with self._lock:
            entry = self._claims.get((id(queue), row_id))
        return entry is not None and time.monotonic() - entry[1].renewed < self.safe_for.total_seconds()

    def claims(self) -> list[tuple[JobQueue[Any], Claim]]:
        with self._lock:
            return list(self._claims.values())

    def forget(self) -> int:
        """Drop every claim (the rows stay leased until their lease ends); how many there were."""
        with self._lock:
            count = len(self._claims)
            self._claims.clear()
        return count

    def renew(self, session: Session, now: datetime) -> int:
        """Extend every claim held (commit the session after); how many were lost (no longer ours)."""
        lost = 0
        with self._renewing:
            for queue, claim in self.claims():
                until = queue.renew(session, claim, now, self.lease)
                if until is None:
                    lost += 1
                    self.let_go(queue, claim.row_id)
                else:
                    claim.until, claim.renewed = until, time.monotonic()
        return lost

    def release(self, session: Session, now: datetime) -> int:
        """Hand back every claim held (commit the session after); how many rows were handed back."""
        released = 0
        with self._renewing:
            for queue, claim in self.claims():
                released += queue.release(session, claim, now)
                self.let_go(queue, claim.row_id)
        return released


_holder: ContextVar[Holder | None] = ContextVar("licensing_job_holder", default=None)


def _let_go(queue: JobQueue[Any], row_id: int) -> None:
    if (holder := _holder.get()) is not None:
        holder.let_go(queue, row_id)


def stopping() -> bool:
    """Whether the worker running this task is stopping: finish the item in hand, start no other."""
    holder = _holder.get()
    return holder is not None and holder.stopping.is_set()


def holds(queue: JobQueue[Any], row_id: int) -> bool:
    """Whether a row claimed in this task may still be worked (see :meth:`Holder.holds`); True outside
    a worker's holder (``licensing worker --once``, tests: nothing renews there, nothing to lose)."""
    holder = _holder.get()
    return holder is None or holder.holds(queue, row_id)
