"""What an issuance or a renewal would sign, before anyone signs it (SPEC section 5): the exact claims,
warnings for what is legal but unusual, and the changes against the license it renews."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from licensing.airgap import Comparison, compare
from licensing.context import Core
from licensing.licenses.issuance import IssueRequest, build_license, license_claims
from licensing.licenses.queries import newest_of_line
from licensing.verify import License as Verified

LONG_TERM_DAYS = 3 * 365 + 1  # over three years
# Claims that differ on every license and say nothing about its terms.
_UNCOMPARED = frozenset({"jti", "iat", "supersedes"})


@dataclass(frozen=True)
class Preview:
    claims: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    # For a renewal: SPEC section 8's comparison with the line's newest license, the very lines that
    # `licensing verify --compare`, the libraries' compare() and the portal show.
    comparison: Comparison | None = None


def preview_license(session: Session, core: Core, request: IssueRequest) -> Preview:
    """The claims :func:`~licensing.licenses.issuance.issue_license` would sign for ``request``, built by
    the same code; nothing is stored, signed or audited."""
    lic = build_license(session, core, request)
    claims = license_claims(lic, core.issuer)
    now = lic.issued_at
    offer = request.offer
    warnings: list[str] = []
    if lic.seats is not None and offer.seats.default is not None and lic.seats > offer.seats.default:
        warnings.append(f"{lic.seats} seats is above the offer's default of {offer.seats.default}.")
    if lic.seats is None and lic.tier == "enterprise":
        warnings.append("The license has unlimited seats.")
    if lic.expires_at is not None and lic.expires_at - lic.starts_at > timedelta(days=LONG_TERM_DAYS):
        warnings.append(f"The term runs over three years ({(lic.expires_at - lic.starts_at).days} days).")
    if lic.starts_at < now - timedelta(minutes=1):
        warnings.append(f"The license starts in the past ({lic.starts_at.date().isoformat()}).")
    custom = sorted(set(lic.features) - core.catalog.known_features)
    if custom:
        warnings.append(f"Custom features outside the catalog: {', '.join(custom)}.")
    changes: list[dict[str, Any]] = []
    comparison = None
    old = request.supersedes
    if old is not None:
        newest = newest_of_line(session, old.line_id)
        before = license_claims(newest, core.issuer)
        for name in sorted((set(before) | set(claims)) - _UNCOMPARED):
            if before.get(name) != claims.get(name):
                changes.append({"claim": name, "from": before.get(name), "to": claims.get(name)})
        comparison = compare(Verified(before, "valid", newest.key_id), Verified(claims, "valid", ""))
    return Preview(claims=claims, warnings=warnings, changes=changes, comparison=comparison)
