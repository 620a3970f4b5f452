"""Secrets handed to a person or a program once and kept only as a hash: sign-in links, portal
sessions, self-serve confirmation links and poll tokens.

A token is ``<prefix>_<43 characters>`` (256 random bits, URL-safe); the database keeps its SHA-256
(a lookup by hash reveals nothing about the token, since an attacker cannot choose hashes), and a
row found by hash is compared again in constant time. Whoever reads the database cannot use what
it holds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

TOKEN_BYTES = 32
HASH_LENGTH = 64  # hex SHA-256: the column width of every stored token hash


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
