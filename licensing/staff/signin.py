"""Console sign-in (SPEC 5, Console): a single-use link e-mailed to a staff member, sessions that end.

* **Links.** ``request_sign_in`` answers the same whatever the address (no enumeration): only an
  enabled member gets a link (through the outbox, dedupe key ``console-signin:<link id>``), valid for
  :data:`LINK_TTL`, at most :data:`MAILS_PER_WINDOW` per member per :data:`FLOOD_WINDOW`; an unknown
  or disabled address writes and sends nothing. The page in front of it is rate limited per client.
* **Sessions.** ``redeem`` consumes a link (a conditional UPDATE: of two concurrent redemptions one wins)
  and starts a session. A session ends on sign-out (``ended_at``), after ``LICENSING_CONSOLE_IDLE_MINUTES``
  without a request (``last_seen_at``, moved by every request), at :data:`SESSION_MAX` after sign-in,
  and when its member is disabled. Links and sessions keep only the SHA-256 of their tokens.
* **Forms.** A session's forms carry :func:`csrf_token`, an HMAC keyed by the session's own token (which
  only the browser holds, in an HttpOnly cookie): bound to the session, unknown to whoever reads the
  database, and worthless once the session ends.

Sign-in requests (of members), sign-ins and sign-outs are audited with the actor ``staff:<address>``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.access import audit, signin_links
from licensing.access.signin_links import LinkRefused, LinkState
from licensing.context import Core
from licensing.kit.db import atomic
from licensing.kit.tokens import find, new_token
from licensing.mail import outbox
from licensing.mail.templates import html_document, text_document
from licensing.models import StaffLink, StaffMember, StaffSession
from licensing.staff.members import actor, canonical_email, find_member

log = logging.getLogger("licensing.staff")

LINK_TTL = timedelta(minutes=15)
SESSION_MAX = timedelta(hours=12)
MAILS_PER_WINDOW = 5
FLOOD_WINDOW = timedelta(hours=1)
MAIL_KIND = "console-signin"
LINK_PREFIX = "csl"
SESSION_PREFIX = "css"


@dataclass(frozen=True)
class SignInRequested:
    email: str  # the address as typed, normalised: the page shows it whether or not a member has it


@atomic
def request_sign_in(session: Session, core: Core, email: str) -> SignInRequested:
    """Mail a link to ``email`` if it is an enabled member's (and it had fewer than
    :data:`MAILS_PER_WINDOW` lately); the same answer otherwise. ``ValidationFailed`` for a non-address."""
    address = canonical_email(email)
    member = find_member(session, address)
    if member is None or member.disabled_at is not None:
        log.info("staff.sign_in_unknown")
        return SignInRequested(address)
    now = core.now()
    recent = session.scalar(
        select(func.count())
        .select_from(StaffLink)
        .where(StaffLink.staff_id == member.id, StaffLink.created_at > now - FLOOD_WINDOW)
    )
    if (recent or 0) >= MAILS_PER_WINDOW:
        log.warning("staff.sign_in_throttled")
        return SignInRequested(address)
    token = new_token(LINK_PREFIX)
    link = StaffLink(token_hash=token.hash, staff_id=member.id, created_at=now, expires_at=now + LINK_TTL)
    session.add(link)
    session.flush()
    url = f"{core.public_url.rstrip('/')}/console/sign-in/{token.secret}"
    outbox.enqueue(session, now, f"{MAIL_KIND}:{link.id}", sign_in_message(member.email, url))
    audit.record(session, now, actor(member.email), "staff.sign_in_requested", "staff_link", link.id)
    return SignInRequested(address)


def sign_in_message(address: str, url: str) -> outbox.Message:
    minutes = int(LINK_TTL.total_seconds() // 60)
    title = "Sign in to the sales console"
    paragraphs = [
        f"Open this link within {minutes} minutes and press Sign in to reach the sales console. The link works once.",
        f"Or copy this address into your browser: {url}",
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
    return signin_links.link_state(session, StaffLink, secret, LINK_PREFIX, core.now())


@dataclass(frozen=True)
class StartedSession:
    token: str  # for the browser's cookie; the database keeps its hash
    email: str


@atomic
def redeem(session: Session, core: Core, secret: str) -> StartedSession:
    """Use the link (once) and start a session; ``LinkRefused`` when used, expired, unknown or the member
    is disabled."""
    now = core.now()
    claimed = signin_links.use_link(session, StaffLink, secret, LINK_PREFIX, now, StaffLink.id, StaffLink.staff_id)
    member = session.get(StaffMember, claimed.staff_id)
    if member is None or member.disabled_at is not None:
        raise LinkRefused("unknown")
    token = new_token(SESSION_PREFIX)
    row = StaffSession(
        token_hash=token.hash,
        staff_id=member.id,
        link_id=claimed.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_MAX,
    )
    session.add(row)
    session.flush()
    audit.record(session, now, actor(member.email), "staff.sign_in", "staff_session", row.id, role=member.role)
    log.info("staff.sign_in", extra={"staff_session": row.id})
    return StartedSession(token=token.secret, email=member.email)


def idle_limit(core: Core) -> timedelta:
    return timedelta(minutes=core.settings.console_idle_minutes)


def _live(core: Core, row: StaffSession, now: datetime) -> bool:
    return (
        row.ended_at is None
        and now < row.expires_at
        and now < row.last_seen_at + idle_limit(core)
        and row.staff.disabled_at is None
    )


def current_session(session: Session, core: Core, secret: str | None) -> StaffSession | None:
    """The live session the browser's token names, its ``last_seen_at`` moved to now (the request is
    use); None when unknown, signed out, idle too long, past its maximum or of a disabled member."""
    row = find(session, StaffSession, StaffSession.token_hash, secret, SESSION_PREFIX)
    now = core.now()
    if row is None or not _live(core, row, now):
        return None
    row.last_seen_at = now
    session.flush()
    return row


@atomic
def sign_out(session: Session, core: Core, secret: str | None) -> bool:
    """End the session the token names (server-side: the token is refused from now on)."""
    row = find(session, StaffSession, StaffSession.token_hash, secret, SESSION_PREFIX)
    now = core.now()
    if row is None or not _live(core, row, now):
        return False
    row.ended_at = now
    audit.record(session, now, actor(row.staff.email), "staff.sign_out", "staff_session", row.id)
    return True


def csrf_token(secret: str) -> str:
    """The form token of the session whose token is ``secret`` (see the module's docstring)."""
    return hmac.new(secret.encode(), b"licensing console form", hashlib.sha256).hexdigest()


def csrf_matches(secret: str, presented: str) -> bool:
    return hmac.compare_digest(csrf_token(secret), presented)
