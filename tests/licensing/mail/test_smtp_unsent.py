"""Mail with no SMTP server (no ``LICENSING_SMTP_HOST``): in development it is shown readably on stderr
(From, To, Subject and the text, so the operator can follow a confirmation link); in production its body
(which holds tokens and license files) is never shown or logged, only that it was not sent."""

from __future__ import annotations

import logging

import pytest

from licensing.kit.settings import Settings
from licensing.mail.smtp import Attachment, Email, Mailer

LINK = "http://127.0.0.1:8000/confirm?token=tok_5f1e9a7c3b2d4e6f8a0c1b3d5e7f9a2c"
LICENSE = "-----BEGIN LICENSE-----\neyJhbGciOiJFZERTQSJ9.c2VjcmV0.c2ln\n-----END LICENSE-----\n"
EMAIL = Email(
    to="ada@acme.example",
    subject="Confirm your trial",
    text=f"Follow this link to start your trial:\n\n{LINK}\n",
    html=f'<p><a href="{LINK}">Start</a></p>',
    attachments=(Attachment("license.lic", LICENSE),),
)


def _mailer(env: str) -> Mailer:
    return Mailer(Settings(env=env, smtp_host=None, mail_from="licenses@vendor.example", _env_file=None))  # type: ignore[call-arg, arg-type]


def test_development_shows_the_mail_readably_on_stderr(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="licensing.mail"):
        _mailer("development").send(EMAIL)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "From: licenses@vendor.example" in lines
    assert "To: ada@acme.example" in lines
    assert "Subject: Confirm your trial" in lines
    assert LINK in lines  # on a line of its own: a terminal makes it clickable
    assert "license.lic" in err and "BEGIN LICENSE" not in err  # attachments named, not shown
    assert "LICENSING_SMTP_HOST" in err  # says why it was not sent
    [record] = [r for r in caplog.records if r.getMessage() == "mail.logged"]
    assert LINK not in str(record.__dict__)  # the log line holds no body


def test_development_shows_no_control_character(capsys: pytest.CaptureFixture[str]) -> None:
    typed = Email(to="ada@acme.example", subject="Hi \x1b[2J", text="Dear \x1b]0;owned\x07Ada,\n\tbye", html="")
    _mailer("development").send(typed)
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "Dear ?]0;owned?Ada,\n\tbye" in err


def test_production_never_shows_or_logs_the_body(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        _mailer("production").send(EMAIL)
    captured = capsys.readouterr()
    everything = captured.out + captured.err + "\n".join(str(r.__dict__) for r in caplog.records)
    assert "tok_5f1e9a7c" not in everything
    assert "eyJhbGciOiJFZERTQSJ9" not in everything
    assert "Follow this link" not in everything
    [record] = [r for r in caplog.records if r.getMessage() == "mail.logged"]
    assert str(record.message_id).startswith("<") and "vendor.example" in record.message_id  # type: ignore[attr-defined]
    assert "not sent" in record.detail  # type: ignore[attr-defined]
