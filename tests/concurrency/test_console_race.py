"""One console sign-in link, redeemed 30 times at the same moment on PostgreSQL: exactly one session."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from licensing.access.signin_links import LinkRefused
from licensing.context import Core
from licensing.kit.db import make_sessionmaker, transaction
from licensing.models import AuditEvent, OutboxMessage, StaffSession
from licensing.staff import signin
from licensing.staff.members import add_member

pytestmark = pytest.mark.postgres
CONCURRENCY = 30


def test_concurrent_redemptions_start_exactly_one_session(engine: Engine, core: Core) -> None:
    maker = make_sessionmaker(engine)
    with transaction(maker) as session:
        add_member(session, core, "race@vendor-r4c3.example", "sales")
        signin.request_sign_in(session, core, "race@vendor-r4c3.example")
    with Session(engine) as session:
        body = session.scalars(select(OutboxMessage.text_body)).one()
    token = body.split("/console/sign-in/")[1].split()[0]

    barrier = threading.Barrier(CONCURRENCY)
    outcomes: list[str] = []
    lock = threading.Lock()

    def redeem() -> None:
        barrier.wait()
        try:
            with transaction(maker) as session:
                signin.redeem(session, core, token)
            outcome = "signed in"
        except LinkRefused as exc:
            outcome = exc.state
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=redeem) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(outcomes) == {"signed in": 1, "used": CONCURRENCY - 1}
    with Session(engine) as session:
        assert len(session.scalars(select(StaffSession)).all()) == 1
        assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.sign_in")).all()) == 1
