"""An organisation for sales: its owner, customers, licenses and leads; its owner changed (audited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.access import audit
from licensing.context import Core
from licensing.kit import fields
from licensing.kit.db import atomic, insert_ignoring_duplicates
from licensing.kit.errors import NotFound
from licensing.models import Customer, Lead, License, Organisation, Subscription

ORGANISATION_NOT_FOUND = "organisation_not_found"
DETAIL_MAX = 100  # rows of each kind shown, newest first


@dataclass(frozen=True)
class OrganisationDetail:
    organisation: str
    owner: str | None
    customers: list[Customer]
    licenses: list[License]
    subscriptions: list[Subscription]
    leads: list[Lead]


def organisation_detail(session: Session, organisation: str) -> OrganisationDetail:
    """``organisation`` (as ``organisation_of`` gives it) with what belongs to it, newest first; 404
    ``organisation_not_found`` when it has neither a lead nor a customer."""
    organisation = organisation.strip().casefold()
    row = session.get(Organisation, organisation)
    customers = list(
        session.scalars(
            select(Customer).where(Customer.organisation == organisation).order_by(Customer.id.desc()).limit(DETAIL_MAX)
        )
    )
    if row is None and not customers:
        raise NotFound(f"No organisation {organisation!r}.", code=ORGANISATION_NOT_FOUND)
    ids = select(Customer.id).where(Customer.organisation == organisation)
    licenses = session.scalars(
        select(License).where(License.customer_id.in_(ids)).order_by(License.id.desc()).limit(DETAIL_MAX)
    )
    subscriptions = session.scalars(
        select(Subscription).where(Subscription.customer_id.in_(ids)).order_by(Subscription.id.desc()).limit(DETAIL_MAX)
    )
    leads = session.scalars(
        select(Lead).where(Lead.organisation == organisation).order_by(Lead.id.desc()).limit(DETAIL_MAX)
    )
    return OrganisationDetail(
        organisation=organisation,
        owner=row.owner if row is not None else None,
        customers=customers,
        licenses=list(licenses),
        subscriptions=list(subscriptions),
        leads=list(leads),
    )


@dataclass(frozen=True)
class OrganisationLeads:
    """An organisation's leads, summed up for the console's list."""

    organisation: str
    owner: str | None
    leads: int
    pql: int
    last_lead_at: datetime


def organisations_with_leads(
    session: Session, *, owner: str | None = None, kind: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[OrganisationLeads], bool]:
    """Organisations with leads (of ``kind`` when given; owned by ``owner`` when given), the one with the
    newest lead first, a page at a time; and whether more follow."""
    counted = select(
        Lead.organisation,
        func.count(Lead.id).label("leads"),
        func.count(Lead.id).filter(Lead.kind == "pql").label("pql"),
        func.max(Lead.created_at).label("last_lead_at"),
    ).group_by(Lead.organisation)
    if kind:
        counted = counted.where(Lead.kind == kind)
    summary = counted.subquery()
    query = select(
        Organisation.organisation, Organisation.owner, summary.c.leads, summary.c.pql, summary.c.last_lead_at
    ).join(summary, summary.c.organisation == Organisation.organisation)
    if owner:
        query = query.where(Organisation.owner == owner.strip())
    rows = session.execute(
        query.order_by(summary.c.last_lead_at.desc(), Organisation.organisation).offset(offset).limit(limit + 1)
    ).all()
    found = [OrganisationLeads(r[0], r[1], int(r[2]), int(r[3]), r[4]) for r in rows[:limit]]
    return found, len(rows) > limit


@atomic
def set_owner(session: Session, core: Core, actor: str, organisation: str, owner: str | None) -> OrganisationDetail:
    """Give ``organisation`` (one with a lead or a customer) to ``owner`` (None: nobody); audited."""
    detail = organisation_detail(session, organisation)
    owner = fields.normalize_email(owner) if owner else None
    now = core.now()
    insert_ignoring_duplicates(
        session, Organisation, ["organisation"], organisation=detail.organisation, owner=None, created_at=now
    )
    row = session.get(Organisation, detail.organisation, with_for_update=True)
    assert row is not None
    before, row.owner = row.owner, owner
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "organisation.owner_changed",
        "organisation",
        detail.organisation,
        owner=owner,
        before=before,
    )
    return organisation_detail(session, detail.organisation)
