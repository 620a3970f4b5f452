"""The customer portal (SPEC 5): sign-in by a link mailed to the customer, sessions, and what a signed-in
customer may see (her licenses and subscriptions).

* **Who is "she".** A portal session belongs to an e-mail address, not to a customer record: sales ops
  and self-serve checkouts make a customer record per purchase, so one person may have several. A
  session sees every license and subscription whose customer's address is the session's, compared
  **case-insensitively on the whole address** (``lower()`` of the database on both sides; local parts
  are case-sensitive in theory and never in practice) and **exactly otherwise**: no dropping of dots
  or ``+tags``, since whoever controls ``a+shop@x`` need not control ``a@x``.
* **Sign-in links.** ``request_sign_in`` mails a single-use link valid for :data:`LINK_TTL`, whatever
  the address: the same rows are written and the same answer given whether or not anything is
  registered under it, so neither the page nor its timing tells (a link to an unknown address signs
  into an empty portal that says so). At most :data:`MAILS_PER_WINDOW` links per mailbox (the address
  however spelt: case, ``+tags``, the catalog's free-mail rules) and :data:`ORGANISATION_MAILS_PER_WINDOW`
  per organisation per :data:`FLOOD_WINDOW`; beyond that nothing is written or sent, and the caller
  answers the same. (The cap counts spellings together; the session still belongs to the exact address.)
* **Sessions.** ``redeem`` consumes a link (a conditional UPDATE: of two concurrent redemptions one
  wins) and starts a session of :data:`SESSION_TTL`; ``sign_out`` ends it. Links and sessions keep only
  the SHA-256 of their tokens (:mod:`licensing.kit.tokens`).

Sign-in requests, sign-ins and sign-outs are in the audit log, with the actor ``portal:<address>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.orm import Session

from licensing.access import audit, signin_links
from licensing.access.signin_links import LinkState
from licensing.context import Core
from licensing.kit import fields
from licensing.kit.db import atomic
from licensing.kit.errors import NotFound
from licensing.kit.tokens import find, new_token
from licensing.licenses.queries import successors
from licensing.licenses.status import Status, status_of
from licensing.mail import outbox
from licensing.mail.templates import html_document, text_document
from licensing.models import Customer, License, PortalLink, PortalSession, Subscription

log = logging.getLogger("licensing.portal")

LINK_TTL = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=12)
MAILS_PER_WINDOW = 5  # per mailbox
ORGANISATION_MAILS_PER_WINDOW = 30  # per organisation, its addresses together
FLOOD_WINDOW = timedelta(hours=1)
MAIL_KIND = "signin"  # the outbox dedupe key prefix counted by outbox.sent_recently
LINK_PREFIX = "psl"
SESSION_PREFIX = "pss"


def actor(email: str) -> str:
    return f"portal:{email}"[:200]


def canonical_email(email: str) -> str:
    """The address as the portal keeps it: validated (``ValidationFailed`` otherwise) and lower-cased."""
    return fields.normalize_email(email).lower()


# --- sign-in links ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignInRequested:
    email: str
    mailed: bool  # False when the address had its fill of links lately (the page answers the same)


@atomic
def request_sign_in(session: Session, core: Core, email: str) -> SignInRequested:
    """Mail a sign-in link to ``email`` (through the outbox, dedupe key ``signin:<link id>``) unless its
    mailbox got :data:`MAILS_PER_WINDOW` of them, or its organisation :data:`ORGANISATION_MAILS_PER_WINDOW`,
    within :data:`FLOOD_WINDOW`. ``ValidationFailed`` when ``email`` is not an address."""
    address = canonical_email(email)
    to = outbox.recipient(address, core.catalog)
    now = core.now()
    since = now - FLOOD_WINDOW
    if (
        outbox.sent_recently(session, to.mailbox, MAIL_KIND, since) >= MAILS_PER_WINDOW
        or outbox.sent_recently_to_organisation(session, to.organisation, MAIL_KIND, since)
        >= ORGANISATION_MAILS_PER_WINDOW
    ):
        log.warning("portal.sign_in_throttled")
        return SignInRequested(address, mailed=False)
    token = new_token(LINK_PREFIX)
    link = PortalLink(token_hash=token.hash, email=address, created_at=now, expires_at=now + LINK_TTL)
    session.add(link)
    session.flush()
    url = f"{core.public_url.rstrip('/')}/portal/sign-in/{token.secret}"
    outbox.enqueue(session, now, f"{MAIL_KIND}:{link.id}", sign_in_message(address, url), counted_as=to)
    audit.record(session, now, actor(address), "portal.sign_in_requested", "portal_link", link.id)
    return SignInRequested(address, mailed=True)


def sign_in_message(address: str, url: str) -> outbox.Message:
    minutes = int(LINK_TTL.total_seconds() // 60)
    title = "Sign in to the customer portal"
    paragraphs = [
        "Someone, probably you, asked to sign in to the customer portal with this e-mail address. "
        f"Open this link within {minutes} minutes and press Sign in. The link works once.",
        f"Or copy this address into your browser: {url}",
        "In the portal you see and download the licenses bought with this address, and manage your subscriptions.",
        "If you did not ask for this, ignore this e-mail: nobody can sign in without the link.",
    ]
    return outbox.Message(
        to=address,
        subject=title,
        text=text_document(title, paragraphs),
        html=html_document(title, paragraphs, action=("Sign in", url)),
        secret=True,
    )


def link_state(session: Session, core: Core, secret: str) -> LinkState:
    """What following the link would do, without using it (the GET of a sign-in link)."""
    return signin_links.link_state(session, PortalLink, secret, LINK_PREFIX, core.now())


@dataclass(frozen=True)
class StartedSession:
    token: str  # for the browser's cookie; the database keeps its hash
    email: str
    expires_at: datetime


@atomic
def redeem(session: Session, core: Core, secret: str) -> StartedSession:
    """Use the link (once) and start a portal session; ``LinkRefused`` when used, expired or unknown."""
    now = core.now()
    claimed = signin_links.use_link(session, PortalLink, secret, LINK_PREFIX, now, PortalLink.id, PortalLink.email)
    token = new_token(SESSION_PREFIX)
    row = PortalSession(
        token_hash=token.hash, email=claimed.email, link_id=claimed.id, created_at=now, expires_at=now + SESSION_TTL
    )
    session.add(row)
    session.flush()
    audit.record(session, now, actor(claimed.email), "portal.sign_in", "portal_session", row.id, link_id=claimed.id)
    log.info("portal.sign_in", extra={"portal_session": row.id})
    return StartedSession(token=token.secret, email=claimed.email, expires_at=row.expires_at)


# --- sessions ----------------------------------------------------------------------------------------
def current_session(session: Session, core: Core, secret: str | None) -> PortalSession | None:
    """The live session the browser's token names: None when unknown, expired or signed out."""
    row = find(session, PortalSession, PortalSession.token_hash, secret, SESSION_PREFIX)
    if row is None or row.signed_out_at is not None or core.now() >= row.expires_at:
        return None
    return row


@atomic
def sign_out(session: Session, core: Core, secret: str | None) -> bool:
    """End the session the token names (server-side: the token is refused from now on)."""
    row = current_session(session, core, secret)
    if row is None:
        return False
    now = core.now()
    row.signed_out_at = now
    audit.record(session, now, actor(row.email), "portal.sign_out", "portal_session", row.id)
    return True


# --- what she sees -----------------------------------------------------------------------------------
def _hers(email: str) -> ColumnElement[bool]:
    return func.lower(Customer.email) == func.lower(literal(email))


@dataclass(frozen=True)
class LicenseEntry:
    license: License
    status: Status
    superseded_by: str | None


@dataclass(frozen=True)
class LicenseLine:
    """A license and its renewals, newest first (``entries[0]`` is the one in force)."""

    line_id: str
    entries: list[LicenseEntry]


def licenses_of(session: Session, core: Core, email: str) -> list[LicenseLine]:
    """Her licenses by line, the line with the newest license first, each line newest first."""
    query = (
        select(License)
        .join(Customer, License.customer_id == Customer.id)
        .where(_hers(email))
        .order_by(License.issued_at.desc(), License.id.desc())
    )
    licenses = list(session.scalars(query).unique())
    later = successors(session, licenses)
    now = core.now()
    lines: dict[str, LicenseLine] = {}
    for lic in licenses:
        entry = LicenseEntry(lic, status_of(lic, now, lic.id in later), later.get(lic.id))
        lines.setdefault(lic.line_id, LicenseLine(lic.line_id, [])).entries.append(entry)
    return list(lines.values())


def license_of(session: Session, email: str, license_id: str) -> License:
    """One of her licenses; ``NotFound`` for any other (whether or not it exists)."""
    lic = session.scalars(
        select(License).join(Customer, License.customer_id == Customer.id).where(License.id == license_id, _hers(email))
    ).first()
    if lic is None:
        raise NotFound("No such license.", code="license_not_found")
    return lic


def subscriptions_of(session: Session, email: str) -> list[Subscription]:
    query = (
        select(Subscription)
        .join(Customer, Subscription.customer_id == Customer.id)
        .where(_hers(email))
        .order_by(Subscription.created_at.desc(), Subscription.id.desc())
    )
    return list(session.scalars(query))


def subscription_of(session: Session, email: str, subscription_id: str) -> Subscription:
    """One of her subscriptions; ``NotFound`` for any other."""
    sub = session.scalars(
        select(Subscription)
        .join(Customer, Subscription.customer_id == Customer.id)
        .where(Subscription.id == subscription_id, _hers(email))
    ).first()
    if sub is None:
        raise NotFound("No such subscription.", code="subscription_not_found")
    return sub
