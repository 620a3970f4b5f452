"""Usage receipts: the vendor's signed acknowledgement of one usage report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from licensing.airgap._envelope import (
    FORMAT_VERSION,
    RECEIPT_LABEL,
    RECEIPT_TYP,
    armor,
    claim_count,
    claim_digest,
    claim_installation_id,
    claim_string,
    claim_time,
    guarded,
    utc,
)
from licensing.airgap.usage import UsageReport
from licensing.verify import Keyring, LicenseError, decode_jws, now_seconds


def overage(peak_users: int, seats: int | None) -> int:
    """Users above the licensed seats: ``max(0, peak_users - seats)``, 0 for unlimited seats (None)."""
    return 0 if seats is None else max(0, peak_users - seats)


def receipt_claims(
    report: UsageReport,
    *,
    issuer: str,
    seats: int | None,
    gap: bool,
    now: datetime | int | float | None = None,
) -> dict[str, Any]:
    """The claims of the receipt for ``report``, in the contract's order, for the service to sign
    (typ :data:`RECEIPT_TYP`, armored with :func:`armor_receipt`). ``seats`` is the line's (None:
    unlimited); ``gap`` says that reports before this one's ``seq`` are missing."""
    if not isinstance(report, UsageReport):
        raise TypeError(f"report must be a UsageReport, not {type(report).__name__}")
    if not isinstance(issuer, str) or not issuer:
        raise ValueError("issuer must be a non-empty string")
    if seats is not None and (type(seats) is not int or seats < 1):
        raise ValueError(f"seats must be a whole number, 1 or more, or None for unlimited, not {seats!r}")
    if type(gap) is not bool:
        raise TypeError("gap must be a bool")
    return {
        "ver": FORMAT_VERSION,
        "iss": issuer,
        "iat": now_seconds(now),
        "installation_id": report.installation_id,
        "license_id": report.license_id,
        "seq": report.seq,
        "report": report.digest,
        "peak_users": report.peak_users,
        "seats": seats,
        "overage": overage(report.peak_users, seats),
        "gap": gap,
    }


def armor_receipt(compact: str) -> str:
    """A signed receipt's compact JWS in its armor (``LICENSE USAGE RECEIPT``)."""
    return armor(compact, RECEIPT_LABEL)


class Receipt:
    """A verified usage receipt: the vendor received report ``seq`` (digest ``report``)."""

    __slots__ = (
        "claims",
        "gap",
        "installation_id",
        "issued_at",
        "issuer",
        "key_id",
        "license_id",
        "overage",
        "peak_users",
        "report",
        "seats",
        "seq",
    )

    def __init__(self, claims: dict[str, Any], key_id: str) -> None:
        self.claims = claims
        self.key_id = key_id
        self.issuer: str = claims["iss"]
        self.issued_at: datetime = utc(claims["iat"])
        self.installation_id: str = claims["installation_id"]
        self.license_id: str = claims["license_id"]
        self.seq: int = claims["seq"]
        self.report: str = claims["report"]
        self.peak_users: int = claims["peak_users"]
        self.seats: int | None = claims["seats"]
        self.overage: int = claims["overage"]
        self.gap: bool = claims["gap"]

    def __repr__(self) -> str:
        return f"<Receipt {self.license_id} seq {self.seq} overage {self.overage}{' gap' if self.gap else ''}>"


def verify_receipt(text: str | bytes, keyring: Keyring, report_digest: str | None = None) -> Receipt:
    """Verify a usage receipt signed by a key of ``keyring`` (the JWKS that verifies license files).

    Given ``report_digest`` (:func:`report_digest` of the report sent), a receipt for another report
    is refused. LicenseError with the verifier's codes: ``malformed``, ``unsupported``,
    ``unknown_key``, ``bad_signature``.
    """
    if not isinstance(keyring, Keyring):
        raise TypeError("keyring must be a licensing.verify.Keyring")
    if report_digest is not None and not isinstance(report_digest, str):
        raise TypeError(f"report_digest must be a str or None, not {type(report_digest).__name__}")
    return guarded("usage receipt", lambda: _verify(text, keyring, report_digest))


def _verify(text: str | bytes, keyring: Keyring, expected: str | None) -> Receipt:
    claims, kid = decode_jws(text, RECEIPT_LABEL, RECEIPT_TYP, keyring)
    claim_string(claims, "iss")
    claim_time(claims, "iat")
    claim_installation_id(claims)
    claim_string(claims, "license_id")
    claim_count(claims, "seq", 1)
    report = claim_digest(claims, "report")
    peak = claim_count(claims, "peak_users", 0)
    seats = claims.get("seats", 0)
    if seats is not None and (type(seats) is not int or seats < 1):
        raise LicenseError("malformed", "Claim 'seats' must be a whole number, 1 or more, or null for unlimited.")
    if claim_count(claims, "overage", 0) != overage(peak, seats):
        raise LicenseError("malformed", "Claim 'overage' must be max(0, peak_users - seats), 0 for unlimited seats.")
    if type(claims.get("gap")) is not bool:
        raise LicenseError("malformed", "Claim 'gap' must be true or false.")
    if expected is not None and report != expected:
        raise LicenseError(
            "malformed",
            f"The receipt is for another usage report (digest {report}), not the one sent ({expected}).",
        )
    return Receipt(claims, kid)
