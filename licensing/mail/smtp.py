"""Sending e-mail over SMTP with the standard library (``smtplib`` and ``email.message.EmailMessage``).

Each message has a plain-text and an HTML part and any attachments. With no ``LICENSING_SMTP_HOST``
the message is not sent: in development it is shown readably on stderr (From, To, Subject and the text,
so a confirmation link can be followed); in production only its message id is logged, never its body
(it holds tokens and license files). The SMTP password is never logged.

A message goes to exactly the address it is given: that address is the envelope's only ``RCPT TO``
(not whatever the e-mail package reads back from the To header), and a message whose To header, as
it will be sent, would name another address is refused (:class:`RecipientMismatch`): the package
decodes RFC 2047 encoded words in headers, so ``=?utf-8?q?ann=40evil.example?=@victim.example``
would read as ``ann@evil.example@victim.example``.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import sys
import threading
from dataclasses import dataclass, field
from email import message_from_string
from email import policy as email_policy
from email.headerregistry import AddressHeader
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from licensing.kit.settings import Settings

log = logging.getLogger("licensing.mail")
SMTP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: str
    content_type: str = "text/plain"


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


class RecipientMismatch(ValueError):
    """The To header would not name the address the message is for: the message is not sent."""


def _check_recipient(message: EmailMessage, address: str) -> None:
    """Refuse unless the To header, folded as it will be sent and read back, names ``address`` alone."""
    policy = email_policy.default if address.isascii() else email_policy.SMTPUTF8  # as smtplib sends it
    folded = policy.fold("To", message["To"])
    header = message_from_string(folded, policy=email_policy.default)["To"]
    named = [a.addr_spec for a in header.addresses] if isinstance(header, AddressHeader) else []
    if named != [address]:
        raise RecipientMismatch(f"not sent: the To header would name {named!r}, not {address!r}")


def build_message(email: Email, sender: str) -> EmailMessage:
    """The MIME message: multipart/alternative (text, then HTML) inside multipart/mixed with the attachments.
    :class:`RecipientMismatch` when its To header would not name ``email.to`` exactly."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    _check_recipient(message, email.to)
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or None)
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    for attachment in email.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content.encode("utf-8"),
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return message


class Mailer:
    """Sends over SMTP as configured (``LICENSING_SMTP_*``, ``LICENSING_MAIL_FROM``), or logs without a host."""

    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self._password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        self.security = settings.smtp_security
        self.sender = settings.mail_from
        self.show_unsent = not settings.is_production  # development: mail not sent is shown on stderr

    def __repr__(self) -> str:  # never the password
        return f"Mailer(host={self.host!r}, port={self.port}, username={self.username!r}, security={self.security!r})"

    def send(self, email: Email) -> None:
        message = build_message(email, self.sender)
        if not self.host:
            self._not_sent(email, message)
            return
        context = ssl.create_default_context()
        implicit_tls = self.security == "ssl" or (self.security == "auto" and self.port == 465)
        smtp: smtplib.SMTP
        if implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT)
        with smtp:
            smtp.ehlo()
            if not implicit_tls and self.security != "none":
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                elif self.security == "starttls":
                    raise smtplib.SMTPNotSupportedError(f"{self.host}:{self.port} does not offer STARTTLS")
            if self.username:
                smtp.login(self.username, self._password or "")
            smtp.send_message(message, to_addrs=[email.to])

    def _not_sent(self, email: Email, message: EmailMessage) -> None:
        """No SMTP host: log that the message was not sent (never its body), and in development show it."""
        if not self.show_unsent:
            log.info(
                "mail.logged",
                extra={
                    "message_id": message["Message-ID"],
                    "detail": "LICENSING_SMTP_HOST is not set: the e-mail was not sent",
                },
            )
            return
        log.info(
            "mail.logged",
            extra={
                "message_id": message["Message-ID"],
                "to": email.to,
                "subject": email.subject,
                "detail": "LICENSING_SMTP_HOST is not set: the e-mail is shown on stderr, not sent",
            },
        )
        show_unsent(email, self.sender)


_show_lock = threading.Lock()


def _printable(text: str, keep: str = "") -> str:
    """``text`` without control characters (a name typed in a form must not drive the terminal)."""
    return "".join(c if c in keep or (c.isprintable() or c == " ") else "?" for c in text)


def show_unsent(email: Email, sender: str) -> None:
    """An e-mail that was not sent, for a person at the terminal (development only): headers, the text
    body (its links each on a line, as the templates write them), the attachments' names."""
    rule = "-" * 72
    lines = [
        rule,
        "E-MAIL NOT SENT (LICENSING_SMTP_HOST is not set): shown here instead",
        f"From: {_printable(sender)}",
        f"To: {_printable(email.to)}",
        f"Subject: {_printable(email.subject)}",
    ]
    if email.attachments:
        names = ", ".join(_printable(a.filename) for a in email.attachments)
        lines.append(f"Attachments: {names} (not shown)")
    lines += ["", _printable(email.text.rstrip("\n"), keep="\n\t"), rule, ""]
    with _show_lock:  # the worker's threads: one e-mail after another, not interleaved
        sys.stderr.write("\n".join(lines))
        sys.stderr.flush()
