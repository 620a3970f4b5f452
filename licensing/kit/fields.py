"""The one set of limits on text the service stores and signs, checked at the edge (the API's wire
shapes, the CLI) and again by the core, so the database never sees a value its column cannot hold
and SQLite and PostgreSQL behave alike. Column widths in ``models.py`` are at least these."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from licensing.kit.errors import ValidationFailed

NAME_MAX = 200  # a person's or a company's name
EMAIL_MAX = 254  # RFC 5321's longest forward path, less its angle brackets
EMAIL_LOCAL_MAX = 64
INSTALLATION_ID_MAX = 200
INSTALLATION_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
API_KEY_NAME_MAX = 100  # shown as the actor "<name> (<key id>)", which must fit ACTOR_MAX
ACTOR_MAX = 200
NOTE_MAX = 2000
REASON_MAX = 2000
FEATURE_MAX = 64

# Characters no name, address or id has, and which change how text around them is shown: C0 (but tab,
# line feed and carriage return, which notes and reasons may hold) and DEL, C1, the line and paragraph
# separators, and the bidirectional controls that can make "evil.com" read as "moc.live".
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_LINE_BREAKS = re.compile(r"[\t\n\r]")
# An RFC 2047 encoded word ("=?charset?q?text?="), or anything the e-mail package might take for one.
_ENCODED_WORD = re.compile(r"=\?.*\?=", re.DOTALL)


def has_forbidden_characters(value: str, *, multiline: bool = False) -> bool:
    """True when ``value`` holds a control or bidi character (line breaks only where ``multiline``)."""
    return _FORBIDDEN.search(value) is not None or (not multiline and _LINE_BREAKS.search(value) is not None)


def check_text(value: str, field: str, maximum: int, *, multiline: bool = False) -> str:
    """``value`` stripped, or a ValidationFailed naming ``field`` when it is too long or holds control characters."""
    value = value.strip()
    if has_forbidden_characters(value, multiline=multiline):
        raise ValidationFailed(
            f"{field} must not contain control or bidirectional formatting characters.",
            field=field,
            code="invalid_text",
        )
    if len(value) > maximum:
        raise ValidationFailed(f"{field} may be at most {maximum} characters.", field=field, code="too_long")
    return value


def normalize_email(email: str) -> str:
    """The address with its domain normalised (lower case, IDNA); a clear error when it is not one.

    A local part holding an RFC 2047 encoded word (``=?utf-8?q?ann=40evil.example?=@victim.example``)
    is refused: the address is valid as written, but the e-mail package decodes encoded words in
    headers, so the mail would name, and could be delivered to, another address than this one."""
    email = email.strip()
    if len(email) > EMAIL_MAX or has_forbidden_characters(email):
        raise ValidationFailed(
            f"An e-mail address has at most {EMAIL_MAX} characters and no control characters.",
            field="email",
            code="invalid_email",
        )
    try:
        normalized = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationFailed(
            f"{email!r} is not an e-mail address: {exc}", field="email", code="invalid_email"
        ) from None
    local = normalized.rpartition("@")[0]
    if _ENCODED_WORD.search(local):
        raise ValidationFailed(
            "The part before the @ may not hold an encoded word (=?...?=).", field="email", code="invalid_email"
        )
    if len(local) > EMAIL_LOCAL_MAX or len(normalized) > EMAIL_MAX:
        raise ValidationFailed(
            f"The part before the @ may be at most {EMAIL_LOCAL_MAX} characters, the whole address {EMAIL_MAX}.",
            field="email",
            code="invalid_email",
        )
    return normalized


def check_installation_id(value: str | None) -> str | None:
    """An installation id (letters, digits and ``. _ : -``, up to 200 characters) stripped, or None when
    empty; ``ValidationFailed`` (``invalid_installation_id``) otherwise."""
    value = check_text(value or "", "installation_id", INSTALLATION_ID_MAX)
    if value and not re.match(INSTALLATION_ID_PATTERN, value):
        raise ValidationFailed(
            "The installation id may contain only letters, digits and . _ : -.",
            field="installation_id",
            code="invalid_installation_id",
        )
    return value or None
