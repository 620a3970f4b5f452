"""What installing the newest license of a line changes against the license an installation runs now
(SPEC section 8's comparison, :func:`licensing.airgap.compare`), for the portal."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from licensing.airgap import Comparison, compare
from licensing.context import Core
from licensing.kit.errors import NotFound, ValidationFailed
from licensing.licenses.queries import newest_of_line
from licensing.models import License
from licensing.verify import LICENSE_LABEL, LICENSE_TYP, LicenseError, decode_jws, verify
from licensing.verify import License as Verified


@dataclass(frozen=True)
class Compared:
    installed: License
    newest: License
    comparison: Comparison


def _verified(core: Core, text: str) -> Verified:
    """The license verified with the service's keys (signature, format), at a moment it was valid: an
    installation may run an expired license, and the comparison is about what the files say."""
    claims, _kid = decode_jws(text, LICENSE_LABEL, LICENSE_TYP, core.keyring())
    binding = claims.get("installation_id")
    return verify(
        text, core.keyring(), now=claims["nbf"], installation_id=binding if isinstance(binding, str) else None
    )


def license_id_of(core: Core, license_text: str) -> str:
    """The id of a license file this service signed; 422 ``invalid_license`` otherwise."""
    try:
        return _verified(core, license_text).id
    except (LicenseError, KeyError, TypeError, ValueError) as exc:
        message = exc.message if isinstance(exc, LicenseError) else "it is not a license file of ours"
        reason = exc.code if isinstance(exc, LicenseError) else "malformed"
        raise ValidationFailed(
            f"This is not a valid license file: {message}", field="license_file", code="invalid_license", reason=reason
        ) from None


def compare_with_newest(session: Session, core: Core, license_text: str, *, customer_id: str | None = None) -> Compared:
    """The license given (a file this service signed; 422 ``invalid_license``), the newest license of its
    line and what installing that one changes. ``customer_id``: the portal's customer (another's: 404)."""
    license_id = license_id_of(core, license_text)
    installed = session.get(License, license_id)
    if installed is None or (customer_id is not None and installed.customer_id != customer_id):
        raise NotFound("This service did not issue that license to you.", code="license_not_found")
    newest = newest_of_line(session, installed.line_id)
    comparison = compare(_verified(core, license_text), _verified(core, newest.license_file))
    return Compared(installed, newest, comparison)
