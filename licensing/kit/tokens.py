"""Secrets handed to a person or a program once and kept only as a hash: sign-in links, portal
sessions, self-serve confirmation links and poll tokens.

A token is ``<prefix>_<43 characters>`` (256 random bits, URL-safe); the database keeps its SHA-256,
so whoever reads the database cannot use what it holds. A token is looked up by its hash
(:func:`find`): the lookup's timing tells nothing about the token, since nobody can choose a hash.
A secret checked against one known row instead (a poll token, found by the request's id) is compared
in constant time (:func:`matches`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

TOKEN_BYTES = 32
HASH_LENGTH = 64  # hex SHA-256: the column width of every stored token hash
MAX_LENGTH = 100  # longer than any token made here; anything longer is not looked up

Row = TypeVar("Row")


@dataclass(frozen=True)
class Token:
    """A new secret (shown once) and the hash to store."""

    secret: str
    hash: str


def new_token(prefix: str) -> Token:
    secret = f"{prefix}_{secrets.token_urlsafe(TOKEN_BYTES)}"
    return Token(secret=secret, hash=token_hash(secret))


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def matches(secret: str, stored_hash: str) -> bool:
    """Whether ``secret`` is the token whose hash is ``stored_hash``, in constant time."""
    return hmac.compare_digest(token_hash(secret), stored_hash)


def well_formed(secret: str | None, prefix: str) -> bool:
    """Whether ``secret`` could be a token made by ``new_token(prefix)`` (cheap; nothing is looked up)."""
    return bool(secret) and secret is not None and len(secret) <= MAX_LENGTH and secret.startswith(f"{prefix}_")


def find(
    session: Session,
    model: type[Row],
    column: InstrumentedAttribute[str],
    secret: str | None,
    prefix: str,
    *,
    lock: bool = False,
) -> Row | None:
    """The ``model`` row whose ``column`` holds the hash of ``secret`` (locked ``FOR UPDATE`` when
    ``lock``), or None; a malformed secret is not looked up."""
    if not well_formed(secret, prefix):
        return None
    assert secret is not None
    query: Any = select(model).where(column == token_hash(secret))
    row: Row | None = session.scalars(query.with_for_update() if lock else query).first()
    return row
