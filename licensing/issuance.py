"""Issuing, renewing, revoking and refreshing licenses.

Every function works inside the caller's transaction: it adds and flushes rows and never commits.
The API, the Stripe webhooks and the reconcile job all issue through :func:`issue_license`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from licensing import audit
from licensing.catalog import Offer
from licensing.core import Core
from licensing.db import new_id
from licensing.errors import Conflict, Forbidden, NotFound, ValidationFailed
from licensing.models import Customer, License, RevocationList
from licensing.verify import FORMAT_VERSION, LICENSE_LABEL, LICENSE_TYP, LicenseError
from licensing.verify import decode_jws as _decode

MAX_TERM_DAYS = 36_500
MAX_GRACE_DAYS = 3_650
_FEATURE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
REVOCATION_LIST_ID = 1
log = logging.getLogger("licensing.issuance")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class IssueRequest:
    """What to issue. Unset fields come from the offer."""

    customer: Customer
    offer: Offer
    actor: str
    source: str = "api"
    seats: int | None = None
    unlimited_seats: bool = False
    features: Iterable[str] | None = None
    extra_features: Iterable[str] = ()
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    duration_days: int | None = None
    grace_days: int | None = None
    installation_id: str | None = None
    subscription_id: str | None = None
    supersedes: License | None = None
    note: str | None = None


def _timestamp(value: datetime) -> int:
    return int(value.timestamp())


def license_claims(lic: License, issuer: str) -> dict[str, Any]:
    """The signed claims of a license row (SPEC section 2)."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "jti": lic.id,
        "sub": lic.customer_id,
        "ver": FORMAT_VERSION,
        "iat": _timestamp(lic.issued_at),
        "nbf": _timestamp(lic.starts_at),
        "tier": lic.tier,
        "trial": lic.trial,
        "seats": lic.seats,
        "features": sorted(lic.features),
        "grace_days": lic.grace_days,
        "customer": lic.customer.as_claim(),
    }
    if lic.expires_at is not None:
        claims["exp"] = _timestamp(lic.expires_at)
    for name, value in (
        ("installation_id", lic.installation_id),
        ("subscription_id", lic.subscription_id),
        ("supersedes", lic.supersedes_id),
    ):
        if value is not None:
            claims[name] = value
    return claims


def _features(core: Core, request: IssueRequest) -> list[str]:
    chosen = set(request.offer.features if request.features is None else request.features) | set(request.extra_features)
    bad = sorted(f for f in chosen if not isinstance(f, str) or not _FEATURE.match(f))
    if bad:
        raise ValidationFailed(
            f"Feature names are lower-case identifiers (a-z, 0-9, _), not {', '.join(map(repr, bad))}.",
            field="features",
            code="invalid_feature",
        )
    if request.offer.tier != "enterprise":
        # Only enterprise licenses carry custom features; others are limited to what the catalog knows.
        unknown = sorted(chosen - set(core.catalog.tier_features[request.offer.tier]))
        if unknown:
            raise ValidationFailed(
                f"{request.offer.tier.title()} licenses cannot carry {', '.join(unknown)}.",
                field="features",
                code="unknown_feature",
            )
    return sorted(chosen)


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


def issue_license(session: Session, core: Core, request: IssueRequest) -> License:
    """Build, sign and store a license; audited as ``license.issued``."""
    offer = request.offer
    now = core.now()
    seats = None if request.unlimited_seats else offer.seats.check(request.seats)
    grace_days = offer.grace_days if request.grace_days is None else request.grace_days
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise ValidationFailed(
            f"grace_days must be between 0 and {MAX_GRACE_DAYS}.", field="grace_days", code="invalid_grace"
        )
    features = _features(core, request)
    starts_at, expires_at = _term(core, request, now)
    installation_id = request.installation_id.strip() if request.installation_id else None
    supersedes = request.supersedes
    signer = core.signer()
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
        subscription_id=request.subscription_id,
        supersedes_id=supersedes.id if supersedes else None,
        key_id=signer.kid,
        source=request.source,
        note=request.note,
        created_by=request.actor,
        license_file="",
    )
    lic.id = new_id("lic")
    lic.line_id = supersedes.line_id if supersedes else lic.id
    lic.license_file = signer.sign_license(license_claims(lic, core.issuer))
    session.add(lic)
    try:
        session.flush()
    except IntegrityError:
        if supersedes is not None:
            raise Conflict(
                f"License {supersedes.id} was renewed by another request at the same time.", code="license_superseded"
            ) from None
        raise
    audit.record(
        session,
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
        subscription_id=lic.subscription_id,
        supersedes=lic.supersedes_id,
        source=lic.source,
        note=lic.note,
        key_id=lic.key_id,
    )
    log.info(
        "license.issued",
        extra={"license_id": lic.id, "tier": lic.tier, "trial": lic.trial, "source": lic.source, "by": request.actor},
    )
    return lic


def get_license(session: Session, license_id: str, *, for_update: bool = False) -> License:
    query = select(License).where(License.id == license_id)
    if for_update:
        query = query.with_for_update(of=License)
    lic = session.scalars(query).first()
    if lic is None:
        raise NotFound(f"No license {license_id!r}.", code="license_not_found")
    return lic


def successor_of(session: Session, lic: License) -> License | None:
    return session.scalars(select(License).where(License.supersedes_id == lic.id)).first()


# Built once: an alias of a 23-column table is costly to build, and refresh asks for one on every call.
_LATER = aliased(License, name="later")


def newest_of_line(session: Session, line_id: str) -> License:
    return session.scalars(
        select(License).where(License.line_id == line_id, ~exists().where(_LATER.supersedes_id == License.id))
    ).one()


def renew_license(
    session: Session,
    core: Core,
    actor: str,
    license_id: str,
    *,
    expires_at: datetime | None = None,
    duration_days: int | None = None,
    seats: int | None = None,
    note: str | None = None,
) -> License:
    """A new license that supersedes ``license_id``: the same terms, a new end and maybe new seats.

    Renewing is serialised on the old license's row: of concurrent renewals one wins and the others
    get 409 ``license_superseded``, so a line of renewals never forks.
    """
    old = get_license(session, license_id, for_update=True)
    if old.revoked_at is not None:
        raise Conflict(f"License {old.id} is revoked and cannot be renewed.", code="license_revoked")
    successor = successor_of(session, old)
    if successor is not None:
        raise Conflict(
            f"License {old.id} was already superseded by {successor.id}; renew that one.",
            code="license_superseded",
            superseded_by=successor.id,
        )
    if expires_at is None and duration_days is None:
        raise ValidationFailed("Give expires_at or duration_days.", field="expires_at", code="invalid_term")
    if expires_at is not None and duration_days is not None:
        raise ValidationFailed("Give expires_at or duration_days, not both.", field="expires_at", code="invalid_term")
    now = core.now()
    starts_at = old.starts_at if old.starts_at > now else now
    if duration_days is not None and expires_at is None:
        if not 1 <= duration_days <= MAX_TERM_DAYS:
            raise ValidationFailed(
                f"duration_days must be between 1 and {MAX_TERM_DAYS}.", field="duration_days", code="invalid_term"
            )
        base = old.expires_at if old.expires_at is not None and old.expires_at > now else now
        expires_at, duration_days = base + timedelta(days=duration_days), None
    offer = core.catalog.offer_for(old.tier, old.trial)
    return issue_license(
        session,
        core,
        IssueRequest(
            customer=old.customer,
            offer=offer,
            actor=actor,
            source=old.source,
            seats=old.seats if seats is None else seats,
            unlimited_seats=old.seats is None and seats is None,
            features=old.features,
            starts_at=starts_at,
            expires_at=expires_at,
            grace_days=old.grace_days,
            installation_id=old.installation_id,
            subscription_id=old.subscription_id,
            supersedes=old,
            note=note,
        ),
    )


def revoke_license(session: Session, core: Core, actor: str, license_id: str, reason: str) -> License:
    """Revoke a license and re-sign the revocation list, both in the caller's transaction."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Say why the license is revoked.", field="reason", code="reason_required")
    # The list row is locked first, so concurrent revocations re-sign one after the other and each
    # new list holds every revocation committed before it.
    listing = session.scalars(
        select(RevocationList).where(RevocationList.id == REVOCATION_LIST_ID).with_for_update()
    ).one()
    lic = get_license(session, license_id, for_update=True)
    if lic.revoked_at is not None:
        raise Conflict(f"License {lic.id} was already revoked at {lic.revoked_at.isoformat()}.", code="already_revoked")
    now = core.now()
    lic.revoke(now, reason, actor)
    session.flush()
    _resign(session, core, listing, now)
    audit.record(session, actor, "license.revoked", "license", lic.id, reason=reason)
    log.info("license.revoked", extra={"license_id": lic.id, "actor": actor, "revocations": listing.entries})
    return lic


def _resign(session: Session, core: Core, listing: RevocationList, now: datetime) -> None:
    rows = session.execute(
        select(License.id, License.revoked_at)
        .where(License.revoked_at.is_not(None))
        .order_by(License.revoked_at, License.id)
    ).all()
    listing.document = core.signer().sign_revocations(
        {
            "iss": core.issuer,
            "iat": _timestamp(now),
            "ver": FORMAT_VERSION,
            "revoked": [{"jti": jti, "revoked_at": _timestamp(at)} for jti, at in rows if at is not None],
        }
    )
    listing.issued_at, listing.entries = now, len(rows)
    session.flush()


def revocation_list(session: Session, core: Core) -> str:
    """The current signed revocation list (an empty one is signed on the fly before any revocation)."""
    listing = session.get(RevocationList, REVOCATION_LIST_ID)
    if listing is not None and listing.document:
        return listing.document
    return core.signer().sign_revocations(
        {"iss": core.issuer, "iat": _timestamp(core.now()), "ver": FORMAT_VERSION, "revoked": []}
    )


@dataclass(frozen=True)
class Refreshed:
    license: License
    changed: bool


def refresh_license(session: Session, core: Core, license_text: str) -> Refreshed:
    """The newest license of the presented license's line (a renewal, a seat change).

    The presented file must carry our signature; expiry does not matter, revocation does.
    """
    try:
        claims, _kid = _decode(license_text, LICENSE_LABEL, LICENSE_TYP, core.keyring())
    except LicenseError as exc:
        raise ValidationFailed(exc.message, field="license_file", code="invalid_license", reason=exc.code) from None
    jti = claims.get("jti")
    lic = session.get(License, jti) if isinstance(jti, str) else None
    if lic is None:
        raise NotFound("This service did not issue that license.", code="license_not_found")
    newest = newest_of_line(session, lic.line_id)
    for candidate in (lic, newest):
        if candidate.revoked_at is not None:
            raise Forbidden(f"License {candidate.id} has been revoked: {candidate.revoked_reason}", code="revoked")
    return Refreshed(newest, changed=newest.id != lic.id)
