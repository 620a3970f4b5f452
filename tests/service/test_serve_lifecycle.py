"""``licensing serve`` as a real process against slow and departing clients, and stopped with SIGTERM.

* Slow clients: connections that send part of a request (or nothing) and then wait are closed by the
  server once the header timeout passes, while a normal request is still answered meanwhile; request
  headers beyond 64 KiB are refused (431) rather than buffered.
* SIGTERM drains: the server stops accepting, a request in flight (its body still arriving) completes,
  the in-process background loop finishes the e-mail it is sending and hands the others it claimed
  back (due now, the attempt not counted), and the process exits 0.
"""

from __future__ import annotations

import selectors
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from livetools import Served, serve_process, served_environment
from mailtools import Inbox, smtp_server
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from licensing.kit.clock import utcnow
from licensing.mail.outbox import Message, enqueue
from licensing.models import OutboxMessage

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 300
HEADER_TIMEOUT = 2
DEADLINE = 60.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    env = served_environment(
        tmp_path,
        f"sqlite:///{tmp_path / 'data' / 'licensing.db'}",
        LICENSING_HTTP_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        LICENSING_PUBLIC_RATE_LIMIT="0",
    )
    yield from serve_process(tmp_path, env)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def mailing_server(tmp_path: Path, inbox: Inbox) -> Iterator[Served]:
    env = served_environment(
        tmp_path,
        f"sqlite:///{tmp_path / 'data' / 'licensing.db'}",
        LICENSING_PUBLIC_RATE_LIMIT="0",
        LICENSING_SMTP_HOST="127.0.0.1",
        LICENSING_SMTP_PORT=str(inbox.port),
        LICENSING_SMTP_SECURITY="none",
        LICENSING_LOG_LEVEL="INFO",  # the test waits for worker.stopping
    )
    yield from serve_process(tmp_path, env)


def _slow_client(port: int, n: int) -> socket.socket:
    """A connection that sends a third of the time nothing, else part of a request line or of the headers."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    partial = [b"", b"GET /readyz HT", b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "][n % 3]
    if partial:
        sock.sendall(partial)
    sock.setblocking(False)
    return sock


def test_connections_that_never_finish_their_headers_are_closed_and_others_served(server: Served) -> None:
    slow = [_slow_client(server.port, n) for n in range(SLOW_CLIENTS)]
    selector = selectors.DefaultSelector()
    for sock in slow:
        selector.register(sock, selectors.EVENT_READ)
    try:
        # Meanwhile a normal client is answered (on a connection of its own).
        assert httpx.get(f"{server.base_url}/readyz", timeout=30).status_code == 200

        open_ = set(slow)
        deadline = time.monotonic() + DEADLINE
        while open_ and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except ConnectionResetError:
                    data = b""
                assert data == b"", f"the server answered a request it had not received: {data[:80]!r}"
                selector.unregister(sock)
                open_.discard(sock)
        assert not open_, f"{len(open_)} of {SLOW_CLIENTS} slow connections still open after {DEADLINE:.0f} s"
        assert httpx.get(f"{server.base_url}/readyz", timeout=30).status_code == 200
    finally:
        selector.close()
        for sock in slow:
            sock.close()


def test_a_keep_alive_connection_that_starts_a_second_request_and_stalls_is_closed(server: Served) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as sock:
        sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /readyz HTTP/1.1\r\n")  # the keep-alive timer stops at the first byte
        rest = b""
        while chunk := sock.recv(4096):  # the rest of the first answer, then the end: closed
            rest += chunk
        assert b"HTTP/1.1" not in rest


def _request_in_flight(served: Served, headers: dict[str, str], body: bytes) -> socket.socket:
    """A POST whose headers are in and whose body is still coming (its first half sent)."""
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=DEADLINE)
    head = (
        f"POST /v1/customers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {headers['Authorization']}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body[: len(body) // 2])
    return sock


def _refused(served: Served) -> bool:
    try:
        socket.create_connection(("127.0.0.1", served.port), timeout=2).close()
    except OSError:
        return True
    return False


def test_sigterm_stops_accepting_finishes_what_is_in_flight_hands_work_back_and_exits_0(
    mailing_server: Served, inbox: Inbox
) -> None:
    server = mailing_server
    headers = server.api_key()
    engine = create_engine(server.env["LICENSING_DATABASE_URL"])
    try:
        inbox.stalling.set()  # the first e-mail's send waits at RCPT TO
        with Session(engine) as session, session.begin():  # three e-mails, claimed by the loop's next pass
            for n in range(3):
                message = Message(to=f"n{n}@drain.example", subject=f"note {n}", text="t", html="h")
                enqueue(session, utcnow(), f"note:{n}", message)
        deadline = time.monotonic() + DEADLINE
        while not inbox.stalled.is_set():
            assert time.monotonic() < deadline, f"no e-mail was sent:\n{server.output()}"
            time.sleep(0.05)

        body = b'{"name": "Ada", "email": "ada@drain.example", "company": "Drain Ltd"}'
        sock = _request_in_flight(server, headers, body)
        try:
            server.proc.send_signal(signal.SIGTERM)
            while not _refused(server):  # no new connection is accepted...
                assert time.monotonic() < deadline, "the server still accepts connections after SIGTERM"
                time.sleep(0.05)
            assert server.proc.poll() is None  # ...but the server waits for the request in flight
            sock.sendall(body[len(body) // 2 :])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        finally:
            sock.close()
        assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
        assert b"ada@drain.example" in answer

        while "worker.stopping" not in server.output():  # the app's shutdown has asked the loop to stop
            assert time.monotonic() < deadline, f"the background loop was not stopped:\n{server.output()}"
            time.sleep(0.05)
        inbox.stalling.clear()  # the send in hand completes; the loop stops and hands the rest back
        assert server.proc.wait(timeout=DEADLINE) == 0, server.output()
        assert inbox.count() == 1
        with Session(engine) as session:
            rows = list(session.scalars(select(OutboxMessage)))
        sent = [row for row in rows if row.sent_at is not None]
        assert [row.to_address for row in sent] == [inbox.messages[0]["To"]]
        handed_back = [row for row in rows if row.sent_at is None]
        assert len(handed_back) == 2
        for row in handed_back:
            assert row.attempts == 0 and row.next_attempt_at is not None and row.next_attempt_at <= utcnow()
    finally:
        engine.dispose()


def test_request_headers_too_large_are_refused_431(server: Served) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE) as sock:
        # 72 headers of 1 KiB, more than the 64 KiB allowed, sent at once (then nothing: all of it is read).
        filler = "".join(f"X-Filler-{n:02d}: {'a' * 1009}\r\n" for n in range(72))
        sock.sendall(f"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n{filler}".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert answer.endswith(b"\r\n\r\nRequest header fields too large.\n")
    # Large headers within the limit are served.
    assert (
        httpx.get(f"{server.base_url}/readyz", headers={"Cookie": "c=" + "x" * 30_000}, timeout=30).status_code == 200
    )
