"""The SMTP layer sends to exactly the address it is given (licensing.mail.smtp): the envelope's
``RCPT TO`` and the To header, as a real SMTP server (aiosmtpd on loopback) receives them. An address
the e-mail package would read as another (an RFC 2047 encoded word in the local part, from before
normalize_email refused it) is not sent at all (issue 14)."""

from __future__ import annotations

import pytest
from mailtools import smtp_server, utf8

from licensing.kit.settings import Settings
from licensing.mail.smtp import Email, Mailer

SENDER = "licenses@vendor.example"


def _mailer(settings: Settings, port: int) -> Mailer:
    update = {"smtp_host": "127.0.0.1", "smtp_port": port, "mail_from": SENDER, "smtp_security": "none"}
    return Mailer(settings.model_copy(update=update))


@pytest.mark.parametrize(
    "address",
    [
        "ada@acme.example",
        "Ann+tag@acme.example",
        "o'neil.x=y@acme.example",
        "a?b@acme.example",
        "jörg@bücher.example",  # SMTPUTF8
    ],
)
def test_the_envelope_and_the_to_header_carry_the_address_as_given(settings: Settings, address: str) -> None:
    with smtp_server() as inbox:
        _mailer(settings, inbox.port).send(Email(to=address, subject="s", text="t", html="<p>h</p>"))
        message = inbox.wait_for(lambda m: True)
        assert inbox.envelopes == [(SENDER, [address])]
        [to] = message["To"].addresses
        assert utf8(to.addr_spec) == address and utf8(str(message["To"])) == address


@pytest.mark.parametrize(
    "address",
    [
        "=?utf-8?q?attacker=40evil.com?=@victim.example",
        "=?utf-8?b?YXR0YWNrZXJAZXZpbC5jb20=?=@victim.example",
    ],
)
def test_an_address_the_headers_would_read_as_another_is_not_sent(settings: Settings, address: str) -> None:
    with smtp_server() as inbox:
        with pytest.raises(ValueError, match="not sent"):
            _mailer(settings, inbox.port).send(Email(to=address, subject="s", text="t", html="<p>h</p>"))
        assert inbox.messages == [] and inbox.envelopes == []
