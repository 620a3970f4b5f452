"""Reading licenses, customers and the audit log: the one definition of a license's status (in
Python for a loaded row, in SQL for a filter, side by side so they cannot drift) and the one way
lists are filtered and paged. The API and the CLI use these, and so will the portal and billing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from licensing.kit.errors import ValidationFailed
from licensing.models import AuditEvent, Customer, License, Subscription

if TYPE_CHECKING:
    from sqlalchemy.orm import InstrumentedAttribute

Status = Literal["active", "grace", "expired", "scheduled", "superseded", "revoked"]
T = TypeVar("T")


# --- status --------------------------------------------------------------------------------------
def status_of(lic: License, now: datetime, superseded: bool = False) -> Status:
    """revoked, superseded, scheduled, active, grace or expired, as of ``now``."""
    if lic.revoked_at is not None:
        return "revoked"
    if superseded:
        return "superseded"
    if now < lic.starts_at:
        return "scheduled"
    if lic.expires_at is None or now < lic.expires_at:
        return "active"
    if lic.grace_ends_at is not None and now < lic.grace_ends_at:
        return "grace"
    return "expired"


# Built once: an alias of a 23-column table is costly to build, and refresh asks for one on every call.
_LATER = aliased(License, name="later")
_SUPERSEDED = exists().where(_LATER.supersedes_id == License.id)


def where_status(status: Status, now: datetime) -> ColumnElement[bool]:
    """The SQL condition for ``status_of(license, now) == status``."""
    if status == "revoked":
        return License.revoked_at.is_not(None)
    conditions: list[ColumnElement[bool]] = [License.revoked_at.is_(None)]
    if status == "superseded":
        return and_(*conditions, _SUPERSEDED)
    conditions.append(~_SUPERSEDED)
    if status == "scheduled":
        return and_(*conditions, License.starts_at > now)
    conditions.append(License.starts_at <= now)
    if status == "active":
        return and_(*conditions, or_(License.expires_at.is_(None), License.expires_at > now))
    if status == "grace":
        return and_(*conditions, License.expires_at <= now, License.grace_ends_at > now)
    return and_(*conditions, License.grace_ends_at <= now)


def not_ended(now: datetime) -> ColumnElement[bool]:
    """A license a customer can still use, grace included (perpetual ones never end); revoked or not."""
    return or_(License.grace_ends_at.is_(None), License.grace_ends_at > now)


def newest_of_line(session: Session, line_id: str) -> License:
    return session.scalars(select(License).where(License.line_id == line_id, ~_SUPERSEDED)).one()


def newest_of_lines(session: Session, line_ids: Sequence[str | None]) -> dict[str, str]:
    """Line id -> the id of its newest license, for these lines (one query)."""
    ids = sorted({line for line in line_ids if line})
    if not ids:
        return {}
    rows = session.execute(select(License.line_id, License.id).where(License.line_id.in_(ids), ~_SUPERSEDED)).all()
    return {line: lic for line, lic in rows}


def successor_of(session: Session, lic: License) -> License | None:
    return session.scalars(select(License).where(License.supersedes_id == lic.id)).first()


def successors(session: Session, licenses: Sequence[License]) -> dict[str, str]:
    """License id -> the id of the license that superseded it, for these licenses (one query)."""
    ids = [lic.id for lic in licenses]
    if not ids:
        return {}
    rows = session.execute(select(License.supersedes_id, License.id).where(License.supersedes_id.in_(ids))).all()
    return {old: new for old, new in rows if old is not None}


# --- paging --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _cursor_value(cursor: str, numeric: bool, prefix: str) -> Any:
    valid = (
        cursor.isascii() and cursor.isdigit() and len(cursor) <= 18
        if numeric
        else cursor.startswith(prefix) and cursor[len(prefix) :].isascii() and cursor[len(prefix) :].isalnum()
    )
    if not valid:
        raise ValidationFailed("The cursor is not one this API gave out.", field="cursor", code="invalid_cursor")
    return int(cursor) if numeric else cursor


def page(
    session: Session,
    query: Select[T],
    key: InstrumentedAttribute[Any],
    limit: int,
    cursor: str | None,
    prefix: str = "",
) -> Page[T]:
    """Newest first by ``key`` (ids sort by creation), ``limit`` items after ``cursor``."""
    numeric = not prefix
    query = query.order_by(key.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(key < _cursor_value(cursor, numeric, prefix))
    rows = list(session.scalars(query))
    items = rows[:limit]
    next_cursor = str(getattr(items[-1], key.key)) if len(rows) > limit else None
    return Page(items, next_cursor)


def list_customers(session: Session, *, limit: int, cursor: str | None, email: str | None = None) -> Page[Customer]:
    query = select(Customer)
    if email:
        query = query.where(Customer.email == email.strip())
    return page(session, query, Customer.id, limit, cursor, "cus_")


def list_licenses(
    session: Session,
    now: datetime,
    *,
    limit: int,
    cursor: str | None,
    customer_id: str | None = None,
    tier: str | None = None,
    status: Status | None = None,
    installation_id: str | None = None,
    subscription_id: str | None = None,
) -> Page[License]:
    query = select(License)
    for column, value in (
        (License.customer_id, customer_id),
        (License.tier, tier),
        (License.installation_id, installation_id),
        (License.subscription_id, subscription_id),
    ):
        if value:
            query = query.where(column == value)
    if status:
        query = query.where(where_status(status, now))
    return page(session, query, License.id, limit, cursor, "lic_")


def list_subscriptions(
    session: Session,
    *,
    limit: int,
    cursor: str | None,
    customer_id: str | None = None,
    status: str | None = None,
) -> Page[Subscription]:
    query = select(Subscription)
    if customer_id:
        query = query.where(Subscription.customer_id == customer_id)
    if status:
        query = query.where(Subscription.status == status)
    return page(session, query, Subscription.id, limit, cursor, "sub_")


def list_audit_events(
    session: Session, *, limit: int, cursor: str | None, subject_id: str | None = None, action: str | None = None
) -> Page[AuditEvent]:
    query = select(AuditEvent)
    if subject_id:
        query = query.where(AuditEvent.subject_id == subject_id)
    if action:
        query = query.where(AuditEvent.action == action)
    return page(session, query, AuditEvent.id, limit, cursor)
