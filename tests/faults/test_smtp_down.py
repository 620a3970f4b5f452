"""SMTP down for a while: a confirmation e-mail waits in the outbox while the mail server refuses
connections, the background loop retries it with backoff (30 s, then 1 min: the core's clock is moved,
nothing waits for real), and once the server is back the e-mail is delivered, exactly once. Meanwhile
``/readyz`` stays ready (the mail is queued, nothing is lost: a mail server outage must not take the
service out of the load balancer) and the log says which outbox row failed and why, without the link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from faulttools import stoppable_smtp
from sqlalchemy import Engine, select

from api.app import create_app
from licensing.context import Core
from licensing.kit.jobs import FIRST_RETRY, backoff
from licensing.kit.settings import Settings
from licensing.models import OutboxMessage
from service.worker import build_worker

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _row(session_factory: Callable[[], Any]) -> OutboxMessage:
    with session_factory() as session:
        [row] = session.scalars(select(OutboxMessage)).all()
        return row  # type: ignore[no-any-return]


def test_mail_queued_while_smtp_is_down_is_delivered_once_it_is_back(
    settings: Settings,
    core: Core,
    engine: Engine,
    clock: Any,
    session_factory: Callable[[], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock.set(START)
    with stoppable_smtp() as smtp:  # not listening yet: the mail server is down
        configured = settings.model_copy(
            update={
                "self_serve_confirmation": "email",
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.inbox.port,
                "smtp_security": "none",
            }
        )
        app = create_app(configured, core=core, engine=engine)
        worker = build_worker(app.state.runtime)
        with TestClient(app) as client, caplog.at_level(logging.INFO):
            asked = client.post("/v1/free-licenses", json={"email": "ann@example.com"})
            assert asked.status_code == 202, asked.text  # accepted: the e-mail is queued, not sent here

            assert worker.run_once() == 1  # taken on, refused by the mail server
            row = _row(session_factory)
            assert row.sent_at is None and row.attempts == 1 and "Connection refused" in (row.last_error or "")
            assert row.next_attempt_at == START + FIRST_RETRY == START + backoff(1)
            assert not worker.failing  # a mail that fails is not a broken loop
            ready = client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready"

            clock.set(START + FIRST_RETRY - timedelta(seconds=1))
            assert worker.run_once() == 0  # not due before its backoff
            clock.set(START + FIRST_RETRY)
            assert worker.run_once() == 1  # the first retry: still down
            second = START + FIRST_RETRY + backoff(2)
            assert _row(session_factory).next_attempt_at == second and backoff(2) == 2 * FIRST_RETRY

            smtp.start()  # the mail server is back
            clock.set(second - timedelta(seconds=1))
            assert worker.run_once() == 0 and smtp.inbox.messages == []  # it still waits out its backoff
            clock.set(second)
            assert worker.run_once() == 1
            message = smtp.inbox.wait_for(lambda m: m["To"] == "ann@example.com", timeout=10)
            assert "confirm" in str(message["Subject"]).lower()

            for later in (timedelta(minutes=10), timedelta(hours=2), timedelta(days=2)):
                clock.set(second + later)  # past any lease or backoff: nothing is sent again
                worker.run_until_idle()
        sent = _row(session_factory)
        assert sent.sent_at == second and sent.attempts == 3
        assert len(smtp.inbox.to("ann@example.com")) == 1  # delivered exactly once

    failures = [r for r in caplog.records if r.getMessage() == "mail.failed"]
    assert len(failures) == 2 and all(r.levelname == "WARNING" for r in failures)
    assert all(getattr(r, "outbox_id", None) == sent.id and "Connection refused" in r.error for r in failures)  # type: ignore[attr-defined]
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("mail.sent")] == ["mail.sent"]
    # The log says which row and why; never the confirmation link's token nor the address.
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name.startswith("licensing"))
    assert "ann@example.com" not in logged
    assert "/confirm/" not in logged
