"""Activation requests: an install asks the vendor to bind a license to its installation key."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from licensing.airgap._envelope import (
    ACTIVATION_LABEL,
    ACTIVATION_TYP,
    FORMAT_VERSION,
    armor,
    claim_installation_id,
    claim_string,
    claim_time,
    digest,
    guarded,
    is_installation_id,
    read_signed,
    sign_compact,
    utc,
)
from licensing.airgap.keys import InstallationKey, public_key_from_jwk
from licensing.verify import (
    LICENSE_LABEL,
    LicenseError,
    b64url_decode,
    b64url_encode,
    compact_parts,
    json_object,
    jwk_thumbprint,
    now_seconds,
)

NONCE_BYTES = 16


def license_id_of(license_text: str | bytes) -> str:
    """The ``jti`` of a license file, read WITHOUT verifying it (the install may hold an expired or
    not-yet-trusted file: the vendor checks it). ValueError when the text is not a license file."""
    try:
        _compact, parts = compact_parts(license_text, LICENSE_LABEL)
        claims = json_object(b64url_decode(parts[1], "payload"), "payload")
    except LicenseError as exc:
        raise ValueError(f"license_text is not a license file: {exc.message}") from None
    jti = claims.get("jti")
    if type(jti) is not str or not jti:
        raise ValueError("license_text is not a license file: it has no license id (jti).")
    return jti


def activation_request(
    key: InstallationKey,
    installation_id: str,
    license_text: str | bytes | None = None,
    product_version: str | None = None,
    *,
    license_id: str | None = None,
    now: datetime | int | float | None = None,
    nonce: bytes | None = None,
) -> str:
    """An armored activation request (``LICENSE ACTIVATION REQUEST``) signed by ``key``.

    It names the license to bind: ``license_text``'s id (read without verifying: an expired file
    is fine), or ``license_id``. ValueError without either, when they disagree, or for an
    ``installation_id`` that is not 1 to 200 printable characters. ``nonce`` is for tests only
    (16 random bytes by default).
    """
    if not isinstance(key, InstallationKey):
        raise TypeError(f"key must be an InstallationKey, not {type(key).__name__}")
    if not isinstance(installation_id, str) or not is_installation_id(installation_id):
        raise ValueError("installation_id must be a string of 1 to 200 printable characters")
    if license_text is not None:
        from_text = license_id_of(license_text)
        if license_id is not None and license_id != from_text:
            raise ValueError(f"license_id {license_id!r} is not the id of license_text ({from_text!r})")
        license_id = from_text
    if license_id is None:
        raise ValueError("an activation request names a license: give license_text or license_id")
    if not isinstance(license_id, str) or not license_id:
        raise ValueError("license_id must be a non-empty string")
    if product_version is not None and (not isinstance(product_version, str) or not product_version):
        raise ValueError("product_version must be a non-empty string or None")
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_BYTES)
    elif not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise ValueError(f"nonce must be {NONCE_BYTES} bytes")
    claims: dict[str, Any] = {
        "ver": FORMAT_VERSION,
        "iat": now_seconds(now),
        "installation_id": installation_id,
        "license_id": license_id,
    }
    if product_version is not None:
        claims["product_version"] = product_version
    claims["nonce"] = b64url_encode(nonce)
    header = {"alg": "EdDSA", "typ": ACTIVATION_TYP, "jwk": key.public_jwk}
    return armor(sign_compact(key, header, claims), ACTIVATION_LABEL)


class ActivationRequest:
    """A verified activation request: signed by the key it carries (:attr:`public_jwk`)."""

    __slots__ = (
        "claims",
        "compact",
        "digest",
        "installation_id",
        "issued_at",
        "license_id",
        "nonce",
        "product_version",
        "public_jwk",
        "thumbprint",
    )

    def __init__(self, claims: dict[str, Any], public_jwk: dict[str, str], compact: str) -> None:
        self.claims = claims
        self.installation_id: str = claims["installation_id"]
        self.license_id: str = claims["license_id"]
        self.product_version: str | None = claims.get("product_version")
        self.nonce: str = claims["nonce"]
        self.issued_at: datetime = utc(claims["iat"])
        self.public_jwk = public_jwk
        self.thumbprint: str = jwk_thumbprint(public_jwk["x"])  # the bound license's cnf.jkt
        self.compact = compact
        self.digest = digest(compact)

    def __repr__(self) -> str:
        return f"<ActivationRequest {self.license_id} for {self.installation_id!r} key {self.thumbprint}>"


def read_activation_request(text: str | bytes) -> ActivationRequest:
    """Verify an activation request with the key it carries; LicenseError with the verifier's codes:
    ``malformed`` (envelope, key or claims), ``unsupported`` (alg, typ, crit, ver), ``bad_signature``."""
    return guarded("activation request", lambda: _read(text))


def _read(text: str | bytes) -> ActivationRequest:
    jwk: dict[str, str] = {}

    def key_for(header: dict[str, Any]) -> Any:
        public_key = public_key_from_jwk(header.get("jwk"), "request's jwk")
        jwk.update(kty="OKP", crv="Ed25519", x=header["jwk"]["x"])
        return public_key

    _header, claims, compact = read_signed(text, ACTIVATION_LABEL, ACTIVATION_TYP, key_for)
    claim_time(claims, "iat")
    claim_installation_id(claims)
    claim_string(claims, "license_id")
    if claims.get("product_version") is not None:
        claim_string(claims, "product_version")
    nonce = claims.get("nonce")
    try:
        nonce_bytes = b64url_decode(nonce, "nonce") if type(nonce) is str else b""
    except LicenseError:
        nonce_bytes = b""
    if len(nonce_bytes) != NONCE_BYTES:
        raise LicenseError("malformed", f"Claim 'nonce' must be {NONCE_BYTES} bytes in base64url.")
    return ActivationRequest(claims, jwk, compact)
