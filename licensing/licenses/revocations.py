"""Revoking a license's line and the signed revocation list (SPEC section 2).

Revoking works inside the caller's transaction, under the lock of the revocation list's one row, so
re-signings happen one after the other and each new list holds every revocation committed before it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.access import audit
from licensing.context import Core
from licensing.kit import fields
from licensing.kit.db import atomic
from licensing.kit.errors import Conflict, ValidationFailed
from licensing.licenses.issuance import get_license, numeric_date
from licensing.licenses.status import has_ended, not_ended
from licensing.models import License, RevocationList
from licensing.verify import FORMAT_VERSION

REVOCATION_LIST_ID = 1
log = logging.getLogger("licensing.issuance")


def _locked_listing(session: Session) -> RevocationList:
    """The revocation list row, locked: re-signings happen one after the other, and each new list
    holds every revocation committed before it."""
    return session.scalars(
        select(RevocationList)
        .where(RevocationList.id == REVOCATION_LIST_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _line_to_revoke(session: Session, lic: License, now: datetime) -> list[License]:
    """The license and every license it superseded that has not ended and is not revoked yet."""
    line = {
        row.id: row
        for row in session.scalars(
            select(License)
            .where(License.line_id == lic.line_id)
            .with_for_update(of=License)
            .execution_options(populate_existing=True)
        )
    }
    chosen, current = [lic], line.get(lic.supersedes_id or "")
    while current is not None:
        if current.revoked_at is None and not has_ended(current, now):
            chosen.append(current)
        current = line.get(current.supersedes_id or "")
    return chosen


@atomic
def revoke_license(session: Session, core: Core, actor: str, license_id: str, reason: str) -> License:
    """Revoke a license's line (SPEC section 2) and re-sign the revocation list, in the caller's transaction."""
    reason = fields.check_text(reason, "reason", fields.REASON_MAX, multiline=True)
    if not reason:
        raise ValidationFailed("Say why the license is revoked.", field="reason", code="reason_required")
    listing = _locked_listing(session)
    lic = get_license(session, license_id, for_update=True)
    if lic.revoked_at is not None:
        raise Conflict(f"License {lic.id} was already revoked at {lic.revoked_at.isoformat()}.", code="already_revoked")
    now = core.now()
    for revoked in _line_to_revoke(session, lic, now):
        revoked.revoke(now, reason, actor)
        line_of = lic.id if revoked is not lic else None
        audit.record(session, now, actor, "license.revoked", "license", revoked.id, reason=reason, line_of=line_of)
        log.info("license.revoked", extra={"license_id": revoked.id, "actor": actor, "line_of": line_of})
    session.flush()
    _resign(session, core, listing, now)
    return lic


def _resign(session: Session, core: Core, listing: RevocationList, now: datetime) -> None:
    """Sign a new list, ``seq`` one higher: every revoked license that has not ended (SPEC section 2)."""
    rows = session.execute(
        select(License.id, License.revoked_at, License.grace_ends_at)
        .where(License.revoked_at.is_not(None), not_ended(now))
        .order_by(License.revoked_at, License.id)
    ).all()
    signer = core.signer()
    listing.seq = (listing.seq or 0) + 1
    listing.document = signer.sign_revocations(
        {
            "iss": core.issuer,
            "iat": numeric_date(now),
            "ver": FORMAT_VERSION,
            "seq": listing.seq,
            "revoked": [{"jti": jti, "revoked_at": numeric_date(at)} for jti, at, _end in rows if at is not None],
        }
    )
    lapses = [end for _jti, _at, end in rows if end is not None]
    listing.issued_at, listing.entries, listing.key_id = now, len(rows), signer.kid
    listing.next_lapse_at = min(lapses) if lapses else None
    session.flush()
    log.info("revocations.signed", extra={"seq": listing.seq, "entries": listing.entries, "kid": signer.kid})


def _is_current(listing: RevocationList | None, kid: str, now: datetime) -> bool:
    return (
        listing is not None
        and bool(listing.document)
        and listing.key_id == kid
        and (listing.next_lapse_at is None or now < listing.next_lapse_at)
    )


def revocation_list(session: Session, core: Core) -> str:
    """The current signed revocation list, re-signed first when the active key has changed or a listed
    license's grace has ended since it was signed."""
    kid, now = core.signer().kid, core.now()
    listing = session.get(RevocationList, REVOCATION_LIST_ID)
    if _is_current(listing, kid, now):
        assert listing is not None
        return listing.document
    listing = _locked_listing(session)
    if not _is_current(listing, kid, now):  # another request may have re-signed while we waited
        _resign(session, core, listing, now)
    return listing.document
