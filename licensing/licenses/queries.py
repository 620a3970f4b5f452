"""Reading licenses, customers, subscriptions and the audit log: lines of renewals (newest, successors)
and the one way lists are filtered and paged. What a license's status is lives in
:mod:`licensing.licenses.status`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import Integer, Select, func, literal, or_, select
from sqlalchemy.orm import Session

from licensing.kit.errors import ValidationFailed
from licensing.licenses.status import SUPERSEDED, Status, select_ids_with_status
from licensing.models import AuditEvent, Customer, License, Subscription

if TYPE_CHECKING:
    from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")


def newest_of_line(session: Session, line_id: str) -> License:
    return session.scalars(select(License).where(License.line_id == line_id, ~SUPERSEDED)).one()


def newest_of_lines(session: Session, line_ids: Sequence[str | None]) -> dict[str, str]:
    """Line id -> the id of its newest license, for these lines (one query)."""
    ids = sorted({line for line in line_ids if line})
    if not ids:
        return {}
    rows = session.execute(select(License.line_id, License.id).where(License.line_id.in_(ids), ~SUPERSEDED)).all()
    return {line: lic for line, lic in rows}


def line_of(session: Session, line_id: str) -> list[License]:
    """Every license of a line, newest first."""
    return list(session.scalars(select(License).where(License.line_id == line_id).order_by(License.id.desc())))


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


def list_customers(
    session: Session, *, limit: int, cursor: str | None, email: str | None = None, search: str | None = None
) -> Page[Customer]:
    """Customers newest first; ``email`` exactly, ``search`` a part of the name, address, company or
    organisation (case-insensitively)."""
    query = select(Customer)
    if email:
        query = query.where(Customer.email == email.strip())
    if search and search.strip():
        pattern = "%" + search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (Customer.name, Customer.email, Customer.company, Customer.organisation)
                )
            )
        )
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
    conditions = [
        column == value
        for column, value in (
            (License.customer_id, customer_id),
            (License.tier, tier),
            (License.installation_id, installation_id),
            (License.subscription_id, subscription_id),
        )
        if value
    ]
    if not status:
        return page(session, select(License).where(*conditions), License.id, limit, cursor, "lic_")
    # A status is a condition on a few dated columns (and on the license's successor): the page's ids are
    # found first from the index that holds those columns (ix_licenses_status, read without the table's
    # rows), then only the page's rows are read. Filtering whole rows newest first read thousands of them
    # for one page when the status is rare among the newest licenses (a million licenses: 36 ms).
    ids, key = select_ids_with_status(status, now, *conditions)
    # The limit is written into the SQL, not bound: a server-side prepared statement's generic plan does
    # not know a bound one, and guessed thousands of ids (the superseded then took a merge join along
    # every license instead of a page's lookups).
    ids = ids.order_by(key.desc()).limit(literal(limit + 1, Integer, literal_execute=True))
    if cursor is not None:
        ids = ids.where(key < _cursor_value(cursor, False, "lic_"))
    return page(
        session, select(License).where(License.id.in_(ids.scalar_subquery())), License.id, limit, cursor, "lic_"
    )


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
    session: Session,
    *,
    limit: int,
    cursor: str | None,
    subject_id: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    subject_ids: Sequence[str] | None = None,
) -> Page[AuditEvent]:
    """The audit log newest first; ``subject_ids``: events about any of these (an organisation's history)."""
    query = select(AuditEvent)
    if subject_id:
        query = query.where(AuditEvent.subject_id == subject_id)
    if subject_ids is not None:
        query = query.where(AuditEvent.subject_id.in_(list(subject_ids)))
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    return page(session, query, AuditEvent.id, limit, cursor)
