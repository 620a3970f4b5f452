"""The background loop (service.worker): one failing kind of work does not stop the others; a wake-up
runs a pass at once; stop() ends the thread."""

from __future__ import annotations

import threading
import time
from typing import Any

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
