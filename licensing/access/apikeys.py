"""API keys for sales ops: created by the operator, stored as SHA-256 hashes, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.access import audit
from licensing.kit import fields
from licensing.kit.db import atomic, new_id
from licensing.kit.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from licensing.models import ApiKey

if TYPE_CHECKING:
    from licensing.context import Core

ROLES = ("readonly", "sales", "admin")  # each includes the ones before it
TOKEN_PREFIX = "lsk_"  # noqa: S105 - a prefix, not a secret
_ID_CHARS = 26


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@atomic
def create_api_key(session: Session, core: Core, *, name: str, role: str, actor: str = "cli") -> tuple[ApiKey, str]:
    """A new key and its token; the token is shown once and only its hash is kept."""
    now = core.now()
    if role not in ROLES:
        raise ValidationFailed(
            f"Unknown role {role!r}; expected one of {', '.join(ROLES)}.", field="role", code="unknown_role"
        )
    name = fields.check_text(name, "name", fields.API_KEY_NAME_MAX)
    if not name:
        raise ValidationFailed("Give the key a name.", field="name")
    key_id = new_id("key")
    secret = secrets.token_urlsafe(32)
    key = ApiKey(id=key_id, name=name, role=role, token_hash=_hash(secret), created_at=now)
    session.add(key)
    session.flush()
    audit.record(session, now, actor, "api_key.created", "api_key", key.id, name=name, role=role)
    return key, f"{TOKEN_PREFIX}{key_id.removeprefix('key_')}_{secret}"


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


@atomic
def revoke_api_key(session: Session, core: Core, key_id: str, *, actor: str = "cli") -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key {key_id!r}.", code="api_key_not_found")
    if key.revoked_at is None:
        key.revoked_at = core.now()
        audit.record(session, key.revoked_at, actor, "api_key.revoked", "api_key", key.id, name=key.name)
    return key


def authenticate(session: Session, token: str) -> ApiKey:
    """The live key a bearer token names. Compared in constant time; revoked keys fail at once."""
    if not token.startswith(TOKEN_PREFIX) or len(token) < len(TOKEN_PREFIX) + _ID_CHARS + 2:
        raise Unauthorized("The API key is not valid.", code="invalid_api_key")
    id_part = token[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + _ID_CHARS]
    secret = token[len(TOKEN_PREFIX) + _ID_CHARS + 1 :]
    key = session.get(ApiKey, f"key_{id_part}")
    # Hash even when no key matched, so timing does not tell which ids exist.
    presented = _hash(secret)
    if key is None or not hmac.compare_digest(presented, key.token_hash):
        raise Unauthorized("The API key is not valid.", code="invalid_api_key")
    if key.revoked_at is not None:
        raise Unauthorized("The API key has been revoked.", code="api_key_revoked")
    return key


def role_includes(have: str, need: str) -> bool:
    """Whether role ``have`` may do what ``need`` may (admin > sales > readonly); the API's keys and the
    console's staff alike."""
    return have in ROLES and ROLES.index(have) >= ROLES.index(need)


def require_role(key: ApiKey, role: str) -> None:
    if not role_includes(key.role, role):
        raise Forbidden(f"This API key's role ({key.role}) may not do this; it needs {role}.", code="insufficient_role")
