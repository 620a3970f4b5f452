"""The outbox: e-mails written in the same transaction as what they report, sent by the background loop.

``enqueue`` adds a row in the caller's transaction (a crash before the commit loses the license and
its e-mail together, never one without the other); ``dedupe_key`` is unique, so one logical e-mail
(``license:<id>``, ``payment_failed:<invoice>``) is enqueued once however often the step runs.
:class:`OutboxTask` sends due rows over SMTP (:mod:`licensing.mail.smtp`) and retries failures with backoff.

Mail that public forms cause (sign-in links, self-serve confirmations) is enqueued with its
:class:`Recipient`, the canonical mailbox and the organisation of its address, and those forms cap
what one mailbox and one organisation get (:func:`sent_recently`, :func:`sent_recently_to_organisation`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from licensing.catalog import Catalog
from licensing.kit import jobs, metrics
from licensing.kit.db import insert_ignoring_duplicates
from licensing.kit.jobs import JobQueue
from licensing.licenses.customers import mailbox_of, organisation_of
from licensing.mail.smtp import Attachment, Email, Mailer
from licensing.models import OutboxMessage

if TYPE_CHECKING:
    from licensing.context import Runtime

log = logging.getLogger("licensing.outbox")
SUBJECT_MAX = 300
# What a sent e-mail that held a link's secret keeps of its body.
SENT_SECRET_BODY = {
    "text_body": "(removed once sent: it held a single-use link)",
    "html_body": "<p>(removed once sent: it held a single-use link)</p>",
}


@dataclass(frozen=True)
class Message:
    """An e-mail to enqueue: a plain-text and an HTML part, and attachments (text, e.g. a license file)."""

    to: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    # The body holds a secret (a sign-in or confirmation link): blanked in the outbox once sent, so the
    # database keeps the link in clear only while the e-mail waits to be sent.
    secret: bool = False


@dataclass(frozen=True)
class Recipient:
    """Whom an e-mail counts against in the public forms' mail caps: the canonical mailbox of its address
    (:func:`~licensing.licenses.customers.mailbox_of`) and the address's organisation."""

    mailbox: str
    organisation: str


def recipient(address: str, catalog: Catalog) -> Recipient:
    """The :class:`Recipient` of ``address``; ValidationFailed (``invalid_email``) when it is not one."""
    return Recipient(mailbox=mailbox_of(address, catalog), organisation=organisation_of(address, catalog))


def enqueue(
    session: Session, at: datetime, dedupe_key: str, message: Message, *, counted_as: Recipient | None = None
) -> bool:
    """Add ``message`` to the outbox in the caller's transaction, due at once; False when an e-mail
    with this ``dedupe_key`` was enqueued before (nothing is added then). ``counted_as``: what the mail
    caps of :func:`sent_recently` count it against (public forms give it); without it, the address as
    written and no organisation."""
    added = insert_ignoring_duplicates(
        session,
        OutboxMessage,
        ["dedupe_key"],
        dedupe_key=dedupe_key[:255],
        to_address=message.to,
        mailbox=counted_as.mailbox if counted_as is not None else message.to,
        organisation=counted_as.organisation if counted_as is not None else None,
        subject=message.subject[:SUBJECT_MAX],
        text_body=message.text,
        html_body=message.html,
        attachments=[
            {"filename": a.filename, "content_type": a.content_type, "content": a.content} for a in message.attachments
        ],
        created_at=at,
        contains_secret=message.secret,
        attempts=0,
        next_attempt_at=at,
    )
    log.info("mail.enqueued" if added else "mail.duplicate", extra={"dedupe_key": dedupe_key})
    return added


def _of_kind_since(kind: str, since: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return OutboxMessage.created_at >= since, OutboxMessage.dedupe_key.startswith(f"{kind}:", autoescape=True)


def sent_recently(session: Session, mailbox: str, kind: str, since: datetime) -> int:
    """How many e-mails of ``kind`` (the ``<kind>:`` prefix of their dedupe keys) were enqueued for
    ``mailbox`` since ``since``: what a public form checks so that repeated requests do not send one
    mailbox a flood of mail, however its address is spelt (pass :attr:`Recipient.mailbox`; mail enqueued
    without ``counted_as`` counts against its address as written)."""
    query = select(func.count()).where(OutboxMessage.mailbox == mailbox, *_of_kind_since(kind, since))
    return int(session.scalar(query) or 0)


def sent_recently_to_organisation(session: Session, organisation: str, kind: str, since: datetime) -> int:
    """How many e-mails of ``kind`` were enqueued since ``since`` for the addresses of ``organisation``
    together (those enqueued with ``counted_as``): so that a flood to one company's people is bounded."""
    query = select(func.count()).where(OutboxMessage.organisation == organisation, *_of_kind_since(kind, since))
    return int(session.scalar(query) or 0)


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many e-mails are waiting to be sent, and when the oldest of them was written."""
    count, oldest = session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at)).where(OutboxMessage.sent_at.is_(None))
    ).one()
    return int(count), oldest


def pending(session: Session, *, limit: int = 100) -> list[OutboxMessage]:
    """Unsent e-mails (due, retrying or given up), oldest first."""
    query = select(OutboxMessage).where(OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id).limit(limit)
    return list(session.scalars(query))


def as_email(row: OutboxMessage) -> Email:
    return Email(
        to=row.to_address,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        attachments=tuple(
            Attachment(a["filename"], a["content"], a.get("content_type", "text/plain")) for a in row.attachments
        ),
    )


class OutboxTask:
    """Sends due e-mails: claimed rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never
    send one), then sent outside any transaction, then marked sent. An e-mail is sent twice only if the
    process dies between the mail server's acceptance and the mark (SPEC section 6)."""

    name = "outbox"
    queue = JobQueue(OutboxMessage, done=OutboxMessage.sent_at)

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer

    def run_due(self, runtime: Runtime, limit: int) -> int:
        now = runtime.core.now()
        with runtime.unit_of_work() as session:
            claimed = [(row.id, as_email(row), row.contains_secret) for row in self.queue.claim(session, now, limit)]
        for row_id, email, secret in claimed:
            if jobs.stopping() or not jobs.holds(self.queue, row_id):
                continue  # stopping: handed back by the worker; not held any more: another worker's now
            try:
                self.mailer.send(email)
            except Exception as exc:  # any failure is retried later; the reason is kept for the operator
                with runtime.unit_of_work() as session:
                    self.queue.failed(session, row_id, runtime.core.now(), exc)
                metrics.emails_failed.inc()
                log.warning("mail.failed", extra={"outbox_id": row_id, "error": _reason(exc)})
                continue
            with runtime.unit_of_work() as session:
                self.queue.done(session, row_id, runtime.core.now(), **(SENT_SECRET_BODY if secret else {}))
            metrics.emails_sent.inc()
            log.info("mail.sent", extra={"outbox_id": row_id})
        return len(claimed)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
