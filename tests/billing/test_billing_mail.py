"""Outgoing e-mail over SMTP, received by aiosmtpd on loopback: the license e-mail with its text and HTML
parts and the `<license id>.lic` attachment; failures retried with backoff; no SMTP host means logged,
and an SMTP password is never logged."""

from __future__ import annotations

import email
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from billing_testkit import Shop
from pydantic import SecretStr

from billing.events import StripeEventTask
from licensing.context import Runtime
from licensing.kit.settings import Settings
from licensing.mail.outbox import Message, OutboxTask, enqueue, pending
from licensing.mail.smtp import Mailer
from licensing.models import OutboxMessage
from licensing.verify import verify
from service.worker import Worker

PASSWORD = "smtp-pass-Zq8wX3vB7nK2"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)  # type: ignore[arg-type]
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_port() -> int:
    return _free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def _smtp(settings: Settings, port: int, **more: Any) -> Settings:
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "mail_from": "licenses@vendor.example", **more}
    )


def test_the_license_email_reaches_the_mail_server_with_the_license_attached(
    shop: Shop, settings: Settings, inbox: Inbox, smtp_port: int
) -> None:
    worker = Worker(shop.runtime, [StripeEventTask(), OutboxTask(Mailer(_smtp(settings, smtp_port)))])
    shop.worker = worker
    shop.buy(seats=8, email="ada@acme.example", company="Acme <b>Ltd</b>")
    shop.process()

    [lic] = shop.licenses()
    [message] = inbox.messages
    assert inbox.envelopes == [("licenses@vendor.example", ["ada@acme.example"])]
    assert message["From"] == "licenses@vendor.example" and message["To"] == "ada@acme.example"
    assert message["Subject"] == "Your Professional license"
    assert message["Message-ID"] and message["Date"]
    assert message.get_content_type() == "multipart/mixed"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert lic.id in text.get_content() and "8" in text.get_content()
    assert "Acme &lt;b&gt;Ltd&lt;/b&gt;" in html.get_content()  # the buyer's text is escaped in HTML
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"{lic.id}.lic"
    content = attachment.get_content()
    content = content.decode() if isinstance(content, bytes) else content
    assert content == lic.license_file
    assert verify(content, shop.keyring).seats == 8
    with shop.session() as session:
        assert pending(session) == []


def test_a_failed_send_is_retried_with_backoff_then_sent(
    runtime: Runtime, settings: Settings, smtp_port: int, fake_stripe: Any
) -> None:
    task = OutboxTask(Mailer(_smtp(settings, smtp_port)))
    with runtime.unit_of_work() as session:
        enqueue(session, runtime.core.now(), "test:retry", Message("bob@example.com", "Hello", "text", "<p>html</p>"))
    assert task.run_due(runtime, 10) == 1  # nobody listens on the port yet
    with runtime.unit_of_work() as session:
        [row] = session.query(OutboxMessage).all()
        assert row.sent_at is None and row.attempts == 1
        assert row.last_error and "Connection" in row.last_error
        assert row.next_attempt_at == runtime.core.now() + timedelta(seconds=30)
    assert task.run_due(runtime, 10) == 0  # not due before its backoff

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        fake_stripe.advance(seconds=31)  # the service's clock is Stripe's
        assert task.run_due(runtime, 10) == 1
    finally:
        controller.stop()
    assert [m["Subject"] for m in inbox.messages] == ["Hello"]
    with runtime.unit_of_work() as session:
        [row] = session.query(OutboxMessage).all()
        assert row.sent_at is not None and row.attempts == 2 and row.last_error is None


def test_without_an_smtp_host_mail_is_logged_not_sent(
    runtime: Runtime, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    task = OutboxTask(Mailer(settings.model_copy(update={"smtp_host": None})))
    with runtime.unit_of_work() as session:
        enqueue(session, runtime.core.now(), "test:log", Message("carol@example.com", "Logged", "the text", "<p>x</p>"))
    with caplog.at_level(logging.INFO, logger="licensing.mail"):
        assert task.run_due(runtime, 10) == 1
    [record] = [r for r in caplog.records if r.getMessage() == "mail.logged"]
    assert record.to == "carol@example.com" and record.subject == "Logged"  # type: ignore[attr-defined]
    with runtime.unit_of_work() as session:
        assert session.query(OutboxMessage).one().sent_at is not None


def test_the_smtp_password_is_never_logged(
    runtime: Runtime, settings: Settings, smtp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    logins: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)

    class Refusing(Inbox):
        async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
            return "550 5.1.1 mailbox unavailable"

    inbox = Refusing()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=smtp_port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        configured = _smtp(settings, smtp_port, smtp_username="mailer", smtp_password=SecretStr(PASSWORD))
        mailer = Mailer(configured)
        assert PASSWORD not in repr(mailer)
        with runtime.unit_of_work() as session:
            enqueue(session, runtime.core.now(), "test:auth", Message("dan@example.com", "Auth", "t", "<p>h</p>"))
        with caplog.at_level(logging.DEBUG):
            OutboxTask(mailer).run_due(runtime, 10)
    finally:
        controller.stop()
    assert logins == [("mailer", PASSWORD)]  # it was used, against the server, which then refused the mail
    with runtime.unit_of_work() as session:
        row = session.query(OutboxMessage).one()
        assert row.sent_at is None and row.last_error and "mailbox unavailable" in row.last_error
        assert PASSWORD not in row.last_error
    assert "mail.failed" in caplog.text
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(configured) and PASSWORD not in str(configured.model_dump())
