"""E-mail addresses as the service accepts them (licensing.kit.fields.normalize_email): an RFC 2047
encoded word in the local part is refused, since the e-mail package decodes it in headers and the
mail would go to another address than the one validated (issue 14)."""

from __future__ import annotations

import pytest

from licensing.kit.errors import ValidationFailed
from licensing.kit.fields import normalize_email

ENCODED_WORDS = [
    "=?utf-8?q?attacker=40evil.com?=@victim.example",
    "=?UTF-8?Q?attacker=40evil.com?=@victim.example",
    "=?utf-8?b?YXR0YWNrZXJAZXZpbC5jb20=?=@victim.example",
    "=?iso-8859-1?q?a?=@victim.example",
    "=?utf-8*en?q?a?=@victim.example",  # with a language (RFC 2231)
    "ann.=?utf-8?q?x?=@victim.example",  # anywhere in the local part
    "=?utf-8?q?a?==?utf-8?q?b?=@victim.example",
    "  =?utf-8?q?attacker=40evil.com?=@victim.example  ",
]


@pytest.mark.parametrize("email", ENCODED_WORDS)
def test_an_encoded_word_in_the_local_part_is_refused(email: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalize_email(email)
    assert caught.value.code == "invalid_email" and caught.value.extra["field"] == "email"
    assert "encoded" in caught.value.message


@pytest.mark.parametrize(
    ("email", "normalized"),
    [
        ("a=b@x.example", "a=b@x.example"),
        ("a?b@x.example", "a?b@x.example"),
        ("why?=@x.example", "why?=@x.example"),  # "?=" without "=?" before it is no encoded word
        ("a=?b@x.example", "a=?b@x.example"),  # nor is "=?" that nothing closes
        ("Ann+1@X.example", "Ann+1@x.example"),
    ],
)
def test_equals_and_question_marks_alone_are_still_addresses(email: str, normalized: str) -> None:
    assert normalize_email(email) == normalized
