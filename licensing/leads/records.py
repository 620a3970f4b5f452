"""Recording leads: the organisation's owner given on its first lead (race-safe), the owner mailed once
per lead, and the leads listed for sales."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, SessionTransaction

from licensing.access import audit
from licensing.context import Core
from licensing.kit import fields
from licensing.kit.db import atomic, insert_ignoring_duplicates
from licensing.kit.errors import ValidationFailed
from licensing.leads.routing import route
from licensing.licenses.customers import organisation_of
from licensing.licenses.queries import Page, page
from licensing.mail import outbox
from licensing.mail.templates import lead_message
from licensing.models import Customer, Lead, Organisation

Source = Literal["trial", "free", "contact"]
INTERESTS = ("enterprise", "quote", "trial_extension", "other")
KINDS = ("pql", "mql")
LEAD_MAIL_KIND = "lead"  # the outbox dedupe-key prefix of the owners' e-mails
MESSAGE_MAX = 5000


def kind_of(source: Source, installation_id: str | None) -> str:
    """A product-qualified lead (pql) when it carries an installation id or asks for a trial, else mql."""
    return "pql" if installation_id or source == "trial" else "mql"


def owner_of(session: Session, core: Core, organisation: str, email: str, now: datetime) -> str | None:
    """The organisation's owner, given by :func:`~licensing.leads.routing.route` when this is its first
    lead. Race-safe: ``INSERT ... ON CONFLICT DO NOTHING``, then the row that won is read."""
    domain = email.rpartition("@")[2].casefold()
    insert_ignoring_duplicates(
        session,
        Organisation,
        ["organisation"],
        organisation=organisation,
        owner=route(organisation, email, core.catalog, core.settings.sales_email),
        free_mail=domain in core.catalog.free_mail_domains,
        created_at=now,
    )
    return session.scalars(select(Organisation.owner).where(Organisation.organisation == organisation)).one()


def account_owner(session: Session, core: Core, customer: Customer) -> str:
    """Who in sales answers for ``customer``: the owner of its organisation (given by routing if the
    organisation has none yet), else ``LICENSING_SALES_EMAIL``; where sales notices about a customer go."""
    return owner_of(session, core, customer.organisation, customer.email, core.now()) or core.settings.sales_address


@atomic
def record_lead(
    session: Session,
    core: Core,
    actor: str,
    *,
    email: str,
    source: Source,
    name: str | None = None,
    company: str | None = None,
    interest: str | None = None,
    seats: int | None = None,
    message: str | None = None,
    installation_id: str | None = None,
    outcome: str | None = None,
    self_serve_request_id: str | None = None,
) -> Lead:
    """Add a lead, give its organisation an owner if it has none, and mail the owner about it (once)."""
    now = core.now()
    email = fields.normalize_email(email)
    organisation = organisation_of(email, core.catalog)
    if interest is not None and interest not in INTERESTS:
        raise ValidationFailed(
            f"interest: expected one of {', '.join(INTERESTS)}.", field="interest", code="invalid_interest"
        )
    owner = owner_of(session, core, organisation, email, now)
    lead = Lead(
        organisation=organisation,
        email=email,
        name=fields.check_text(name or "", "name", fields.NAME_MAX) or None,
        company=fields.check_text(company or "", "company", fields.NAME_MAX) or None,
        kind=kind_of(source, installation_id),
        source=source,
        interest=interest,
        seats=seats,
        message=(message or "").strip()[:MESSAGE_MAX] or None,
        installation_id=installation_id,
        outcome=outcome,
        self_serve_request_id=self_serve_request_id,
        created_at=now,
    )
    session.add(lead)
    session.flush()
    if owner is not None:
        outbox.enqueue(session, now, f"{LEAD_MAIL_KIND}:{lead.id}", lead_message(lead, owner))
    audit.record(
        session,
        now,
        actor,
        "lead.recorded",
        "lead",
        lead.id,
        organisation=organisation,
        kind=lead.kind,
        source=source,
        outcome=outcome,
        owner=owner,
    )
    return lead


_AFTER = "leads.after_transaction"  # session.info: the leads to record once the transaction ends


def record_lead_after(session: Session, core: Core, actor: str, **lead: Any) -> None:
    """Record a lead in a unit of work of its own once ``session``'s transaction ends, committed or rolled
    back: for a refusal, which rolls the request back (a refused trial is a lead too). On SQLite the
    request's transaction holds the write lock, so the lead cannot be written beside it, only after it."""
    session.info.setdefault(_AFTER, []).append((session.get_bind(), core, actor, lead))


@event.listens_for(Session, "after_transaction_end")
def _record_waiting_leads(session: Session, transaction: SessionTransaction) -> None:
    """Once the outermost transaction has ended (a savepoint's end is not it), committed or not."""
    if transaction.parent is not None or transaction.nested:
        return
    for bind, core, actor, lead in session.info.pop(_AFTER, []):
        with Session(bind) as own, own.begin():
            record_lead(own, core, actor, **lead)


def set_outcome(session: Session, self_serve_request_id: str, outcome: str) -> None:
    """The outcome of a confirmed (or refused on confirming) self-serve request's lead."""
    session.execute(update(Lead).where(Lead.self_serve_request_id == self_serve_request_id).values(outcome=outcome))


def list_leads(
    session: Session,
    *,
    limit: int,
    cursor: str | None,
    organisation: str | None = None,
    owner: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
) -> Page[Lead]:
    """Leads newest first, by organisation, owner, kind (pql|mql) and created at or after ``since``."""
    query = select(Lead)
    if organisation:
        query = query.where(Lead.organisation == organisation.strip().casefold())
    if owner:
        owned = select(Organisation.organisation).where(Organisation.owner == owner.strip())
        query = query.where(Lead.organisation.in_(owned))
    if kind:
        if kind not in KINDS:
            raise ValidationFailed("kind: expected pql or mql.", field="kind", code="invalid_kind")
        query = query.where(Lead.kind == kind)
    if since is not None:
        query = query.where(Lead.created_at >= since)
    return page(session, query, Lead.id, limit, cursor, "lead_")
