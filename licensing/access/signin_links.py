"""Single-use sign-in links e-mailed to a person: the customer portal's (:class:`PortalLink`) and the
sales console's (:class:`StaffLink`). Only the SHA-256 of a link's token is kept; a link is used once,
before it expires, and using it is one conditional UPDATE, so of concurrent redemptions exactly one wins."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from licensing.kit.errors import DomainError
from licensing.kit.tokens import find, token_hash, well_formed
from licensing.models import PortalLink, StaffLink

LinkState = Literal["valid", "used", "expired", "unknown"]
LinkModel = type[PortalLink] | type[StaffLink]


class LinkRefused(DomainError):
    """A sign-in link that is used, expired, not one of ours (or, in the console, of a member since
    removed: then it is "unknown")."""

    status = 410
    code = "sign_in_link_refused"
    title = "Sign-in link not valid"

    def __init__(self, state: LinkState) -> None:
        super().__init__(
            {
                "used": "This sign-in link has already been used.",
                "expired": "This sign-in link has expired.",
            }.get(state, "This sign-in link is not valid."),
            code=f"sign_in_link_{state}",
        )
        self.state = state


def link_state(session: Session, model: LinkModel, secret: str, prefix: str, now: datetime) -> LinkState:
    """What following the link would do, without using it (the GET of a sign-in link)."""
    link = find(session, model, model.token_hash, secret, prefix)
    if link is None:
        return "unknown"
    if link.used_at is not None:
        return "used"
    return "valid" if now < link.expires_at else "expired"


def use_link(
    session: Session, model: LinkModel, secret: str, prefix: str, now: datetime, *returning: InstrumentedAttribute[Any]
) -> Row[Any]:
    """Use the link once and answer its ``returning`` columns; :class:`LinkRefused` when it is used,
    expired or unknown."""
    if not well_formed(secret, prefix):
        raise LinkRefused("unknown")
    claimed = session.execute(
        update(model)
        .where(model.token_hash == token_hash(secret), model.used_at.is_(None), model.expires_at > now)
        .values(used_at=now)
        .returning(*returning),
        execution_options={"synchronize_session": False},
    ).first()
    if claimed is None:
        raise LinkRefused(link_state(session, model, secret, prefix, now))
    return claimed
