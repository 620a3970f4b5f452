"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests of e-mail."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Inbox:
    """What the SMTP server received (``messages``, and their envelopes' ``MAIL FROM`` and ``RCPT TO``
    in ``envelopes``) and the port it listens on."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)  # time.monotonic() of each message's acceptance
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    # While ``stalling`` is set, a client's RCPT TO waits unanswered (``stalled`` tells a client is
    # waiting): the mail server has accepted nothing yet, so a sender killed then has sent nothing.
    stalling: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        while self.stalling.is_set():
            self.stalled.set()
            await asyncio.sleep(0.02)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((utf8(envelope.mail_from), [utf8(a) for a in envelope.rcpt_tos]))
            self.accepted_at.append(time.monotonic())
        return "250 OK"

    def wait_for(self, predicate: Callable[[EmailMessage], bool], timeout: float = 30) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if predicate(message):
                        return message
            time.sleep(0.1)
        raise AssertionError(f"no such e-mail within {timeout} s; got {[m['subject'] for m in self.messages]}")

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


def utf8(address: str) -> str:
    """An address as sent: aiosmtpd (and the e-mail parser) keep the bytes of an SMTPUTF8
    address as surrogates."""
    return address.encode("utf-8", "surrogateescape").decode("utf-8")


@contextmanager
def smtp_server(login: tuple[str, str] | None = None) -> Iterator[Inbox]:
    """An aiosmtpd server on 127.0.0.1 and a free port, stopped afterwards; with ``login`` (user, password)
    it requires AUTH with them (over plain SMTP: loopback only)."""
    handler = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        handler.port = probe.getsockname()[1]
    auth: dict[str, Any] = {}
    if login is not None:

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            given = (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
            return AuthResult(success=given == login)

        auth = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port, **auth)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def text_of(message: EmailMessage) -> str:
    """The plain-text part of ``message``."""
    body = message.get_body(("plain",))
    assert body is not None, "no text/plain part"
    return str(body.get_content())
