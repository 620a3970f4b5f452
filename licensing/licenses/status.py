"""The one definition of where a license stands: its status (in Python for a loaded row, in SQL for a
filter, side by side so they cannot drift), whether it has ended, whether it was superseded, and
whether the organisation pays. Every reader (the API, the portal,
reminders, revocation, the trial rules, billing, the CLI) asks here."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from licensing.models import Customer, License

Status = Literal["active", "grace", "expired", "scheduled", "superseded", "revoked"]


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
SUPERSEDED: ColumnElement[bool] = exists().where(_LATER.supersedes_id == License.id)
"""SQL: another license supersedes this one (it is not the newest of its line)."""


def where_status(status: Status, now: datetime) -> ColumnElement[bool]:
    """The SQL condition for ``status_of(license, now) == status``."""
    if status == "revoked":
        return License.revoked_at.is_not(None)
    conditions: list[ColumnElement[bool]] = [License.revoked_at.is_(None)]
    if status == "superseded":
        return and_(*conditions, SUPERSEDED)
    conditions.append(~SUPERSEDED)
    if status == "scheduled":
        return and_(*conditions, License.starts_at > now)
    conditions.append(License.starts_at <= now)
    if status == "active":
        return and_(*conditions, or_(License.expires_at.is_(None), License.expires_at > now))
    if status == "grace":
        return and_(*conditions, License.expires_at <= now, License.grace_ends_at > now)
    return and_(*conditions, License.grace_ends_at <= now)


_REVOKED_ONE = aliased(License, name="revoked_one")


def select_ids_with_status(
    status: Status, now: datetime, *conditions: ColumnElement[bool]
) -> tuple[Select[Any], InstrumentedAttribute[Any]]:
    """SQL: the ids of the licenses ``where_status(status, now)`` and ``conditions`` select, and the
    column that holds them (to order and page by).

    With no other condition, the superseded licenses are read from the other end: the ids their
    successors name (``supersedes_id``, unique and indexed) that are not revoked. The planner walks that
    index newest first and has a page at once, where testing every license newest first for a successor
    reads as many licenses as were issued since the last renewals (15,000 for a million)."""
    if status == "superseded" and not conditions:
        key = _LATER.supersedes_id
        revoked = exists().where(_REVOKED_ONE.id == key, _REVOKED_ONE.revoked_at.is_not(None))
        return select(key).where(key.is_not(None), ~revoked), key
    return select(License.id).where(where_status(status, now), *conditions), License.id


def has_ended(lic: License, now: datetime) -> bool:
    """Its grace is over (perpetual licenses never end); revoked or not. Python's ``not_ended``."""
    return lic.grace_ends_at is not None and lic.grace_ends_at <= now


def not_ended(now: datetime) -> ColumnElement[bool]:
    """SQL: a license a customer can still use, grace included (perpetual ones never end); revoked or not."""
    return or_(License.grace_ends_at.is_(None), License.grace_ends_at > now)


def organisation_pays(session: Session, organisation: str) -> bool:
    """The organisation has bought, so the trial rules refuse it another trial: it holds a paid license
    (not free, not a trial, whatever its status) that sales issued, or that a self-serve purchase issued
    in place of the organisation's trial (its holder proved the purchase hers, through the trial's buy
    link). A self-serve purchase proves nothing about the organisation of the address typed at checkout,
    so on its own it does not count: a stranger paying for one seat as ``nobody@victim`` must not spend
    the victim's trial."""
    first = aliased(License, name="first_of_line")
    proven = or_(License.source != "stripe", exists().where(first.id == License.line_id, first.trial.is_(True)))
    paid = session.scalars(
        select(License.id)
        .join(Customer, License.customer_id == Customer.id)
        .where(Customer.organisation == organisation, License.trial.is_(False), License.tier != "free", proven)
        .limit(1)
    ).first()
    return paid is not None
