"""The background loop (service.worker): one failing kind of work does not stop the others; a wake-up
runs a pass at once; stop() ends the thread, finishing the item in hand and handing the claimed rest
back; a heartbeat renews the leases of the items in hand."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from licensing import context
from licensing.context import Core
from licensing.kit import jobs
from licensing.kit.settings import Settings
from licensing.mail.outbox import Message, OutboxTask, enqueue
from licensing.models import OutboxMessage
from service.worker import Worker


class Counting:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.calls = 0
        self.called = threading.Event()

    def run_due(self, runtime: Any, limit: int) -> int:
        self.calls += 1
        self.called.set()
        if self.fail:
            raise RuntimeError("the database is down")
        return 0


class FakeRuntime:
    database = "test"


def test_a_failing_task_is_logged_and_the_others_still_run(caplog: Any) -> None:
    broken, fine = Counting("broken", fail=True), Counting("fine")
    worker = Worker(FakeRuntime(), [broken, fine])  # type: ignore[arg-type]
    assert worker.run_once() == 0
    assert (broken.calls, fine.calls) == (1, 1)
    assert worker.failing
    assert "worker.task_failed" in caplog.text


def test_wake_runs_a_pass_at_once_and_stop_ends_the_thread() -> None:
    task = Counting("task")
    worker = Worker(FakeRuntime(), [task], poll_seconds=60)  # type: ignore[arg-type,list-item]
    thread = worker.start()
    try:
        assert task.called.wait(5)  # the first pass
        task.called.clear()
        started = time.monotonic()
        worker.wake()
        assert task.called.wait(5)
        assert time.monotonic() - started < 5  # not the 60 s poll
    finally:
        worker.stop(timeout=5)
    assert not thread.is_alive()


def test_a_stopped_worker_still_works_off_what_is_due_when_asked() -> None:
    """stop() ends the loop's thread; run_until_idle() afterwards (how tests and `worker --once` drain
    the queue) still runs every task, rather than seeing the stop and doing nothing."""
    task = Counting("task")
    worker = Worker(FakeRuntime(), [task], poll_seconds=60)  # type: ignore[arg-type,list-item]
    worker.start()
    assert task.called.wait(5)
    worker.stop(timeout=5)
    calls = task.calls
    worker.run_until_idle()
    assert task.calls == calls + 1


class Stalling:
    """A mailer whose first send waits until the test lets it go."""

    def __init__(self) -> None:
        self.sending = threading.Event()
        self.proceed = threading.Event()
        self.sent: list[str] = []

    def send(self, email: Any) -> None:
        self.sending.set()
        assert self.proceed.wait(30)
        self.sent.append(email.to)


def test_stop_finishes_the_item_in_hand_and_hands_the_claimed_rest_back(
    settings: Settings, core: Core, engine: Engine
) -> None:
    runtime = context.start(settings, core=core, engine=engine)
    with runtime.unit_of_work() as session:
        for n in range(3):
            enqueue(session, core.now(), f"note:{n}", Message(to=f"n{n}@example.com", subject="s", text="t", html="h"))
    mailer = Stalling()
    worker = Worker(runtime, [OutboxTask(mailer)])  # type: ignore[arg-type]
    thread = worker.start()
    assert mailer.sending.wait(30)  # the three rows are claimed, the first is being sent
    stopper = threading.Thread(target=worker.stop, kwargs={"timeout": 30})
    stopper.start()
    deadline = time.monotonic() + 30
    while not worker.holder.stopping.is_set():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    mailer.proceed.set()
    stopper.join(30)
    assert not thread.is_alive()

    assert mailer.sent == ["n0@example.com"]  # the item in hand finished; no other was started
    with runtime.unit_of_work() as session:
        rows = {r.to_address: r for r in session.scalars(select(OutboxMessage))}
    assert rows["n0@example.com"].sent_at is not None
    for address in ("n1@example.com", "n2@example.com"):
        row = rows[address]
        assert row.sent_at is None
        assert row.attempts == 0  # the attempt is not counted against max_attempts
        assert row.next_attempt_at is not None and row.next_attempt_at <= core.now()  # due now, for anyone
    assert not worker.holder.claims()


def test_the_heartbeat_renews_the_leases_of_the_items_in_hand(settings: Settings, core: Core, engine: Engine) -> None:
    runtime = context.start(settings, core=core, engine=engine)
    with runtime.unit_of_work() as session:
        enqueue(session, core.now(), "note:1", Message(to="n1@example.com", subject="s", text="t", html="h"))
    mailer = Stalling()
    worker = Worker(runtime, [OutboxTask(mailer)])  # type: ignore[arg-type]
    worker.renew_seconds = 0.05
    worker.start()
    try:
        assert mailer.sending.wait(30)
        (claim,) = [c for _, c in worker.holder.claims()]
        first_until = claim.until
        later = first_until + timedelta(seconds=5)
        core.clock.set(later - jobs.LEASE)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        while claim.until != later:  # renewed to the (moved) now + the lease
            assert time.monotonic() < deadline, "the lease was not renewed"
            time.sleep(0.02)
        with runtime.unit_of_work() as session:
            row = session.scalars(select(OutboxMessage)).one()
            assert row.next_attempt_at == later
    finally:
        mailer.proceed.set()
        worker.stop(timeout=30)
