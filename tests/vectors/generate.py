"""Regenerate the offline verifier's test vectors, byte for byte.

    .venv/bin/python tests/vectors/generate.py [OUT_DIR]     # default: this directory

Everything is fixed: the signing key comes from the 32-byte seed below, the times are constants, and
Ed25519 signatures are deterministic, so running this again writes identical files (a test checks
that). ``manifest.json`` says, for each vector, which file to verify, at what time (``at``, RFC 3339
or POSIX seconds), with which ``installation_id`` and revocation list, and what must come out:
``{"ok": true, "status": ...}`` or ``{"ok": false, "code": ...}``, as ``licensing verify --json`` says.

TEST-ONLY KEY MATERIAL. The seeds are RFC 8032 section 7.1's published test keys (TEST 1 is also
RFC 8037 appendix A.1's example key), so they protect nothing: never sign a real license with them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensing.signing import Signer, armor
from licensing.verify import LICENSE_LABEL, LICENSE_TYP, _b64url_encode, jwk_thumbprint

# The trusted key (published in jwks.json) and a stranger's key (not published).
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
OTHER_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")

ISSUER = "Example Licensing (test vectors)"
DAY = 86_400
ISSUED = 1_735_689_600  # 2025-01-01T00:00:00Z
EXPIRES = 1_767_225_600  # 2026-01-01T00:00:00Z
GRACE_DAYS = 10
GRACE_ENDS = EXPIRES + GRACE_DAYS * DAY  # 2026-01-11T00:00:00Z
START = 1_740_787_200  # 2025-03-01T00:00:00Z: the enterprise license's custom start
MIDYEAR = 1_748_736_000  # 2025-06-01T00:00:00Z
INSTALLATION = "inst-7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c3f"
PROFESSIONAL = ["custom_branding", "guest_accounts", "ldap", "mfa_enforcement", "openid", "saml"]
ENTERPRISE_EXTRA = ["cluster", "compliance_export", "custom_permissions", "data_retention", "elasticsearch", "metrics"]
ENTERPRISE = sorted([*PROFESSIONAL, *ENTERPRISE_EXTRA, "shared_channels"])
CUSTOMER = {"name": "Ada Lovelace", "email": "ada@example.com", "company": "Example Ltd"}


def rfc3339(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def public_x(private_key: Ed25519PrivateKey) -> str:
    return _b64url_encode(private_key.public_key().public_bytes_raw())


def claims(jti: str, drop: tuple[str, ...] = (), **changes: Any) -> dict[str, Any]:
    """A paid professional license for a year from 2025-01-01, with ``changes``, without ``drop``."""
    result: dict[str, Any] = {
        "iss": ISSUER,
        "jti": jti,
        "sub": "cus_0001",
        "ver": 1,
        "iat": ISSUED,
        "nbf": ISSUED,
        "exp": EXPIRES,
        "tier": "professional",
        "trial": False,
        "seats": 250,
        "features": PROFESSIONAL,
        "grace_days": GRACE_DAYS,
        "customer": CUSTOMER,
        "subscription_id": "sub_0001",
    }
    result.update(changes)
    return {name: value for name, value in result.items() if name not in drop}


def segment(value: dict[str, Any]) -> str:
    return _b64url_encode(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def jws(key: Ed25519PrivateKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A compact JWS whatever the header says (the Signer only writes correct headers)."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    return f"{signing_input}.{_b64url_encode(key.sign(signing_input.encode('ascii')))}"


def build() -> dict[str, bytes]:
    """Every file of the vector set, by name."""
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    other = Ed25519PrivateKey.from_private_bytes(OTHER_SEED)
    x, other_x = public_x(key), public_x(other)
    kid, other_kid = jwk_thumbprint(x), jwk_thumbprint(other_x)
    signer, stranger = Signer(kid, key), Signer(other_kid, other)
    header = {"alg": "EdDSA", "typ": LICENSE_TYP, "kid": kid}

    files: dict[str, str] = {}
    vectors: list[dict[str, Any]] = []

    def add(name: str, file: str, at: str | int, expect: dict[str, Any], **options: Any) -> None:
        vector: dict[str, Any] = {"name": name, "file": file, "at": at}
        vector.update({k: v for k, v in options.items() if v is not None})
        vector["expect"] = expect
        vectors.append(vector)

    def ok(status: str, jti: str, expires: int | None = EXPIRES, grace_days: int = GRACE_DAYS) -> dict[str, Any]:
        return {
            "ok": True,
            "status": status,
            "id": jti,
            "expires_at": None if expires is None else rfc3339(expires),
            "grace_ends_at": None if expires is None else rfc3339(expires + grace_days * DAY),
        }

    def error(code: str) -> dict[str, Any]:
        return {"ok": False, "code": code}

    files["jwks.json"] = json.dumps(
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}]}, indent=2
    )
    files["revocations.lic"] = signer.sign_revocations(
        {
            "iss": ISSUER,
            "iat": START,
            "ver": 1,
            "revoked": [{"jti": "lic_revoked", "revoked_at": START - DAY}, {"jti": "lic_0000", "revoked_at": ISSUED}],
        }
    )

    # A paid professional license through its life.
    pro = files["professional.lic"] = signer.sign_license(claims("lic_professional"))
    add("valid", "professional.lic", rfc3339(MIDYEAR), ok("valid", "lic_professional"))
    add("valid, at in POSIX seconds", "professional.lic", MIDYEAR, ok("valid", "lic_professional"))
    add("valid on its first second", "professional.lic", rfc3339(ISSUED), ok("valid", "lic_professional"))
    add("valid on its last second", "professional.lic", EXPIRES - 1, ok("valid", "lic_professional"))
    add("grace from exp", "professional.lic", rfc3339(EXPIRES), ok("grace", "lic_professional"))
    add("grace until its last second", "professional.lic", GRACE_ENDS - 1, ok("grace", "lic_professional"))
    add("expired when grace ends", "professional.lic", rfc3339(GRACE_ENDS), error("expired"))
    add("expired", "professional.lic", "2027-01-01T00:00:00Z", error("expired"))
    add("clock skew: issued well after now", "professional.lic", "2024-12-01T00:00:00Z", error("clock_skew"))
    add("clock skew: just past the leeway", "professional.lic", ISSUED - 301, error("clock_skew"))
    add("valid: within the leeway of iat and nbf", "professional.lic", ISSUED - 300, ok("valid", "lic_professional"))
    add(
        "not on the revocation list",
        "professional.lic",
        rfc3339(MIDYEAR),
        ok("valid", "lic_professional"),
        revocations="revocations.lic",
    )
    add("unbound, any installation", "professional.lic", MIDYEAR, ok("valid", "lic_professional"), installation_id="i")

    # Starts later than it was issued (enterprise, custom start), with the five-minute nbf leeway.
    files["enterprise-future-start.lic"] = signer.sign_license(
        claims(
            "lic_enterprise",
            nbf=START,
            exp=START + 3 * 365 * DAY,
            tier="enterprise",
            seats=5000,
            features=ENTERPRISE,
            grace_days=30,
            drop=("subscription_id",),
        )
    )
    enterprise_ok = ok("valid", "lic_enterprise", START + 3 * 365 * DAY, 30)
    add("not yet valid", "enterprise-future-start.lic", "2025-02-01T00:00:00Z", error("not_yet_valid"))
    add("not yet valid: just past the leeway", "enterprise-future-start.lic", START - 301, error("not_yet_valid"))
    add("valid: at the leeway edge", "enterprise-future-start.lic", rfc3339(START - 300), enterprise_ok)
    add("valid from nbf", "enterprise-future-start.lic", START, enterprise_ok)

    files["free-perpetual.lic"] = signer.sign_license(
        claims("lic_free", ("exp", "subscription_id"), tier="free", seats=None, features=[], grace_days=0)
    )
    add("perpetual", "free-perpetual.lic", "2099-12-31T23:59:59Z", ok("valid", "lic_free", None, 0))

    trial_end = ISSUED + 30 * DAY
    files["trial.lic"] = signer.sign_license(
        claims("lic_trial", ("subscription_id",), exp=trial_end, trial=True, grace_days=0, installation_id=INSTALLATION)
    )
    trial_ok = ok("valid", "lic_trial", trial_end, 0)
    add("bound trial on its installation", "trial.lic", ISSUED + DAY, trial_ok, installation_id=INSTALLATION)
    add("bound trial, no grace: expired at exp", "trial.lic", trial_end, error("expired"), installation_id=INSTALLATION)
    add("bound to another installation", "trial.lic", ISSUED + DAY, error("installation_mismatch"), installation_id="x")
    add("bound, no installation id given", "trial.lic", ISSUED + DAY, error("installation_mismatch"))

    files["revoked.lic"] = signer.sign_license(claims("lic_revoked"))
    add("revoked", "revoked.lic", rfc3339(MIDYEAR), error("revoked"), revocations="revocations.lic")
    add("revoked license without the list", "revoked.lic", MIDYEAR, ok("valid", "lic_revoked"))

    files["alg-ed25519.lic"] = armor(jws(key, {**header, "alg": "Ed25519"}, claims("lic_ed25519")), LICENSE_LABEL)
    add("alg Ed25519 (RFC 9864)", "alg-ed25519.lic", MIDYEAR, ok("valid", "lic_ed25519"))

    # The tolerant armor: the professional license, re-wrapped.
    compact = "".join(pro.splitlines()[1:-1])
    files["armor-crlf.lic"] = pro.replace("\n", "\r\n")
    files["armor-indented.lic"] = "".join(f"    {line}\n" for line in pro.splitlines())
    files["armor-in-email.txt"] = f"Hello Ada,\n\nYour license file is below.\n\n{pro}\nBest regards,\nSales\n"
    files["bare.jws"] = compact
    for name in ("armor-crlf.lic", "armor-indented.lic", "armor-in-email.txt", "bare.jws"):
        add(f"tolerant armor: {name}", name, MIDYEAR, ok("valid", "lic_professional"))

    # Rejected files.
    head, payload, signature = compact.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    flipped = signature[:20] + alphabet[alphabet.index(signature[20]) ^ 1] + signature[21:]
    files["bad-signature.lic"] = armor(f"{head}.{payload}.{flipped}", LICENSE_LABEL)
    add("bad signature", "bad-signature.lic", MIDYEAR, error("bad_signature"))
    files["altered-claims.lic"] = armor(f"{head}.{segment(claims('lic_professional', seats=10_000))}.{signature}")
    add("claims altered after signing", "altered-claims.lic", MIDYEAR, error("bad_signature"))
    spare = signature[:-1] + alphabet[alphabet.index(signature[-1]) ^ 1]  # same bytes, other text
    files["non-canonical-base64.lic"] = armor(f"{head}.{payload}.{spare}", LICENSE_LABEL)
    add("non-canonical base64url", "non-canonical-base64.lic", MIDYEAR, error("malformed"))

    files["unknown-key.lic"] = stranger.sign_license(claims("lic_stranger"))
    add("unknown key", "unknown-key.lic", MIDYEAR, error("unknown_key"))

    files["alg-none.lic"] = armor(f"{segment({**header, 'alg': 'none'})}.{segment(claims('lic_none'))}.")
    add("alg none", "alg-none.lic", MIDYEAR, error("unsupported"))
    hs_input = f"{segment({**header, 'alg': 'HS256'})}.{segment(claims('lic_hs256'))}"
    mac = hmac.new(key.public_key().public_bytes_raw(), hs_input.encode(), hashlib.sha256).digest()
    files["alg-hs256.lic"] = armor(f"{hs_input}.{_b64url_encode(mac)}")
    add("alg HS256 keyed with the public key", "alg-hs256.lic", MIDYEAR, error("unsupported"))
    files["typ-jwt.lic"] = armor(jws(key, {**header, "typ": "JWT"}, claims("lic_typ")))
    add("typ JWT", "typ-jwt.lic", MIDYEAR, error("unsupported"))
    files["ver-2.lic"] = signer.sign_license(claims("lic_ver2", ver=2))
    add("format version 2", "ver-2.lic", MIDYEAR, error("unsupported"))

    files["malformed-truncated.lic"] = "\n".join(pro.splitlines()[:5]) + "\n"
    add("truncated", "malformed-truncated.lic", MIDYEAR, error("malformed"))
    files["malformed-claims.lic"] = signer.sign_license(claims("lic_bad_seats", seats="250"))
    add("signed, but seats is a string", "malformed-claims.lic", MIDYEAR, error("malformed"))
    files["malformed-not-a-license.txt"] = "This is not a license file.\n"
    add("not a license", "malformed-not-a-license.txt", MIDYEAR, error("malformed"))
    add("a revocation list given as a license", "revocations.lic", MIDYEAR, error("malformed"))

    manifest = {
        "description": "Offline verifier test vectors; see generate.py. expect mirrors `licensing verify --json`.",
        "jwks": "jwks.json",
        "vectors": vectors,
    }
    files["manifest.json"] = json.dumps(manifest, indent=2)
    return {name: (text if text.endswith("\n") else text + "\n").encode() for name, text in sorted(files.items())}


def generate(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in build().items():
        path = out_dir / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for path in generate(target):
        print(path)
