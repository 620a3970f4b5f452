"""Self-serve licenses: the 30-day Professional trial and free licenses.

A public request never reads, returns or signs what is already stored about a customer, nor adds a
license to an existing customer (SPEC section 1): each one makes a customer record of its own from
what the requester typed, and the license carries exactly that.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing.core import Core
from licensing.customers import create_customer, organisation_of
from licensing.db import atomic
from licensing.errors import Conflict, ValidationFailed
from licensing.issuance import IssueRequest, issue_license
from licensing.models import Customer, License, TrialClaim

TRIAL_USED = "trial_already_used"
# One answer whatever the reason (a trial already had, or an organisation that already pays), so the
# refusal tells a stranger nothing about who is a customer.
_TRIAL_USED_MESSAGE = (
    "A trial is no longer available for this organisation or installation. Contact sales to extend a trial or to buy."
)


def _trial_used() -> Conflict:
    return Conflict(_TRIAL_USED_MESSAGE, code=TRIAL_USED)


@atomic
def request_trial(
    session: Session,
    core: Core,
    *,
    email: str,
    company: str,
    name: str | None = None,
    installation_id: str | None = None,
    seats: int | None = None,
    accept_terms: bool,
    actor: str = "public",
) -> License:
    """Issue a Professional trial: one per organisation and one per installation, none after paying.

    The ``trial_claims`` unique constraint settles races: of concurrent requests for one
    organisation, one commits and the others fail on the constraint and answer 409.
    """
    if accept_terms is not True:
        raise ValidationFailed("Accept the terms to start a trial.", field="accept_terms", code="terms_not_accepted")
    if not company.strip():
        raise ValidationFailed("Give the company the trial is for.", field="company")
    organisation = organisation_of(email, core.catalog)
    installation_id = installation_id.strip() if installation_id else None
    claims = [("organisation", organisation)] + ([("installation", installation_id)] if installation_id else [])
    taken = session.scalars(
        select(TrialClaim.kind).where(
            (TrialClaim.kind == "organisation") & (TrialClaim.value == organisation)
            | (TrialClaim.kind == "installation") & (TrialClaim.value == (installation_id or ""))
        )
    ).first()
    paid = session.scalars(
        select(License.id)
        .join(Customer)
        .where(Customer.organisation == organisation, License.trial.is_(False), License.tier != "free")
        .limit(1)
    ).first()
    if taken is not None or paid is not None:
        raise _trial_used()

    now = core.now()
    customer = create_customer(session, core.catalog, actor, now, name=name, email=email, company=company)
    lic = issue_license(
        session,
        core,
        IssueRequest(
            customer=customer,
            offer=core.catalog.offer("professional_trial"),
            actor=actor,
            source="trial",
            seats=seats,
            installation_id=installation_id,
        ),
    )
    try:
        with session.begin_nested():
            session.add_all(
                TrialClaim(kind=kind, value=value, license_id=lic.id, created_at=now) for kind, value in claims
            )
    except IntegrityError:
        raise _trial_used() from None
    return lic


@atomic
def request_free(
    session: Session,
    core: Core,
    *,
    email: str,
    company: str | None = None,
    name: str | None = None,
    installation_id: str | None = None,
    actor: str = "public",
) -> License:
    """Issue a perpetual free license."""
    customer = create_customer(session, core.catalog, actor, core.now(), name=name, email=email, company=company)
    return issue_license(
        session,
        core,
        IssueRequest(
            customer=customer,
            offer=core.catalog.offer("free"),
            actor=actor,
            source="free",
            installation_id=installation_id,
        ),
    )
