"""What the three air-gapped files share: compact JWS in armor, digests, and the checks of their claims.

Reading reuses the verifier's envelope (licensing.verify: armor, strict base64url, JSON, header
checks), so a request, report or receipt is read exactly as a license file is. Every failure is a
:class:`~licensing.verify.LicenseError` with one of the verifier's codes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licensing.verify import (
    MAX_TIME,
    LicenseError,
    b64url_decode,
    b64url_encode,
    check_version,
    checked_header,
    compact_parts,
    json_object,
)

ACTIVATION_LABEL: Final = "LICENSE ACTIVATION REQUEST"
USAGE_LABEL: Final = "LICENSE USAGE REPORT"
RECEIPT_LABEL: Final = "LICENSE USAGE RECEIPT"
ACTIVATION_TYP: Final = "license-activation+jwt"
USAGE_TYP: Final = "license-usage+jwt"
RECEIPT_TYP: Final = "license-usage-receipt+jwt"
FORMAT_VERSION: Final = 1
ARMOR_WIDTH: Final = 64
DAY: Final = 86_400
MAX_INSTALLATION_ID: Final = 200
DIGEST_BYTES: Final = 32

T = TypeVar("T")

NAMES: Final = {
    ACTIVATION_LABEL: "activation request",
    USAGE_LABEL: "usage report",
    RECEIPT_LABEL: "usage receipt",
}


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def compact_json(value: Any) -> bytes:
    """JSON without spaces, keys in the order given (the writers' contract)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, check_circular=False).encode("utf-8")


class Signing(Protocol):
    def sign(self, data: bytes, /) -> bytes: ...


def sign_compact(private_key: Signing, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    signing_input = f"{b64url_encode(compact_json(header))}.{b64url_encode(compact_json(claims))}"
    return f"{signing_input}.{b64url_encode(private_key.sign(signing_input.encode('ascii')))}"


def armor(compact: str, label: str) -> str:
    """A compact JWS wrapped at 64 columns between ``-----BEGIN <label>-----`` and ``-----END <label>-----``."""
    body = "\n".join([compact[i : i + ARMOR_WIDTH] for i in range(0, len(compact), ARMOR_WIDTH)])
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def digest(compact: str | bytes) -> str:
    """base64url(SHA-256) of a compact JWS's ASCII bytes: a report's ``prev`` and a receipt's ``report``."""
    data = compact.encode("ascii") if isinstance(compact, str) else compact
    return b64url_encode(hashlib.sha256(data).digest())


def read_signed(
    text: str | bytes, label: str, typ: str, key_for: Callable[[dict[str, Any]], Ed25519PublicKey]
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The header, verified claims and compact JWS of an armored (or bare) file signed by ``key_for(header)``.

    Checks in the verifier's order: envelope (``malformed``), header (``unsupported``), key (what
    ``key_for`` raises), signature (``bad_signature``), then ``ver`` (``unsupported``).
    """
    compact, parts = compact_parts(text, label)
    header = checked_header(parts[0], typ)
    public_key = key_for(header)
    signature = b64url_decode(parts[2], "signature")
    payload = b64url_decode(parts[1], "payload")  # before the signature: the envelope is checked first
    try:
        public_key.verify(signature, compact[: len(parts[0]) + 1 + len(parts[1])])
    except InvalidSignature:
        raise LicenseError(
            "bad_signature",
            f"The signature of the {NAMES[label]} does not match its contents or its key: "
            "the file was altered or damaged, or signed by another key.",
        ) from None
    claims = json_object(payload, "payload")
    check_version(claims)
    return header, claims, compact.decode("ascii")


def guarded(what: str, read: Callable[[], T]) -> T:
    """``read()``; any exception but a LicenseError becomes one (a safety net: the contract is LicenseError only)."""
    try:
        return read()
    except LicenseError:
        raise
    except Exception as exc:  # pragma: no cover - the readers check everything first
        raise LicenseError("malformed", f"The {what} could not be read ({type(exc).__name__}).") from exc


# --- claims --------------------------------------------------------------------------------------


def claim_time(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if type(value) is not int or not 0 <= value <= MAX_TIME:
        raise LicenseError("malformed", f"Claim {name!r} must be a NumericDate (whole seconds since 1970).")
    return value


def claim_string(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if type(value) is not str or not value:
        raise LicenseError("malformed", f"Claim {name!r} must be a non-empty string.")
    return value


def claim_installation_id(claims: Mapping[str, Any]) -> str:
    value = claims.get("installation_id")
    if type(value) is not str or not is_installation_id(value):
        raise LicenseError(
            "malformed", f"Claim 'installation_id' must be 1 to {MAX_INSTALLATION_ID} printable characters."
        )
    return value


def is_installation_id(value: str) -> bool:
    return 0 < len(value) <= MAX_INSTALLATION_ID and value.isprintable()


def claim_count(claims: Mapping[str, Any], name: str, minimum: int) -> int:
    value = claims.get(name)
    if type(value) is not int or value < minimum:
        raise LicenseError("malformed", f"Claim {name!r} must be a whole number, {minimum} or more.")
    return value


def claim_digest(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if type(value) is not str or not is_digest(value):
        raise LicenseError("malformed", f"Claim {name!r} must be a SHA-256 digest in base64url (43 characters).")
    return value


def is_digest(value: str) -> bool:
    if len(value) != 43:
        return False
    try:
        return len(b64url_decode(value)) == DIGEST_BYTES
    except LicenseError:
        return False
