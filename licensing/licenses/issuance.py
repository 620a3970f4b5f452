"""Issuing, renewing and refreshing licenses (revoking them: :mod:`licensing.licenses.revocations`).

Every function works inside the caller's transaction: it adds and flushes rows and never commits.
The API, the Stripe webhooks and the reconcile job all issue through :func:`issue_license` (``POST
/v1/licenses`` through :func:`issue_license_unguarded`: the same, without the savepoint it does not need).
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from licensing.access import audit
from licensing.catalog import Offer
from licensing.context import Core
from licensing.kit import fields, metrics
from licensing.kit.db import atomic, new_id
from licensing.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from licensing.licenses.queries import successor_of
from licensing.models import Customer, License
from licensing.verify import FORMAT_VERSION, LICENSE_LABEL, LICENSE_TYP, LicenseError, decode_jws

MAX_TERM_DAYS = 36_500
MAX_GRACE_DAYS = 3_650
_FEATURE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
log = logging.getLogger("licensing.issuance")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class IssueRequest:
    """What to issue. Unset fields come from the offer.

    ``features``: catalog names only (a typo is refused, naming the close match, never signed); None
    takes the offer's; given, an enterprise license carries the offer's plus these, any other exactly
    these (a subset of its tier's). ``custom_features``: features outside the catalog (enterprise
    only), signed in ``features`` alongside the catalog ones. A paid license (professional or
    enterprise, not a trial) needs ``seats``, or ``unlimited_seats`` (enterprise only: no seat limit;
    free is unlimited anyway). ``supersedes``: the license this one replaces (a renewal, a seat change,
    trial -> paid); it is locked, and must be neither revoked nor already superseded.
    """

    customer: Customer
    offer: Offer
    actor: str
    source: str = "api"
    seats: int | None = None
    unlimited_seats: bool = False
    features: Iterable[str] | None = None
    custom_features: Iterable[str] | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    duration_days: int | None = None
    grace_days: int | None = None
    installation_id: str | None = None
    subscription_id: str | None = None
    supersedes: License | None = None
    note: str | None = None
    # The installation key's RFC 7638 thumbprint (``"cnf": {"jkt": ...}``, SPEC section 8); None keeps the
    # binding of the license superseded when it is bound to the same installation (a renewal, a seat
    # change: a bound line stays bound). Only with an installation_id.
    cnf_jkt: str | None = None


def numeric_date(value: datetime) -> int:
    """A JWT NumericDate: whole seconds since 1970 (RFC 7519)."""
    return int(value.timestamp())


def license_claims(lic: License, issuer: str) -> dict[str, Any]:
    """The signed claims of a license row (SPEC section 2)."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "jti": lic.id,
        "sub": lic.customer_id,
        "ver": FORMAT_VERSION,
        "iat": numeric_date(lic.issued_at),
        "nbf": numeric_date(lic.starts_at),
        "tier": lic.tier,
        "trial": lic.trial,
        "seats": lic.seats,
        "features": sorted(lic.features),
        "grace_days": lic.grace_days,
        "customer": lic.customer.as_claim(),
    }
    if lic.expires_at is not None:
        claims["exp"] = numeric_date(lic.expires_at)
    if lic.installation_id is not None:
        claims["installation_id"] = lic.installation_id
    if lic.cnf_jkt is not None:
        claims["cnf"] = {"jkt": lic.cnf_jkt}
    for name, value in (("subscription_id", lic.subscription_id), ("supersedes", lic.supersedes_id)):
        if value is not None:
            claims[name] = value
    return claims


def _check_names(names: Iterable[str], field: str) -> set[str]:
    given = set(names)
    bad = sorted(repr(f) for f in given if not isinstance(f, str) or not _FEATURE.match(f))
    if bad:
        raise ValidationFailed(
            f"Feature names are lower-case identifiers (a-z, 0-9, _; at most 64), not {', '.join(bad)}.",
            field=field,
            code="invalid_feature",
        )
    return given


def _features(core: Core, request: IssueRequest) -> list[str]:
    offer = request.offer
    known = core.catalog.known_features
    given = _check_names(request.features, "features") if request.features is not None else None
    for name in sorted(given - known) if given is not None else ():
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "; features outside the catalog go in custom_features."
        raise ValidationFailed(
            f"{name!r} is not a feature of the catalog{hint}", field="features", code="unknown_feature", feature=name
        )
    if given is None:
        chosen = set(offer.features)
    elif offer.tier == "enterprise":
        chosen = set(offer.features) | given
    else:
        unknown = sorted(given - set(core.catalog.tier_features[offer.tier]))
        if unknown:
            raise ValidationFailed(
                f"{offer.tier.title()} licenses cannot carry {', '.join(unknown)}.",
                field="features",
                code="unknown_feature",
            )
        chosen = given
    custom = _check_names(request.custom_features, "custom_features") if request.custom_features else set()
    if custom and offer.tier != "enterprise":
        raise ValidationFailed(
            "Only enterprise licenses carry custom features.",
            field="custom_features",
            code="custom_features_enterprise_only",
        )
    return sorted(chosen | custom)


def _term(core: Core, request: IssueRequest, now: datetime) -> tuple[datetime, datetime | None]:
    starts_at = request.starts_at or now
    # Bounded before any arithmetic on it: far-off dates overflow datetime, and a license signed with a
    # NumericDate before 1970 is one no verifier accepts.
    if starts_at > now + timedelta(days=MAX_TERM_DAYS):
        raise ValidationFailed(
            "The license may start at most 100 years from now.", field="starts_at", code="invalid_term"
        )
    if starts_at < _EPOCH:
        raise ValidationFailed("The license may not start before 1970.", field="starts_at", code="invalid_term")
    if request.expires_at is not None and request.duration_days is not None:
        raise ValidationFailed("Give expires_at or duration_days, not both.", field="expires_at", code="invalid_term")
    if request.expires_at is not None:
        expires_at: datetime | None = request.expires_at
    elif request.duration_days is not None:
        if not 1 <= request.duration_days <= MAX_TERM_DAYS:
            raise ValidationFailed(
                f"duration_days must be between 1 and {MAX_TERM_DAYS}.", field="duration_days", code="invalid_term"
            )
        expires_at = starts_at + timedelta(days=request.duration_days)
    elif request.offer.term_days:
        expires_at = starts_at + timedelta(days=request.offer.term_days)
    else:
        expires_at = None
    if expires_at is not None and request.offer.tier == "free":
        raise ValidationFailed("Free licenses are perpetual: give no end.", field="expires_at", code="invalid_term")
    if expires_at is None and request.offer.tier != "free":
        raise ValidationFailed(
            f"{request.offer.tier.title()} licenses need an end: give expires_at or duration_days.",
            field="expires_at",
            code="invalid_term",
        )
    if expires_at is not None:
        if expires_at <= starts_at:
            raise ValidationFailed("The license must expire after it starts.", field="expires_at", code="invalid_term")
        if expires_at <= now:
            raise ValidationFailed("That license would have expired already.", field="expires_at", code="invalid_term")
        if expires_at > now + timedelta(days=MAX_TERM_DAYS):
            raise ValidationFailed(
                "The license may run for at most 100 years.", field="expires_at", code="invalid_term"
            )
    return starts_at, expires_at


def _seats(request: IssueRequest) -> int | None:
    offer = request.offer
    if offer.tier != "free" and not offer.trial and request.seats is None and not request.unlimited_seats:
        raise ValidationFailed(
            f"{offer.tier.title()} licenses need a seat count: give seats"
            + (' (or "seats": null for unlimited seats).' if offer.tier == "enterprise" else "."),
            field="seats",
            code="seats_required",
        )
    if request.unlimited_seats:
        if offer.tier != "enterprise":
            raise ValidationFailed(
                "Only enterprise licenses can have unlimited seats (seats: null).", field="seats", code="invalid_seats"
            )
        return None
    return offer.seats.check(request.seats)


def _lock_superseded(session: Session, old: License) -> None:
    """Lock the license being replaced, then check it may be: of concurrent replacements one wins and
    the others get 409 ``license_superseded``, so a line of renewals never forks."""
    session.scalars(
        select(License)
        .where(License.id == old.id)
        .with_for_update(of=License)
        .execution_options(populate_existing=True)
    ).one()
    _check_superseded(session, old)


def _check_superseded(session: Session, old: License) -> None:
    if old.revoked_at is not None:
        raise Conflict(f"License {old.id} is revoked and cannot be renewed or replaced.", code="license_revoked")
    successor = successor_of(session, old)
    if successor is not None:
        raise Conflict(
            f"License {old.id} was already superseded by {successor.id}; renew that one.",
            code="license_superseded",
            superseded_by=successor.id,
        )


def build_license(session: Session, core: Core, request: IssueRequest, *, lock: bool = False) -> License:
    """The license ``request`` asks for, every issuance rule checked, neither signed nor stored: what
    :func:`issue_license` signs, and what a preview shows (``lock``: lock the license superseded)."""
    offer = request.offer
    now = core.now()
    seats = _seats(request)
    grace_days = offer.grace_days if request.grace_days is None else request.grace_days
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise ValidationFailed(
            f"grace_days must be between 0 and {MAX_GRACE_DAYS}.", field="grace_days", code="invalid_grace"
        )
    features = _features(core, request)
    starts_at, expires_at = _term(core, request, now)
    installation_id = fields.check_installation_id(request.installation_id)
    note = fields.check_text(request.note, "note", fields.NOTE_MAX, multiline=True) or None if request.note else None
    supersedes = request.supersedes
    if supersedes is not None:
        (_lock_superseded if lock else _check_superseded)(session, supersedes)
    cnf_jkt = request.cnf_jkt
    if cnf_jkt is None and supersedes is not None and installation_id == supersedes.installation_id:
        cnf_jkt = supersedes.cnf_jkt  # a bound line stays bound to its installation's key
    if cnf_jkt is not None and installation_id is None:
        raise ValidationFailed(
            "A license bound to an installation key needs its installation_id.",
            field="installation_id",
            code="invalid_installation_id",
        )
    lic = License(
        customer=request.customer,
        customer_id=request.customer.id,
        tier=offer.tier,
        trial=offer.trial,
        seats=seats,
        features=features,
        grace_days=grace_days,
        issued_at=now,
        starts_at=starts_at,
        expires_at=expires_at,
        grace_ends_at=expires_at + timedelta(days=grace_days) if expires_at else None,
        installation_id=installation_id,
        cnf_jkt=cnf_jkt,
        subscription_id=request.subscription_id,
        supersedes_id=supersedes.id if supersedes else None,
        key_id=core.signer().kid,
        source=request.source,
        note=note,
        created_by=request.actor,
        license_file="",
    )
    lic.id = new_id("lic")
    lic.line_id = supersedes.line_id if supersedes else lic.id
    return lic


def issue_license_unguarded(session: Session, core: Core, request: IssueRequest) -> License:
    """:func:`issue_license` without its savepoint, for a caller whose whole transaction is the issuance
    and rolls back when it raises: one ``POST /v1/licenses`` (the request's unit of work, ``api.deps``),
    which never catches the error to go on. Spares the SAVEPOINT and RELEASE round trips; every rule,
    row and audit event is the same. A caller that catches the error and commits other work must use
    :func:`issue_license`."""
    lic = build_license(session, core, request, lock=True)
    now = lic.issued_at
    supersedes = request.supersedes
    signer = core.signer()
    # The key that signs is the one recorded: the active key may have changed since build_license read it.
    lic.key_id = signer.kid
    lic.license_file = signer.sign_license(license_claims(lic, core.issuer))
    session.add(lic)
    audit.record(
        session,
        now,
        request.actor,
        "license.issued",
        "license",
        lic.id,
        customer_id=lic.customer_id,
        tier=lic.tier,
        trial=lic.trial,
        seats=lic.seats,
        features=lic.features,
        starts_at=lic.starts_at.isoformat(),
        expires_at=lic.expires_at.isoformat() if lic.expires_at else None,
        grace_days=lic.grace_days,
        installation_id=lic.installation_id,
        cnf_jkt=lic.cnf_jkt,
        subscription_id=lic.subscription_id,
        supersedes=lic.supersedes_id,
        source=lic.source,
        note=lic.note,
        key_id=lic.key_id,
    )
    # The license and its audit event in one flush (one pass of the unit of work, not two). A
    # begin_nested() around it would change nothing: it flushes what is pending before its SAVEPOINT.
    try:
        session.flush()
    except IntegrityError:
        if supersedes is not None:  # the unique constraint on supersedes backs the row lock up
            raise Conflict(
                f"License {supersedes.id} was renewed by another request at the same time.", code="license_superseded"
            ) from None
        raise
    log.info(
        "license.issued",
        extra={"license_id": lic.id, "tier": lic.tier, "trial": lic.trial, "source": lic.source, "by": request.actor},
    )
    metrics.on_commit(session, metrics.licenses_issued.labels(tier=lic.tier, source=lic.source).inc)
    return lic


@atomic
def issue_license(session: Session, core: Core, request: IssueRequest) -> License:
    """Build, sign and store a license in the caller's transaction; audited as ``license.issued``.

    Every issuance rule is checked here, whoever calls (sales ops, self-serve, billing, reconcile):
    seats, features, term, grace, installation binding, and the guards on the license superseded.
    Inside a savepoint: when it raises, nothing it wrote stays and the caller may go on.
    """
    return issue_license_unguarded(session, core, request)


def get_license(session: Session, license_id: str, *, for_update: bool = False) -> License:
    query = select(License).where(License.id == license_id)
    if for_update:
        query = query.with_for_update(of=License).execution_options(populate_existing=True)
    lic = session.scalars(query).first()
    if lic is None:
        raise NotFound(f"No license {license_id!r}.", code="license_not_found")
    return lic


def renewal_request(
    session: Session,
    core: Core,
    actor: str,
    license_id: str,
    *,
    expires_at: datetime | None = None,
    duration_days: int | None = None,
    seats: int | None = None,
    custom_features: Iterable[str] | None = None,
    note: str | None = None,
) -> IssueRequest:
    """What renewing ``license_id`` issues: the same terms, a new end and maybe new seats; its custom
    features kept unless ``custom_features`` replaces them. ``duration_days`` counts from the old end
    (or from now, once that has passed)."""
    old = get_license(session, license_id)
    if expires_at is None and duration_days is None:
        raise ValidationFailed("Give expires_at or duration_days.", field="expires_at", code="invalid_term")
    if expires_at is not None and duration_days is not None:
        raise ValidationFailed("Give expires_at or duration_days, not both.", field="expires_at", code="invalid_term")
    now = core.now()
    starts_at = old.starts_at if old.starts_at > now else now
    if duration_days is not None:
        if not 1 <= duration_days <= MAX_TERM_DAYS:
            raise ValidationFailed(
                f"duration_days must be between 1 and {MAX_TERM_DAYS}.", field="duration_days", code="invalid_term"
            )
        base = old.expires_at if old.expires_at is not None and old.expires_at > now else now
        expires_at = base + timedelta(days=duration_days)
    known = core.catalog.known_features
    return IssueRequest(
        customer=old.customer,
        offer=core.catalog.offer_for(old.tier, old.trial),
        actor=actor,
        source=old.source,
        seats=old.seats if seats is None else seats,
        unlimited_seats=old.tier == "enterprise" and old.seats is None and seats is None,
        features=[f for f in old.features if f in known],
        custom_features=[f for f in old.features if f not in known] if custom_features is None else custom_features,
        starts_at=starts_at,
        expires_at=expires_at,
        grace_days=old.grace_days,
        installation_id=old.installation_id,
        subscription_id=old.subscription_id,
        supersedes=old,
        note=note,
    )


@atomic
def renew_license(
    session: Session,
    core: Core,
    actor: str,
    license_id: str,
    *,
    expires_at: datetime | None = None,
    duration_days: int | None = None,
    seats: int | None = None,
    custom_features: Iterable[str] | None = None,
    note: str | None = None,
) -> License:
    """A new license that supersedes ``license_id`` (see :func:`renewal_request`)."""
    request = renewal_request(
        session,
        core,
        actor,
        license_id,
        expires_at=expires_at,
        duration_days=duration_days,
        seats=seats,
        custom_features=custom_features,
        note=note,
    )
    return issue_license(session, core, request)


@dataclass(frozen=True)
class Refreshed:
    """The newest license of a line, as refresh answers it."""

    license_id: str
    license_file: str
    changed: bool


_NEWEST = aliased(License, name="newest")
# The presented license and the newest of its line in one statement (refresh is what every install
# polls): the newest is the license of the line that no other supersedes.
_REFRESH = (
    select(License.revoked_at, _NEWEST.id, _NEWEST.revoked_at, _NEWEST.license_file)
    .join(_NEWEST, _NEWEST.line_id == License.line_id)
    .where(~exists().where(License.__table__.alias("later").c.supersedes_id == _NEWEST.id))
)


def refresh_license(session: Session, core: Core, license_text: str) -> Refreshed:
    """The newest license of the presented license's line (a renewal, a seat change).

    The presented file must carry our signature; expiry does not matter, revocation does.
    """
    try:
        claims, _kid = decode_jws(license_text, LICENSE_LABEL, LICENSE_TYP, core.keyring())
    except LicenseError as exc:
        raise ValidationFailed(exc.message, field="license_file", code="invalid_license", reason=exc.code) from None
    jti = claims.get("jti")
    row = session.execute(_REFRESH.where(License.id == jti)).one_or_none() if isinstance(jti, str) else None
    if row is None:
        raise NotFound("This service did not issue that license.", code="license_not_found")
    presented_revoked_at, newest_id, newest_revoked_at, newest_file = row
    if presented_revoked_at is not None or newest_revoked_at is not None:
        # Sales' reason is internal; the holder is told only what to do.
        revoked = jti if presented_revoked_at is not None else newest_id
        raise Forbidden(f"License {revoked} has been revoked. Contact the vendor's sales team.", code="revoked")
    return Refreshed(newest_id, newest_file, changed=newest_id != jti)
