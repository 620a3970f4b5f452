"""The service's tables. The schema is built only by the Alembic migrations in ``migrations/``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from licensing.kit.db import Base, UTCDateTime, new_id
from licensing.kit.jobs import QueuedJob


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cus"))
    # Wide enough for what a self-serve customer's name falls back to: the company, else the address.
    name: Mapped[str] = mapped_column(String(320))
    email: Mapped[str] = mapped_column(String(320), index=True)
    company: Mapped[str | None] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(320), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def as_claim(self) -> dict[str, str | None]:
        return {"name": self.name, "email": self.email, "company": self.company}


_REVOKED = text("revoked_at IS NOT NULL")


class License(Base):
    __tablename__ = "licenses"
    __table_args__ = (
        Index("ix_licenses_customer_id_id", "customer_id", "id"),
        Index("ix_licenses_line_id", "line_id"),
        # The revoked licenses, newest first (?status=revoked), and what re-signing the list reads, in its
        # order, from the index alone; both as small as the revocations (migration 0012).
        Index("ix_licenses_revoked_id", "id", postgresql_where=_REVOKED, sqlite_where=_REVOKED),
        Index(
            "ix_licenses_revoked_at",
            "revoked_at",
            "id",
            postgresql_where=_REVOKED,
            sqlite_where=_REVOKED,
            postgresql_include=["grace_ends_at"],
        ),
        Index("ix_licenses_starts_at", "starts_at"),  # ?status=scheduled
        # What a license's status depends on, by id: a status filter reads the index alone (migration 0012).
        Index("ix_licenses_status", "id", "revoked_at", "starts_at", "expires_at", "grace_ends_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("lic"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    # The first license of a line of renewals; the newest one of a line is the one nobody supersedes.
    line_id: Mapped[str] = mapped_column(String(40))
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("licenses.id"), unique=True)
    tier: Mapped[str] = mapped_column(String(20))
    trial: Mapped[bool] = mapped_column(Boolean, default=False)
    seats: Mapped[int | None] = mapped_column(Integer)
    features: Mapped[list[str]] = mapped_column(JSON)
    grace_days: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grace_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    installation_id: Mapped[str | None] = mapped_column(String(200), index=True)
    # The RFC 7638 thumbprint of the installation key the license is bound to (``"cnf": {"jkt": ...}``).
    cnf_jkt: Mapped[str | None] = mapped_column(String(64))
    subscription_id: Mapped[str | None] = mapped_column(String(100), index=True)
    key_id: Mapped[str] = mapped_column(String(64), index=True)
    license_file: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # api | trial | free | stripe
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by: Mapped[str | None] = mapped_column(String(200))

    customer: Mapped[Customer] = relationship(lazy="joined", innerjoin=True)

    def revoke(self, at: datetime, reason: str, actor: str) -> None:
        self.revoked_at, self.revoked_reason, self.revoked_by = at, reason, actor


class TrialClaim(Base):
    """One row per organisation and per installation that has had a trial: the unique constraint
    is what makes concurrent trial requests yield exactly one trial."""

    __tablename__ = "trial_claims"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # organisation | installation
    value: Mapped[str] = mapped_column(String(320))
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("key"))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(100), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class IdempotencyRecord(Base):
    """The first answer to a POST with an Idempotency-Key, replayed for the same key and body."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(200))  # who asked: an API key id, or "public"
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RevocationList(Base):
    """The current signed revocation list: one row, re-signed under a row lock on each revocation,
    when the active key changes and when a listed license's grace ends (SPEC section 2)."""

    __tablename__ = "revocation_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entries: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    key_id: Mapped[str | None] = mapped_column(String(64))  # the key that signed ``document``
    next_lapse_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when the first listed grace ends


class Checkout(Base):
    """A self-serve purchase started on our side: what the buyer typed, before Stripe's Checkout.

    The license of a paid checkout carries exactly these (SPEC section 1): a customer record of its own
    is made from them when the checkout is paid, and never looked up by e-mail address.
    """

    __tablename__ = "checkouts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("chk"))
    email: Mapped[str] = mapped_column(String(320))
    company: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    seats: Mapped[int] = mapped_column(Integer)
    interval: Mapped[str] = mapped_column(String(10))  # month | year
    price_lookup_key: Mapped[str] = mapped_column(String(100))
    # The trial this purchase replaces, named by the trial's buy link (its holder's proof); else none.
    trial_license_id: Mapped[str | None] = mapped_column(ForeignKey("licenses.id"))
    # The installation the license is bound to (a purchase started from inside a self-hosted server).
    installation_id: Mapped[str | None] = mapped_column(String(200))
    # The SHA-256 of the token the buyer polls the checkout with (GET /v1/checkout/sessions/{id}).
    poll_token_hash: Mapped[str | None] = mapped_column(String(64))
    stripe_session_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(20))  # open | complete | expired
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Subscription(Base):
    """Our record of a Stripe subscription (Stripe is the source of truth; this mirrors it) and the
    license line it feeds: the newest license of ``line_id`` is the one to compare with Stripe."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_customer_id_id", "customer_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sub"))
    checkout_id: Mapped[str] = mapped_column(ForeignKey("checkouts.id"), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(30), index=True)  # Stripe's: active, past_due, canceled...
    seats: Mapped[int] = mapped_column(Integer)
    interval: Mapped[str] = mapped_column(String(10))
    price_lookup_key: Mapped[str | None] = mapped_column(String(100))
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    line_id: Mapped[str | None] = mapped_column(String(40))  # the license line (a trial's, when one was converted)
    license_id: Mapped[str | None] = mapped_column(ForeignKey("licenses.id"))  # the newest license issued for it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)  # last read from Stripe

    customer: Mapped[Customer] = relationship()


class StripeEvent(QueuedJob, Base):
    """A verified Stripe webhook event, stored once (unique event id) and processed in the background
    by re-reading ``object_id`` from Stripe; marked processed only when that succeeded."""

    __tablename__ = "stripe_events"
    __table_args__ = (Index("ix_stripe_events_due", "processed_at", "next_attempt_at"),)

    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(40))  # checkout.session | subscription | charge | dispute
    object_id: Mapped[str] = mapped_column(String(255), index=True)
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UTCDateTime)  # when Stripe made the event
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(200))  # what processing did, for operators


class OutboxMessage(QueuedJob, Base):
    """An e-mail to send, written in the same transaction as what it reports, sent by the background
    loop with retries. ``dedupe_key`` is unique: one logical e-mail is enqueued once, however often
    the step that writes it runs."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "sent_at", "next_attempt_at"),
        # licensing.mail.outbox.sent_recently: how much mail one mailbox, or one organisation, got lately.
        Index("ix_outbox_mailbox", "mailbox", "created_at"),
        Index("ix_outbox_organisation", "organisation", "created_at"),
    )

    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    to_address: Mapped[str] = mapped_column(String(320))
    # What the public forms' mail caps count (licensing.mail.outbox.Recipient): the canonical mailbox of
    # the address and its organisation; for other mail the address as written, and no organisation.
    mailbox: Mapped[str] = mapped_column(String(320))
    organisation: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # [{"filename", "content_type", "content"}]: text content (license files, revocation lists)
    attachments: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    # The body holds a link's secret: blanked once sent (licensing.mail.outbox.Message.secret).
    contains_secret: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SelfServeRequest(Base):
    """A self-serve trial or free license asked for and not yet (or no longer) waiting for its e-mail
    confirmation (SPEC section 1): what the requester typed, kept until the link is followed, when a
    customer record of its own is made from it. A pending request claims nothing: only confirming
    runs the trial rules' race-safe claim. Only hashes of the link's and the poll's tokens are kept.

    ``status`` is stored as pending_confirmation, issued or refused; a pending request past
    ``expires_at`` reads as expired (``licensing.selfserve.requests.request_status``)."""

    __tablename__ = "self_serve_requests"
    __table_args__ = (
        Index("ix_self_serve_requests_email", "email"),
        Index("ix_self_serve_requests_organisation", "organisation"),
        Index("ix_self_serve_requests_status_id", "status", "id"),  # leads by status, newest first (0012)
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ssr"))
    kind: Mapped[str] = mapped_column(String(10))  # trial | free
    status: Mapped[str] = mapped_column(String(30))  # pending_confirmation | issued | refused
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(320))
    installation_id: Mapped[str | None] = mapped_column(String(200))
    seats: Mapped[int | None] = mapped_column(Integer)
    confirm_token_hash: Mapped[str] = mapped_column(String(64), index=True, unique=True)
    poll_token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    license_id: Mapped[str | None] = mapped_column(ForeignKey("licenses.id"))
    refusal_code: Mapped[str | None] = mapped_column(String(50))
    created_by: Mapped[str] = mapped_column(String(200))  # the client's address: public:<ip>

    license: Mapped[License | None] = relationship()


class PortalLink(Base):
    """A sign-in link to the customer portal mailed to ``email``: single use (``used_at``), valid until
    ``expires_at``; only the SHA-256 of its token is kept (licensing.kit.tokens)."""

    __tablename__ = "portal_links"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("psl"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PortalSession(Base):
    """A customer portal session, started by redeeming a :class:`PortalLink`: the browser holds the
    token in a cookie, the database its hash; it ends at ``expires_at`` or when signed out."""

    __tablename__ = "portal_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("pss"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    link_id: Mapped[str] = mapped_column(ForeignKey("portal_links.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrialBuyLink(Base):
    """A trial's buy link (licensing.licenses.buylinks): its holder's proof at checkout that the purchase
    replaces her trial. Only the SHA-256 of its token is kept; it works until ``expires_at`` (the trial's end)."""

    __tablename__ = "trial_buy_links"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("tbl"))
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Organisation(Base):
    """An organisation (SPEC section 1: the registrable domain of an address, or the canonical address at
    a free-mail provider; ``licensing.licenses.customers.organisation_of``) and its sales owner, given
    by the catalog's ``[sales.routing]`` to its first lead (``licensing.leads``), changed by sales."""

    __tablename__ = "organisations"

    organisation: Mapped[str] = mapped_column(String(320), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(320))
    free_mail: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Lead(Base):
    """Someone who asked for something (SPEC section 1): a self-serve trial or free license (issued,
    refused or pending), or a contact request. ``kind`` is pql with an installation or for a trial,
    else mql."""

    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_organisation_id", "organisation", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("lead"))
    organisation: Mapped[str] = mapped_column(ForeignKey("organisations.organisation"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # pql | mql
    source: Mapped[str] = mapped_column(String(20))  # trial | free | contact
    interest: Mapped[str | None] = mapped_column(String(30))  # contact: enterprise|quote|trial_extension|other
    seats: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    installation_id: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(30))  # self-serve: issued | refused | pending
    self_serve_request_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffMember(Base):
    """A person of sales ops who signs in to the console (``/console``): ``email`` is unique as
    normalised (lower case), ``role`` is the API's (admin > sales > readonly); a disabled member can
    neither ask for a link nor keep a session (licensing.staff)."""

    __tablename__ = "staff_members"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("stf"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffLink(Base):
    """A console sign-in link mailed to a staff member: single use (``used_at``), valid until
    ``expires_at``; only the SHA-256 of its token is kept (licensing.kit.tokens)."""

    __tablename__ = "staff_links"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("stl"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffSession(Base):
    """A console session, started by redeeming a :class:`StaffLink`: the browser holds the token, the
    database its hash. It ends when signed out (``ended_at``), after the idle time since ``last_seen_at``
    (``LICENSING_CONSOLE_IDLE_MINUTES``) or at ``expires_at`` (an absolute maximum), whichever comes first."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sts"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id"), index=True)
    link_id: Mapped[str] = mapped_column(ForeignKey("staff_links.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    staff: Mapped[StaffMember] = relationship()


class InstallationBinding(Base):
    """A license line bound to one installation by an activation request (SPEC section 8): the
    installation's id, its public JWK (usage reports are verified with it) and its RFC 7638 thumbprint.
    One row per line (the primary key): concurrent first activations of a line bind it once."""

    __tablename__ = "installation_bindings"
    __table_args__ = (Index("ix_installation_bindings_jkt", "jkt"),)

    line_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    installation_id: Mapped[str] = mapped_column(String(200))
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    jkt: Mapped[str] = mapped_column(String(64))
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"))  # the bound license issued last
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)
    bound_by: Mapped[str] = mapped_column(String(200))


class ActivationRequest(Base):
    """An activation request answered, once per digest (the b64url SHA-256 of its compact JWS): the same
    request again answers the same license."""

    __tablename__ = "activation_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("act"))
    digest: Mapped[str] = mapped_column(String(43), unique=True)
    line_id: Mapped[str] = mapped_column(String(40))
    requested_license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"))  # the license it named
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"))  # the bound license answered
    installation_id: Mapped[str] = mapped_column(String(200))
    jkt: Mapped[str] = mapped_column(String(64))
    product_version: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))

    license: Mapped[License] = relationship(foreign_keys=[license_id])


class InstallationMove(Base):
    """A bound line moved to another installation: by sales (``move``), or in the portal within the
    catalog's ``max_moves`` in the past 365 days."""

    __tablename__ = "installation_moves"
    __table_args__ = (Index("ix_installation_moves_line", "line_id", "moved_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    line_id: Mapped[str] = mapped_column(String(40))
    from_installation_id: Mapped[str] = mapped_column(String(200))
    from_jkt: Mapped[str] = mapped_column(String(64))
    to_installation_id: Mapped[str] = mapped_column(String(200))
    to_jkt: Mapped[str] = mapped_column(String(64))
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"))  # the license bound to the new one
    source: Mapped[str] = mapped_column(String(20))  # api | portal
    moved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    moved_by: Mapped[str] = mapped_column(String(200))


class UsageReport(Base):
    """A usage report accepted, stored once: by digest (the same report again answers the same receipt)
    and by (line, installation key, seq) (two reports of one seq: 409 ``report_conflict``)."""

    __tablename__ = "usage_reports"
    __table_args__ = (UniqueConstraint("line_id", "jkt", "seq", name="uq_usage_reports_line_key_seq"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("urp"))
    digest: Mapped[str] = mapped_column(String(43), unique=True)
    line_id: Mapped[str] = mapped_column(String(40))
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"))  # the license the report names
    installation_id: Mapped[str] = mapped_column(String(200))
    jkt: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    prev: Mapped[str | None] = mapped_column(String(43))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    peak_users: Mapped[int] = mapped_column(BigInteger)
    daily: Mapped[list[list[int]]] = mapped_column(JSON)
    gap: Mapped[bool] = mapped_column(Boolean)
    seats: Mapped[int | None] = mapped_column(Integer)  # the line's newest license's, when received
    overage: Mapped[int] = mapped_column(BigInteger)
    receipt: Mapped[str] = mapped_column(Text)  # the armored receipt answered
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_by: Mapped[str] = mapped_column(String(200))


class TrueUp(QueuedJob, Base):
    """A usage report over the licensed seats. A self-serve subscription's (``subscription_id``) is a job
    of the background loop: ``pending`` until the subscription's quantity is raised to the peak in Stripe
    (``raised``), retried on failure, ``failed`` once given up; a sales line's is ``recorded`` for sales."""

    __tablename__ = "true_ups"
    __table_args__ = (
        Index("ix_true_ups_due", "completed_at", "next_attempt_at"),
        Index("ix_true_ups_status_id", "status", "id"),
        Index("ix_true_ups_customer_id_id", "customer_id", "id"),
    )

    report_id: Mapped[str] = mapped_column(ForeignKey("usage_reports.id"), unique=True)
    line_id: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    subscription_id: Mapped[str | None] = mapped_column(ForeignKey("subscriptions.id"))
    seats_before: Mapped[int | None] = mapped_column(Integer)
    peak_users: Mapped[int] = mapped_column(BigInteger)
    overage: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))  # pending | raised | failed | recorded
    outcome: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
