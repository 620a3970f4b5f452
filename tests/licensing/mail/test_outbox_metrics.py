"""E-mails sent and failed are counted (SPEC section 7's /metrics); the backlog is what waits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import Engine

from licensing import context
from licensing.context import Core
from licensing.kit.settings import Settings
from licensing.mail.outbox import Message, OutboxTask, backlog, enqueue
from licensing.mail.smtp import Email


class Flaky:
    """Refuses the first e-mail, accepts the rest."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, email: Email) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionRefusedError("no SMTP server")


def _value(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_sent_and_failed_are_counted(settings: Settings, core: Core, engine: Engine, clock: Any) -> None:
    runtime = context.start(settings, core=core, engine=engine)
    start = core.now()
    with runtime.unit_of_work() as session:
        assert backlog(session) == (0, None)
        for i in range(2):
            enqueue(
                session, start, f"note:{i}", Message(to=f"m{i}@metrics-1e5f.example", subject="s", text="t", html="h")
            )
    with runtime.unit_of_work() as session:
        assert backlog(session) == (2, start)
    sent, failed = _value("licensing_emails_sent_total"), _value("licensing_emails_failed_total")
    task = OutboxTask(Flaky())  # type: ignore[arg-type]
    assert task.run_due(runtime, 10) == 2
    assert _value("licensing_emails_sent_total") == sent + 1
    assert _value("licensing_emails_failed_total") == failed + 1
    with runtime.unit_of_work() as session:
        assert backlog(session)[0] == 1
    clock.set(start + timedelta(hours=2))  # past the retry's backoff
    assert task.run_due(runtime, 10) == 1
    with runtime.unit_of_work() as session:
        assert backlog(session) == (0, None)
