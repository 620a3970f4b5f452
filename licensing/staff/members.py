"""Staff members of the sales console: added, listed and disabled by the operator (``licensing staff``).

A member is an e-mail address (kept validated and lower-cased, unique) with a role of the API's
(:data:`licensing.access.apikeys.ROLES`: admin > sales > readonly). Removing a member disables it (the
audit log keeps naming it) and ends its sessions at once; adding a disabled member again enables it
with the role given.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from licensing.access import audit
from licensing.access.apikeys import ROLES
from licensing.context import Core
from licensing.kit import fields
from licensing.kit.db import atomic
from licensing.kit.errors import Conflict, NotFound, ValidationFailed
from licensing.models import StaffMember, StaffSession

CLI_ACTOR = "cli"


def actor(email: str) -> str:
    """How a member appears in the audit log: ``staff:<address>``."""
    return f"staff:{email}"[: fields.ACTOR_MAX]


def canonical_email(email: str) -> str:
    """The address as members are kept: validated (``ValidationFailed``) and lower-cased."""
    return fields.normalize_email(email).lower()


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationFailed(
            f"Unknown role {role!r}; expected one of {', '.join(reversed(ROLES))}.", field="role", code="unknown_role"
        )
    return role


def find_member(session: Session, email: str) -> StaffMember | None:
    return session.scalars(select(StaffMember).where(StaffMember.email == canonical_email(email))).first()


@atomic
def add_member(session: Session, core: Core, email: str, role: str, *, by: str = CLI_ACTOR) -> StaffMember:
    """A new member, or a disabled one enabled again with ``role``; 409 ``staff_exists`` for an enabled one."""
    address = canonical_email(email)
    _check_role(role)
    now = core.now()
    member = find_member(session, address)
    if member is not None and member.disabled_at is None:
        raise Conflict(f"{address} is already a staff member ({member.role}).", code="staff_exists")
    if member is None:
        member = StaffMember(email=address, role=role, created_at=now)
        session.add(member)
    else:
        member.role, member.disabled_at = role, None
    session.flush()
    audit.record(session, now, by, "staff.added", "staff_member", member.id, email=address, role=role)
    return member


def list_members(session: Session) -> list[StaffMember]:
    return list(session.scalars(select(StaffMember).order_by(StaffMember.email)))


@atomic
def disable_member(session: Session, core: Core, email: str, *, by: str = CLI_ACTOR) -> StaffMember:
    """Disable the member and end its sessions; 404 ``staff_not_found`` for an unknown or disabled one."""
    member = find_member(session, email)
    if member is None or member.disabled_at is not None:
        raise NotFound(f"No staff member {canonical_email(email)}.", code="staff_not_found")
    now = core.now()
    member.disabled_at = now
    session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == member.id, StaffSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    audit.record(session, now, by, "staff.removed", "staff_member", member.id, email=member.email)
    return member
