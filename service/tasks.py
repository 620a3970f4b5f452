"""The service's background work, wired up: which tasks the loop (licensing.kit.worker) runs, in order.

``licensing worker`` runs the loop alone; ``licensing serve`` (any app made by ``api.app.create_app``)
runs it in-process unless ``LICENSING_WORKER_IN_PROCESS=false``."""

from __future__ import annotations

from billing.events import StripeEventTask
from licensing.context import Runtime
from licensing.kit.worker import POLL_SECONDS, Task, Worker
from licensing.mail.outbox import OutboxTask
from licensing.mail.reminders import ReminderTask
from licensing.mail.smtp import Mailer


def build_worker(runtime: Runtime, *, poll_seconds: float = POLL_SECONDS) -> Worker:
    """The worker with every kind of background work of the service: Stripe events first (they write
    e-mails), then the reminders (they write e-mails too), then the outbox."""
    tasks: list[Task] = [StripeEventTask(), ReminderTask(), OutboxTask(Mailer(runtime.settings))]
    return Worker(runtime, tasks, poll_seconds=poll_seconds)
