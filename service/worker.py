"""The background loop: works off due webhook events, true-ups, expiry reminders and outgoing e-mail,
and prunes old Idempotency-Key answers.

:func:`build_worker` wires up which tasks it runs. ``licensing worker`` runs it on its own, ``licensing
serve`` (any app made by ``api.app.create_app``) in a thread unless ``LICENSING_WORKER_IN_PROCESS=false``.
Every piece of work is a row in the database claimed with ``FOR UPDATE SKIP LOCKED``
(:mod:`licensing.kit.jobs`), so any number of workers and replicas can run side by side on PostgreSQL; on
SQLite one process does it all. The only thing in memory is a wake-up hint, so a webhook stored by this
process is processed without waiting for the next poll, and the claims being worked off, whose leases a
heartbeat thread renews (:class:`licensing.kit.jobs.Holder`).

:meth:`Worker.stop` (SIGTERM to ``licensing worker``; ``licensing serve``'s shutdown) lets the item in hand
finish, hands the claimed rows not started back (due now, the attempt not counted) so another worker takes
them at once, and ends the loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from billing.events import StripeEventTask
from billing.trueups import TrueUpTask
from licensing.access.idempotency import IdempotencyPruneTask
from licensing.context import Runtime
from licensing.kit import jobs
from licensing.kit.db import is_database_unavailable, unavailable_reason
from licensing.mail.outbox import OutboxTask
from licensing.mail.reminders import ReminderTask
from licensing.mail.smtp import Mailer

log = logging.getLogger("licensing.worker")
POLL_SECONDS = 1.0
BATCH = 20
ERROR_PAUSE_SECONDS = 5.0


class Task(Protocol):
    """One kind of background work: does up to ``limit`` due items, returns how many it took on."""

    name: str

    def run_due(self, runtime: Runtime, limit: int) -> int: ...


class Worker:
    def __init__(
        self,
        runtime: Runtime,
        tasks: Sequence[Task],
        *,
        poll_seconds: float = POLL_SECONDS,
        lease: timedelta = jobs.LEASE,
    ) -> None:
        self.runtime = runtime
        self.tasks = list(tasks)
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failing = False  # the last pass had a task fail (the database down, not migrated...)
        self.holder = jobs.Holder(self._stop, lease=lease)
        self.renew_seconds = self.holder.renew_every.total_seconds()

    def run_once(self, limit: int = BATCH) -> int:
        """One pass over every task; how many items were taken on. A task that fails is logged and
        skipped (its items stay due), so one broken kind of work does not stop the others."""
        done = 0
        self.failing = False
        for task in self.tasks:
            if self._stop.is_set():
                break
            try:
                with self.holder.active():
                    done += task.run_due(self.runtime, limit)
            except Exception as exc:
                self.failing = True
                if is_database_unavailable(exc):  # an outage, not a bug: one line, no traceback
                    log.warning(
                        "worker.database_unavailable", extra={"task": task.name, "error": unavailable_reason(exc)}
                    )
                else:
                    log.exception("worker.task_failed", extra={"task": task.name})
            finally:
                self._settle(task.name)
        return done

    def _settle(self, task: str) -> None:
        """After a task's turn: claims it did not finish are handed back when stopping; otherwise (its
        item failed without a record, the database away) they are left to run out their lease."""
        if not self.holder.claims():
            return
        if not self._stop.is_set():
            self.holder.forget()
            return
        try:
            with self.runtime.unit_of_work() as session:
                released = self.holder.release(session, self.runtime.core.now())
        except Exception:
            log.exception("worker.release_failed", extra={"task": task})
            released = 0
        self.holder.forget()
        log.info("worker.released", extra={"task": task, "released": released})

    def renew_leases(self) -> int:
        """Extend the leases of the claims held (the heartbeat); how many were lost."""
        if not self.holder.claims():
            return 0
        with self.runtime.unit_of_work() as session:
            lost = self.holder.renew(session, self.runtime.core.now())
        if lost:
            log.warning("worker.leases_lost", extra={"lost": lost})
        return lost

    def _heartbeat(self, finished: threading.Event) -> None:
        while not finished.wait(self.renew_seconds):
            try:
                self.renew_leases()
            except Exception:
                log.exception("worker.renew_failed")

    def run_until_idle(self, max_passes: int = 100) -> int:
        """Passes until nothing is due (tests, ``licensing worker --once``); items taken on in total. Called
        after :meth:`stop` (the loop's thread gone), it works again: a stop ends the loop, not the worker."""
        if self._thread is None:
            self._stop.clear()
        total = 0
        for _ in range(max_passes):
            done = self.run_once()
            total += done
            if done == 0:
                break
        return total

    def wake(self) -> None:
        """Something was queued in this process: do the next pass now."""
        self._wake.set()

    def run(self) -> None:
        """Until :meth:`stop`: passes back to back while there is work, else waiting for a wake-up or the poll."""
        log.info("worker.started", extra={"tasks": [t.name for t in self.tasks], "database": self.runtime.database})
        finished = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(finished,), name="licensing-leases", daemon=True)
        heartbeat.start()
        try:
            self._loop()
        finally:
            finished.set()
            heartbeat.join()
        log.info("worker.stopped")

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                busy = self.run_once() > 0
            except Exception:  # pragma: no cover - run_once logs its own failures
                log.exception("worker.pass_failed")
                self._stop.wait(ERROR_PAUSE_SECONDS)
                continue
            if self.failing:
                self._stop.wait(ERROR_PAUSE_SECONDS)  # not a traceback a second while the database is down
            elif not busy:
                self._wake.wait(self.poll_seconds)

    def start(self) -> threading.Thread:
        """Run the loop in a daemon thread (the in-process worker of ``licensing serve``)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="licensing-worker", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop: the item in hand finishes, the claims not started are handed back. Waits
        up to ``timeout`` for the thread :meth:`start` made."""
        self._stop.set()
        log.info("worker.stopping")
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None


def build_worker(runtime: Runtime, *, poll_seconds: float = POLL_SECONDS) -> Worker:
    """The worker with every kind of background work of the service: Stripe events first (they write
    e-mails), then the true-ups (they change Stripe, which sends events), then the reminders (they write
    e-mails too), then the outbox, then the housekeeping of stored Idempotency-Key answers."""
    tasks: list[Task] = [
        StripeEventTask(),
        TrueUpTask(),
        ReminderTask(),
        OutboxTask(Mailer(runtime.settings)),
        IdempotencyPruneTask(),
    ]
    lease = timedelta(seconds=runtime.settings.worker_lease_seconds)
    return Worker(runtime, tasks, poll_seconds=poll_seconds, lease=lease)
