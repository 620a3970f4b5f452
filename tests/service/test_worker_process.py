"""``licensing worker`` as a real process with a real SMTP server on loopback that can stall a send:

* SIGTERM while it sends: the e-mail in hand is sent, the other claimed ones are handed back (due now,
  the attempt not counted), the process exits 0;
* SIGKILL while it sends (the mail server has accepted nothing): after a restart the e-mail is sent,
  exactly once, as soon as the dead worker's lease ends.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import clean_env, licensing_command
from mailtools import Inbox, smtp_server
from sqlalchemy import Engine, select

from licensing import context
from licensing.context import Core, Runtime
from licensing.kit.settings import Settings
from licensing.mail.outbox import Message, enqueue
from licensing.models import OutboxMessage

pytestmark = pytest.mark.slow
DEADLINE = 60.0
LEASE_SECONDS = 6  # short, so the restart test is quick; the 45 s default is the clock tests' business


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite only: a file shared by this test and the worker process."""
    return sqlite_url


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def runtime(settings: Settings, core: Core, engine: Engine) -> Runtime:
    return context.start(settings, core=core, engine=engine)


def _enqueue(runtime: Runtime, count: int) -> None:
    with runtime.unit_of_work() as session:
        for n in range(count):
            message = Message(to=f"n{n}@example.com", subject=f"note {n}", text="t", html="h")
            enqueue(session, runtime.core.now(), f"note:{n}", message)


def _rows(runtime: Runtime) -> dict[str, OutboxMessage]:
    with runtime.unit_of_work() as session:
        return {row.to_address: row for row in session.scalars(select(OutboxMessage))}


def _worker(settings: Settings, inbox: Inbox, log: Path) -> subprocess.Popen[bytes]:
    env = clean_env(
        LICENSING_DATABASE_URL=settings.database_url,
        LICENSING_KEYS_DIR=str(settings.keys_dir),
        LICENSING_ISSUER=settings.issuer,
        LICENSING_SMTP_HOST="127.0.0.1",
        LICENSING_SMTP_PORT=str(inbox.port),
        LICENSING_SMTP_SECURITY="none",
        LICENSING_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
        LICENSING_LOG_LEVEL="INFO",
    )
    with log.open("ab") as sink:
        return subprocess.Popen([*licensing_command(), "worker"], env=env, stdout=sink, stderr=subprocess.STDOUT)


def _wait(condition: object, what: str, log: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} within {DEADLINE:.0f} s:\n{log.read_text(errors='replace')}"
        time.sleep(0.05)


def test_sigterm_sends_the_mail_in_hand_and_hands_the_others_back(
    settings: Settings, runtime: Runtime, inbox: Inbox, tmp_path: Path
) -> None:
    _enqueue(runtime, 3)
    inbox.stalling.set()
    log = tmp_path / "worker.log"
    proc = _worker(settings, inbox, log)
    try:
        _wait(inbox.stalled.is_set, "the worker did not start sending", log)
        proc.send_signal(signal.SIGTERM)
        _wait(lambda: "worker.stopping" in log.read_text(errors="replace"), "the worker was not stopped", log)
        inbox.stalling.clear()
        assert proc.wait(timeout=DEADLINE) == 0, log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert inbox.count() == 1  # the one in hand, no other started
    rows = _rows(runtime)
    [sent] = [row for row in rows.values() if row.sent_at is not None]
    assert inbox.messages[0]["To"] == sent.to_address
    now = runtime.core.now()
    for row in rows.values():
        if row is not sent:
            assert row.attempts == 0 and row.next_attempt_at is not None and row.next_attempt_at <= now
    assert "worker.released" in log.read_text()


def test_sigkill_while_sending_the_mail_is_sent_once_after_a_restart(
    settings: Settings, runtime: Runtime, inbox: Inbox, tmp_path: Path
) -> None:
    _enqueue(runtime, 1)
    inbox.stalling.set()
    log = tmp_path / "worker.log"
    first = _worker(settings, inbox, log)
    try:
        _wait(inbox.stalled.is_set, "the worker did not start sending", log)
        first.kill()  # SIGKILL: no release, no mark; the row stays leased
        first.wait(timeout=DEADLINE)
    finally:
        if first.poll() is None:
            first.kill()
    inbox.stalling.clear()
    [row] = _rows(runtime).values()
    assert row.sent_at is None and row.attempts == 1
    second = _worker(settings, inbox, log)
    try:
        _wait(lambda: _rows(runtime)["n0@example.com"].sent_at is not None, "the mail was not sent again", log)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=DEADLINE)
    assert inbox.count() == 1  # exactly once: the killed worker had not got it accepted
    assert _rows(runtime)["n0@example.com"].attempts == 2
