"""An e-mail that carries a single-use link (portal sign-in, self-serve confirmation) keeps the link in
clear in the outbox only until it is sent; then its body is blanked. Other e-mails stay as they were."""

from __future__ import annotations

from sqlalchemy import Engine, select

from licensing import context
from licensing.context import Core
from licensing.kit.settings import Settings
from licensing.mail.outbox import Message, OutboxTask, enqueue
from licensing.mail.smtp import Email
from licensing.models import OutboxMessage
from licensing.selfserve import portal


class Caught:
    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> None:
        self.sent.append(email)


def test_a_sent_sign_in_link_is_not_kept_in_the_outbox(settings: Settings, core: Core, engine: Engine) -> None:
    runtime = context.start(settings, core=core, engine=engine)
    with runtime.unit_of_work() as session:
        portal.request_sign_in(session, core, "ann@secret-5b1c.example")
        enqueue(session, core.now(), "note:1", Message(to="bo@secret-5b1c.example", subject="s", text="kept", html="k"))
    with runtime.unit_of_work() as session:
        waiting = session.scalars(select(OutboxMessage).where(OutboxMessage.contains_secret)).one()
        assert "/portal/sign-in/psl_" in waiting.text_body  # until sent, the e-mail must be sendable

    mailer = Caught()
    assert OutboxTask(mailer).run_due(runtime, 10) == 2  # type: ignore[arg-type]

    link = next(e for e in mailer.sent if e.to == "ann@secret-5b1c.example")
    assert "/portal/sign-in/psl_" in link.text and "/portal/sign-in/psl_" in link.html
    with runtime.unit_of_work() as session:
        rows = {row.to_address: row for row in session.scalars(select(OutboxMessage))}
        blanked = rows["ann@secret-5b1c.example"]
        assert blanked.sent_at is not None
        assert "psl_" not in blanked.text_body and "psl_" not in blanked.html_body
        assert "removed once sent" in blanked.text_body
        assert rows["bo@secret-5b1c.example"].text_body == "kept"
