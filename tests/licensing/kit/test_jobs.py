"""The job queue's leases (licensing.kit.jobs), on the clock the tests move: a claim is leased for 45 s,
renewed while its holder lives, due again within a minute when its holder dies, handed back (due now,
the attempt not counted) when its holder stops, and never taken from a live holder."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from licensing import context
from licensing.context import Core, Runtime
from licensing.kit import jobs
from licensing.kit.jobs import LEASE, Holder
from licensing.kit.settings import Settings
from licensing.mail.outbox import Message, OutboxTask, enqueue
from licensing.mail.smtp import SMTP_TIMEOUT
from licensing.models import OutboxMessage

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
QUEUE = OutboxTask.queue


@pytest.fixture
def runtime(settings: Settings, core: Core, engine: Engine, clock: object) -> Runtime:
    clock.set(T0)  # type: ignore[attr-defined]
    runtime = context.start(settings, core=core, engine=engine)
    with runtime.unit_of_work() as session:
        for n in range(3):
            enqueue(session, T0, f"note:{n}", Message(to=f"n{n}@example.com", subject="s", text="t", html="h"))
    return runtime


def at(runtime: Runtime, seconds: float) -> datetime:
    moment = T0 + timedelta(seconds=seconds)
    runtime.core.clock.set(moment)  # type: ignore[attr-defined]
    return moment


def claim(runtime: Runtime, holder: Holder | None, limit: int = 3) -> list[int]:
    with runtime.unit_of_work() as session:
        if holder is None:
            return [row.id for row in QUEUE.claim(session, runtime.core.now(), limit)]
        with holder.active():
            return [row.id for row in QUEUE.claim(session, runtime.core.now(), limit)]


def rows(runtime: Runtime) -> dict[int, tuple[int, datetime | None]]:
    with runtime.unit_of_work() as session:
        return {r.id: (r.attempts, r.next_attempt_at) for r in session.scalars(select(OutboxMessage))}


def test_the_lease_is_short_and_the_calls_made_under_it_time_out_inside_it() -> None:
    assert timedelta(seconds=60) >= LEASE
    assert jobs.RENEW_EVERY < jobs.SAFE_FOR  # a holder renewing on time may always send
    # A send started as late as a holder may start it ends (or times out) before the lease does.
    assert jobs.SAFE_FOR + timedelta(seconds=SMTP_TIMEOUT) <= LEASE
    from billing.client import HTTP_TIMEOUT

    assert jobs.SAFE_FOR + timedelta(seconds=HTTP_TIMEOUT) <= LEASE


def test_the_work_of_a_dead_holder_is_due_again_within_a_minute(runtime: Runtime) -> None:
    first = claim(runtime, Holder())
    assert len(first) == 3
    at(runtime, 30)
    assert claim(runtime, None) == []  # leased
    # The holder dies (no renewal, no release): a restarted worker takes the rows once the lease ends.
    at(runtime, LEASE.total_seconds())
    assert sorted(claim(runtime, Holder())) == sorted(first)
    assert {attempts for attempts, _ in rows(runtime).values()} == {2}


def test_a_live_holder_keeps_its_rows_by_renewing_them(runtime: Runtime) -> None:
    holder = Holder()
    ids = claim(runtime, holder)
    for step in range(1, 10):  # nine renewals 40 s apart: six minutes, far past any one lease
        now = at(runtime, 40 * step)
        with runtime.unit_of_work() as session:
            assert holder.renew(session, now) == 0
        assert claim(runtime, None) == []
    assert all(holder.holds(QUEUE, row_id) for row_id in ids)
    assert {until for _, until in rows(runtime).values()} == {now + LEASE}


def test_a_lease_that_ran_out_and_was_taken_is_lost_to_its_first_holder(runtime: Runtime) -> None:
    slow = Holder()
    ids = claim(runtime, slow)
    at(runtime, LEASE.total_seconds() + 1)
    assert sorted(claim(runtime, Holder())) == sorted(ids)  # another worker took them
    with runtime.unit_of_work() as session:
        assert slow.renew(session, runtime.core.now()) == 3  # lost, not renewed over the new holder's
        assert slow.release(session, runtime.core.now()) == 0
    assert not slow.holds(QUEUE, ids[0])
    assert not slow.claims()
    # The new holder's claims, untouched.
    assert set(rows(runtime).values()) == {(2, runtime.core.now() + LEASE)}


def test_a_stopping_holder_hands_its_rows_back_due_now_and_the_attempt_not_counted(runtime: Runtime) -> None:
    holder = Holder()
    ids = claim(runtime, holder)
    now = at(runtime, 5)
    with runtime.unit_of_work() as session:
        assert holder.release(session, now) == 3
    assert rows(runtime) == {row_id: (0, now) for row_id in ids}
    assert sorted(claim(runtime, Holder())) == sorted(ids)  # at once, by anyone


def test_done_and_failed_rows_leave_the_holder(runtime: Runtime) -> None:
    holder = Holder()
    with holder.active():
        first, second, third = claim(runtime, holder)
        with runtime.unit_of_work() as session:
            QUEUE.done(session, first, runtime.core.now())
            QUEUE.failed(session, second, runtime.core.now(), "450 try later")
    assert [claim.row_id for _, claim in holder.claims()] == [third]
    with runtime.unit_of_work() as session:
        assert holder.release(session, runtime.core.now()) == 1
    state = rows(runtime)
    assert state[first][1] is None  # done
    assert state[second] == (1, T0 + jobs.backoff(1))  # retried after its backoff, as before
    assert state[third] == (0, T0)


def test_stopping_is_seen_inside_the_holder_only() -> None:
    holder = Holder()
    assert not jobs.stopping()
    with holder.active():
        assert not jobs.stopping()
        holder.stopping.set()
        assert jobs.stopping()
    assert not jobs.stopping()


def test_the_outbox_sends_nothing_whose_claim_it_could_not_renew_in_time(runtime: Runtime) -> None:
    holder = Holder(lease=timedelta(seconds=3))  # a send may start within 1 s of the claim's renewal

    sent: list[str] = []

    class Slow:
        def send(self, email: object) -> None:
            deadline = time.monotonic() + 30
            while any(holder.holds(QUEUE, c.row_id) for _, c in holder.claims() if c.row_id != first):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            sent.append(email.to)  # type: ignore[attr-defined]

    first = min(rows(runtime))
    with holder.active():
        assert OutboxTask(Slow()).run_due(runtime, 3) == 3  # type: ignore[arg-type]
    assert sent == ["n0@example.com"]  # the others' claims went stale (no heartbeat): not sent
    state = rows(runtime)
    assert state[first][1] is None
    assert all(attempts == 1 and until is not None for row_id, (attempts, until) in state.items() if row_id != first)
