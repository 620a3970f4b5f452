"""Self-serve licenses: the 30-day Professional trial and free licenses, confirmed by e-mail.

A public request never reads, returns or signs what is already stored about a customer, nor adds a
license to an existing customer (SPEC section 1): each one makes a customer record of its own from
what the requester typed, and the license carries exactly that.

Two modes (``LICENSING_SELF_SERVE_CONFIRMATION``), chosen here by :func:`request_license` (the API and
the pages call it), one issuing path (:func:`issue_self_serve`):

* ``none``: :func:`issue_self_serve` issues at once (of a :func:`trial_ask` or :func:`free_ask`).
* ``email`` (the default): :func:`submit_request` checks the trial rules (a refusal answers at once),
  keeps what was typed in a :class:`~licensing.models.SelfServeRequest` and mails a single-use link;
  :func:`confirm` (the link's page, on a POST) checks the rules again and issues. A pending request
  claims nothing, so it blocks nobody; it expires after :data:`CONFIRMATION_WINDOW`.

Mail floods: besides the per-client rate limit of the public endpoints, one mailbox (its address
however spelt: case, ``+tags``, the catalog's free-mail rules; :func:`~licensing.licenses.customers.mailbox_of`)
gets at most :data:`CONFIRMATION_MAILS_PER_HOUR` confirmation e-mails an hour, and one organisation's
addresses together at most :data:`ORGANISATION_CONFIRMATION_MAILS_PER_HOUR`. A request beyond either
is still recorded and answered exactly as the others (nobody learns whether mail went out); it just
sends no mail, and the links already mailed stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing.access import audit
from licensing.context import Core
from licensing.kit import fields, metrics
from licensing.kit.db import atomic
from licensing.kit.errors import Conflict, NotFound, ValidationFailed
from licensing.kit.tokens import find, matches, new_token, token_hash
from licensing.leads.records import record_lead, record_lead_after, set_outcome
from licensing.licenses.buylinks import buy_link
from licensing.licenses.customers import create_customer, mailbox_of, organisation_of
from licensing.licenses.issuance import IssueRequest, issue_license
from licensing.licenses.queries import Page, page
from licensing.licenses.status import organisation_pays
from licensing.mail import outbox
from licensing.mail.templates import html_document, license_message, text_document
from licensing.models import License, SelfServeRequest, TrialClaim

TRIAL_USED = "trial_already_used"
# One answer whatever the reason (a trial already had, or an organisation that already pays), so the
# refusal tells a stranger nothing about who is a customer.
TRIAL_USED_MESSAGE = (
    "A trial is no longer available for this organisation or installation. Contact sales to extend a trial or to buy."
)
CONFIRMATION_WINDOW = timedelta(hours=24)
CONFIRMATION_MAILS_PER_HOUR = 5  # per mailbox
ORGANISATION_CONFIRMATION_MAILS_PER_HOUR = 30  # per organisation, its addresses together
CONFIRM_MAIL_KIND = "confirm"  # the outbox dedupe-key prefix of confirmation e-mails
REQUEST_NOT_FOUND = "self_serve_request_not_found"
CONFIRM_PREFIX = "ssc"  # of confirmation links' tokens

Kind = Literal["trial", "free"]
# What a request is, as of now: stored pending, issued or refused; pending past expires_at is expired.
RequestStatus = Literal["pending_confirmation", "issued", "refused", "expired"]
PENDING = "pending_confirmation"
# Compared against when no request has the id, so that a miss costs what a wrong token costs.
_NO_HASH = token_hash("no request")


def _trial_used() -> Conflict:
    return Conflict(TRIAL_USED_MESSAGE, code=TRIAL_USED)


@dataclass(frozen=True)
class Ask:
    """What a requester typed, checked: the same whether it is issued at once or after confirming."""

    kind: Kind
    email: str
    company: str | None
    name: str | None = None
    installation_id: str | None = None
    seats: int | None = None


def trial_ask(
    *,
    email: str,
    company: str,
    name: str | None = None,
    installation_id: str | None = None,
    seats: int | None = None,
    accept_terms: bool,
) -> Ask:
    if accept_terms is not True:
        raise ValidationFailed("Accept the terms to start a trial.", field="accept_terms", code="terms_not_accepted")
    if not company.strip():
        raise ValidationFailed("Give the company the trial is for.", field="company")
    return _ask("trial", email, company, name, installation_id, seats)


def free_ask(
    *, email: str, company: str | None = None, name: str | None = None, installation_id: str | None = None
) -> Ask:
    return _ask("free", email, company, name, installation_id, None)


def _ask(
    kind: Kind, email: str, company: str | None, name: str | None, installation_id: str | None, seats: int | None
) -> Ask:
    """Checked as create_customer will check it at issue time, so that confirming never fails on input."""
    return Ask(
        kind=kind,
        email=fields.normalize_email(email),
        company=fields.check_text(company or "", "company", fields.NAME_MAX) or None,
        name=fields.check_text(name or "", "name", fields.NAME_MAX) or None,
        installation_id=installation_id.strip() or None if installation_id else None,
        seats=seats,
    )


def check_trial_rules(session: Session, organisation: str, installation_id: str | None) -> None:
    """Refuse (409 ``trial_already_used``) when the organisation or the installation had a trial, or
    the organisation pays. Race-safe only together with the claim that :func:`issue_self_serve` makes."""
    taken = session.scalars(
        select(TrialClaim.kind).where(
            (TrialClaim.kind == "organisation") & (TrialClaim.value == organisation)
            | (TrialClaim.kind == "installation") & (TrialClaim.value == (installation_id or ""))
        )
    ).first()
    if taken is not None or organisation_pays(session, organisation):
        raise _trial_used()


@atomic
def issue_self_serve(session: Session, core: Core, ask: Ask, actor: str) -> License:
    """Issue what ``ask`` asks for, to a customer record of its own: the one path of both modes.

    A trial is one per organisation and one per installation, none after paying. The ``trial_claims``
    unique constraint settles races: of concurrent issues for one organisation, one commits and the
    others fail on the constraint and raise 409 ``trial_already_used`` (everything they wrote undone).
    """
    organisation = organisation_of(ask.email, core.catalog)
    if ask.kind == "trial":
        check_trial_rules(session, organisation, ask.installation_id)
    now = core.now()
    customer = create_customer(session, core, actor, name=ask.name, email=ask.email, company=ask.company)
    lic = issue_license(
        session,
        core,
        IssueRequest(
            customer=customer,
            offer=core.catalog.offer("professional_trial" if ask.kind == "trial" else "free"),
            actor=actor,
            source=ask.kind,
            seats=ask.seats,
            installation_id=ask.installation_id,
        ),
    )
    if ask.kind == "trial":
        claims = [("organisation", organisation)]
        if ask.installation_id:
            claims.append(("installation", ask.installation_id))
        try:
            with session.begin_nested():
                session.add_all(
                    TrialClaim(kind=kind, value=value, license_id=lic.id, created_at=now) for kind, value in claims
                )
        except IntegrityError:
            raise _trial_used() from None
    return lic


def issues_at_once(core: Core) -> bool:
    """Whether self-serve requests are issued at once (``LICENSING_SELF_SERVE_CONFIRMATION=none``) rather
    than confirmed by e-mail first (the default)."""
    return core.settings.self_serve_confirmation == "none"


def request_license(session: Session, core: Core, ask: Ask, *, actor: str) -> License | Pending:
    """What the public gets for ``ask`` (the API and the pages alike): the license at once, or the pending
    request whose confirmation link was mailed, as :func:`issues_at_once` says."""
    lead: dict[str, Any] = {
        "email": ask.email,
        "source": ask.kind,
        "name": ask.name,
        "company": ask.company,
        "seats": ask.seats,
        "installation_id": ask.installation_id,
    }
    try:
        if issues_at_once(core):
            result: License | Pending = issue_self_serve(session, core, ask, actor)
        else:
            result = submit_request(session, core, ask, actor=actor)
    except Conflict as exc:
        if exc.code == TRIAL_USED:
            metrics.self_serve_requests.labels(kind=ask.kind, outcome="refused").inc()
            # The refusal rolls the request back: the lead is written once it has, in its own transaction.
            record_lead_after(session, core, actor, outcome="refused", **lead)
        raise
    if isinstance(result, Pending):  # "throttled": recorded, but over the hourly cap of confirmation mails
        record_lead(session, core, actor, outcome="pending", self_serve_request_id=result.request.id, **lead)
        _count(session, ask.kind, "requested" if result.mailed else "throttled")
    else:
        record_lead(session, core, actor, outcome="issued", **lead)
        _count(session, ask.kind, "issued")
    return result


def _count(session: Session, kind: str, outcome: str) -> None:
    """A self-serve outcome, counted once the caller commits it."""
    metrics.on_commit(session, metrics.self_serve_requests.labels(kind=kind, outcome=outcome).inc)


# --- confirmation by e-mail ------------------------------------------------------------------------
@dataclass(frozen=True)
class Pending:
    """A request waiting for its confirmation; the tokens are shown once (only their hashes are kept)."""

    request: SelfServeRequest
    poll_token: str
    confirm_url: str
    mailed: bool


def confirm_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/confirm/{token}"


@atomic
def submit_request(session: Session, core: Core, ask: Ask, *, actor: str) -> Pending:
    """Record ``ask`` and mail its confirmation link; nothing is issued or claimed yet.

    A trial the rules already refuse is refused now (409 ``trial_already_used``); they are checked again
    when the link is followed. Beyond :data:`CONFIRMATION_MAILS_PER_HOUR` confirmation e-mails to one
    mailbox, or :data:`ORGANISATION_CONFIRMATION_MAILS_PER_HOUR` to one organisation, in the last hour
    the request is recorded but no mail is sent (``Pending.mailed``), and the caller answers exactly as
    it does otherwise.
    """
    organisation = organisation_of(ask.email, core.catalog)
    if ask.kind == "trial":
        check_trial_rules(session, organisation, ask.installation_id)
    now = core.now()
    confirm_token, poll_token = new_token(CONFIRM_PREFIX), new_token("ssp")
    row = SelfServeRequest(
        kind=ask.kind,
        status=PENDING,
        email=ask.email,
        name=ask.name,
        company=ask.company,
        organisation=organisation,
        installation_id=ask.installation_id,
        seats=ask.seats,
        confirm_token_hash=confirm_token.hash,
        poll_token_hash=poll_token.hash,
        created_at=now,
        expires_at=now + CONFIRMATION_WINDOW,
        created_by=actor[: fields.ACTOR_MAX],
    )
    session.add(row)
    session.flush()
    link = confirm_url(core.public_url, confirm_token.secret)
    to = outbox.Recipient(mailbox=mailbox_of(ask.email, core.catalog), organisation=organisation)
    since = now - timedelta(hours=1)
    mailed = (
        outbox.sent_recently(session, to.mailbox, CONFIRM_MAIL_KIND, since) < CONFIRMATION_MAILS_PER_HOUR
        and outbox.sent_recently_to_organisation(session, organisation, CONFIRM_MAIL_KIND, since)
        < ORGANISATION_CONFIRMATION_MAILS_PER_HOUR
    )
    if mailed:
        outbox.enqueue(session, now, f"{CONFIRM_MAIL_KIND}:{row.id}", confirmation_message(row, link), counted_as=to)
    audit.record(
        session,
        now,
        actor,
        "self_serve.requested",
        "self_serve_request",
        row.id,
        kind=ask.kind,
        email=ask.email,
        organisation=organisation,
        installation_id=ask.installation_id,
        mailed=mailed,
    )
    return Pending(request=row, poll_token=poll_token.secret, confirm_url=link, mailed=mailed)


def what_is_asked(row: SelfServeRequest) -> list[tuple[str, str]]:
    """The request as the confirmation page shows it: all of it, what the requester typed included,
    for the person who follows the link to check before confirming."""
    facts = _chosen(row)
    if row.company:
        facts.append(("Company", row.company))
    if row.name:
        facts.append(("Name", row.name))
    if row.installation_id:
        facts.append(("Installation", row.installation_id))
    return facts


def what_is_mailed(row: SelfServeRequest) -> list[tuple[str, str]]:
    """The request as its confirmation e-mail shows it: only what the service itself chose (the edition,
    the seats as a number, the address the mail goes to), since nobody at that address has confirmed
    anything yet and anybody can type a company or a name that reads as an instruction (SPEC section 1).

    The installation id is not shown either: its pattern admits words, dots and colons (up to 200 of
    them: ``reset-your-password.at.evil.example``), and the SPEC gives it no narrower, opaque format.
    Company, name and installation id are on the page behind the link.
    """
    return _chosen(row)


def _chosen(row: SelfServeRequest) -> list[tuple[str, str]]:
    facts = [("Edition", "Professional trial, 30 days" if row.kind == "trial" else "Free, perpetual")]
    if row.kind == "trial":
        facts.append(("Seats", str(int(row.seats or 250))))
    facts.append(("E-mail", row.email))
    return facts


def confirmation_message(row: SelfServeRequest, link: str) -> outbox.Message:
    """The confirmation e-mail: the link and :func:`what_is_mailed`, nothing the requester typed."""
    what = "Professional trial" if row.kind == "trial" else "free license"
    title = f"Confirm your {what} request"
    until = row.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    paragraphs = [
        f"Someone, hopefully you, asked for a {what} with this e-mail address. To get it, open this link "
        f"and press Confirm: {link}",
        "The confirmation page shows the request in full, with the company, name and installation given "
        "with it: check them before you confirm.",
        f"The link works once, until {until}. If you did not ask for this, ignore this e-mail: nothing is "
        "issued without the confirmation.",
    ]
    facts = what_is_mailed(row)
    return outbox.Message(
        to=row.email,
        subject=title,
        text=text_document(title, paragraphs, facts),
        html=html_document(title, paragraphs, facts, action=("Review and confirm", link)),
        secret=True,
    )


def request_status(row: SelfServeRequest, now: datetime) -> RequestStatus:
    if row.status == PENDING:
        return "expired" if now >= row.expires_at else "pending_confirmation"
    return "issued" if row.status == "issued" else "refused"


def where_request_status(status: RequestStatus, now: datetime) -> ColumnElement[bool]:
    """The SQL condition for ``request_status(row, now) == status``."""
    if status == "pending_confirmation":
        return and_(SelfServeRequest.status == PENDING, SelfServeRequest.expires_at > now)
    if status == "expired":
        return and_(SelfServeRequest.status == PENDING, SelfServeRequest.expires_at <= now)
    return SelfServeRequest.status == status


def by_confirm_token(session: Session, token: str, *, lock: bool = False) -> SelfServeRequest | None:
    """The request whose link carries ``token`` (locked FOR UPDATE when ``lock``), or None."""
    return find(session, SelfServeRequest, SelfServeRequest.confirm_token_hash, token, CONFIRM_PREFIX, lock=lock)


ConfirmOutcome = Literal["issued", "used", "expired", "refused", "unknown"]


@dataclass(frozen=True)
class Confirmation:
    outcome: ConfirmOutcome
    request: SelfServeRequest | None = None
    license: License | None = None


def confirm(session: Session, core: Core, token: str, *, actor: str) -> Confirmation:
    """Follow a confirmation link: issue the license, mail it, and mark the request issued.

    The request row is locked (``SELECT ... FOR UPDATE``), so of concurrent confirmations of one link
    one issues and the others then see it issued (``used``). Two requests of one organisation
    confirmed at once are settled by the trial claim: the loser's request becomes ``refused``
    (``trial_already_used``), as does one the rules refuse by now (another trial, or a payment).
    Nothing is raised for these outcomes, so the caller commits what they record.
    """
    row = by_confirm_token(session, token, lock=True)
    if row is None:
        _count(session, "unknown", "confirm_unknown")
        return Confirmation("unknown")
    now = core.now()
    status = request_status(row, now)
    if status != "pending_confirmation":
        outcome: ConfirmOutcome = "used" if status == "issued" else status
        _count(session, row.kind, f"confirm_{outcome}")
        return Confirmation(outcome, row)
    ask = Ask(row.kind, row.email, row.company, row.name, row.installation_id, row.seats)  # type: ignore[arg-type]
    try:
        lic = issue_self_serve(session, core, ask, row.created_by)
    except Conflict as exc:
        if exc.code != TRIAL_USED:
            raise
        row.status, row.refusal_code, row.confirmed_at = "refused", exc.code, now
        audit.record(session, now, actor, "self_serve.refused", "self_serve_request", row.id, code=exc.code)
        set_outcome(session, row.id, "refused")
        _count(session, row.kind, "refused")
        return Confirmation("refused", row)
    row.status, row.license_id, row.confirmed_at = "issued", lic.id, now
    headline = "Your Professional trial license" if row.kind == "trial" else "Your free license"
    intro = (
        "Thank you for confirming. Your 30-day Professional trial has started."
        if row.kind == "trial"
        else "Thank you for confirming. Here is your perpetual free license."
    )
    buy_url = buy_link(session, core, lic, actor=actor) if lic.trial else None
    message = license_message(lic, core.public_url, headline=headline, intro=intro, buy_url=buy_url)
    outbox.enqueue(session, now, f"license:{lic.id}", message)
    audit.record(
        session, now, actor, "self_serve.confirmed", "self_serve_request", row.id, license_id=lic.id, kind=row.kind
    )
    set_outcome(session, row.id, "issued")
    session.flush()
    _count(session, row.kind, "issued")
    return Confirmation("issued", row, lic)


def poll(session: Session, request_id: str, poll_token: str | None) -> SelfServeRequest:
    """The request ``request_id`` for the holder of its poll token; 404 for a wrong or missing token as
    for an unknown id (the hashes are compared in constant time either way)."""
    row = session.get(SelfServeRequest, request_id) if request_id.isascii() and len(request_id) <= 40 else None
    right = matches(poll_token or "", row.poll_token_hash if row is not None else _NO_HASH)
    if row is None or not poll_token or not right:
        raise NotFound("No such self-serve request, or not your poll token.", code=REQUEST_NOT_FOUND)
    return row


def list_requests(
    session: Session,
    now: datetime,
    *,
    limit: int,
    cursor: str | None,
    status: RequestStatus | None = None,
    kind: Kind | None = None,
    email: str | None = None,
    organisation: str | None = None,
) -> Page[SelfServeRequest]:
    """Requests newest first (sales ops' product-qualified leads)."""
    query = select(SelfServeRequest)
    if status:
        query = query.where(where_request_status(status, now))
    if kind:
        query = query.where(SelfServeRequest.kind == kind)
    if email:
        try:
            address = fields.normalize_email(email)
        except ValidationFailed:
            address = email.strip()
        query = query.where(SelfServeRequest.email == address)
    if organisation:
        query = query.where(SelfServeRequest.organisation == organisation.strip().casefold())
    return page(session, query, SelfServeRequest.id, limit, cursor, "ssr_")
