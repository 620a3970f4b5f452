"""Regenerate the offline verifiers' conformance vectors, byte for byte.

    .venv/bin/python tests/vectors/generate.py [OUT_DIR]     # default: this directory

Everything is fixed: the signing keys come from the 32-byte seeds below, the times are constants, and
Ed25519 signatures are deterministic, so running this again writes identical files (a test checks
that). ``manifest.json`` is the one conformance suite that the Python, Go and TypeScript verifiers
each replay in full; README.md beside this file describes its shape.

The expectations are written here by hand from SPEC sections 2 and 3 (each vector says what must
come out), except the byte flips: there every position of one license file and one revocation list
is changed, and the code each change must be rejected with is the one the Python verifier gives
(it is the reference; a flip it accepts must read as the very same file).

This script depends on ``cryptography`` and on the Python verifier for the flips' codes only: the
files are built here, not with the service's signer, so that the vectors stand on their own.

TEST-ONLY KEY MATERIAL. The seeds are RFC 8032 section 7.1's published test keys (TEST 1 is also
RFC 8037 appendix A.1's example key), so they protect nothing: never sign a real license with them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# The trusted key (published in jwks.json) and a stranger's key (not published).
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
OTHER_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
# An installation's own key (RFC 8032 TEST 3): licenses bound to it carry its thumbprint in cnf.jkt, and
# tests/vectors/airgap/ signs its activation requests and usage reports with it.
INSTALLATION_KEY_SEED = bytes.fromhex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")

LICENSE_LABEL = "LICENSE FILE"
REVOCATIONS_LABEL = "LICENSE REVOCATIONS"
LICENSE_TYP = "license+jwt"
REVOCATIONS_TYP = "license-revocations+jwt"
MAX_LICENSE_CHARS = 1_000_000
MAX_REVOCATIONS_CHARS = 64 * 1024 * 1024  # 67,108,864

ISSUER = "Example Licensing (test vectors)"
DAY = 86_400
ISSUED = 1_735_689_600  # 2025-01-01T00:00:00Z
EXPIRES = 1_767_225_600  # 2026-01-01T00:00:00Z
GRACE_DAYS = 10
GRACE_ENDS = EXPIRES + GRACE_DAYS * DAY  # 2026-01-11T00:00:00Z
START = 1_740_787_200  # 2025-03-01T00:00:00Z: the enterprise license's custom start
MIDYEAR = 1_748_736_000  # 2025-06-01T00:00:00Z
MAX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z: the last NumericDate a verifier accepts
INSTALLATION = "inst-7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c3f"
PROFESSIONAL = ["custom_branding", "guest_accounts", "ldap", "mfa_enforcement", "openid", "saml"]
ENTERPRISE_EXTRA = ["cluster", "compliance_export", "custom_permissions", "data_retention", "elasticsearch", "metrics"]
ENTERPRISE = sorted([*PROFESSIONAL, *ENTERPRISE_EXTRA, "shared_channels"])
CUSTOMER = {"name": "Ada Lovelace", "email": "ada@example.com", "company": "Example Ltd"}
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Characters e-mail clients and editors put into pasted text, which the armor tolerates like whitespace.
TOLERATED = {
    "bom": "\ufeff",
    "nbsp": "\u00a0",
    "narrow-nbsp": "\u202f",
    "zwsp": "\u200b",
    "zwnj": "\u200c",
    "zwj": "\u200d",
    "word-joiner": "\u2060",
}
FLIP_XORS = (0x01, 0x20, 0x80)


class Omit:
    """As a claim's value: leave the claim out."""


OMIT: Any = Omit()


def rfc3339(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def public_x(private_key: Ed25519PrivateKey) -> str:
    return b64url(private_key.public_key().public_bytes_raw())


def thumbprint(x: str) -> str:
    """RFC 7638 JWK thumbprint of an Ed25519 key."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def jws(key: Ed25519PrivateKey, header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes) -> str:
    """A compact JWS over any header and payload (objects, or raw bytes), signed with ``key``."""
    head = b64url(header if isinstance(header, bytes) else compact_json(header))
    body = b64url(payload if isinstance(payload, bytes) else compact_json(payload))
    signing_input = f"{head}.{body}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def armor(compact: str, label: str = LICENSE_LABEL) -> str:
    """The compact JWS wrapped at 64 columns between BEGIN and END lines, as the service writes it."""
    body = "\n".join(compact[i : i + 64] for i in range(0, len(compact), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def claims(jti: str, /, **changes: Any) -> dict[str, Any]:
    """A paid professional license for a year from 2025-01-01, with ``changes`` (OMIT drops a claim)."""
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
    return {name: value for name, value in result.items() if value is not OMIT}


def revocation_claims(*entries: tuple[str, int], **changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "iss": ISSUER,
        "iat": MIDYEAR - DAY,
        "ver": 1,
        "seq": 7,
        "revoked": [{"jti": jti, "revoked_at": at} for jti, at in entries],
    }
    result.update(changes)
    return {name: value for name, value in result.items() if value is not OMIT}


def raw_claims(jti: str, /, *edits: tuple[str, str], **changes: Any) -> bytes:
    """The compact JSON of :func:`claims`, with each (old, new) text edit made exactly once."""
    text = compact_json(claims(jti, **changes)).decode("utf-8")
    for old, new in edits:
        assert text.count(old) == 1, (old, text)
        text = text.replace(old, new)
    return text.encode("utf-8")


def lic_view(c: dict[str, Any], status: str, kid: str) -> dict[str, Any]:
    """What a verifier must read from the accepted license whose claims are ``c``."""
    exp = c.get("exp")
    customer = c["customer"]
    return {
        "ok": True,
        "status": status,
        "id": c["jti"],
        "expires_at": None if exp is None else rfc3339(exp),
        "grace_ends_at": None if exp is None else rfc3339(min(exp + c["grace_days"] * DAY, MAX_TIME)),
        "issued_at": rfc3339(c["iat"]),
        "not_before": rfc3339(c["nbf"]),
        "issuer": c["iss"],
        "subject": c["sub"],
        "tier": c["tier"],
        "trial": c["trial"],
        "seats": c["seats"],
        "features": list(c["features"]),
        "grace_days": c["grace_days"],
        "customer": {k: customer.get(k) or "" for k in ("name", "email", "company")},
        "installation_id": c.get("installation_id"),
        "subscription_id": c.get("subscription_id"),
        "supersedes": c.get("supersedes"),
        "key_id": kid,
    }


def rev_view(c: dict[str, Any], kid: str) -> dict[str, Any]:
    """What a verifier must read from the accepted revocation list whose claims are ``c``."""
    revoked = {entry["jti"]: rfc3339(entry["revoked_at"]) for entry in c["revoked"]}  # the last entry wins
    return {
        "ok": True,
        "issuer": c["iss"],
        "issued_at": rfc3339(c["iat"]),
        "seq": c.get("seq", 0),
        "count": len(revoked),
        "revoked": dict(sorted(revoked.items())),
        "key_id": kid,
    }


def error(code: str) -> dict[str, Any]:
    return {"ok": False, "code": code}


def build() -> dict[str, bytes]:
    """Every file of the vector set, by name."""
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    other = Ed25519PrivateKey.from_private_bytes(OTHER_SEED)
    x, other_x = public_x(key), public_x(other)
    kid, other_kid = thumbprint(x), thumbprint(other_x)
    header = {"alg": "EdDSA", "typ": LICENSE_TYP, "kid": kid}
    rev_header = {"alg": "EdDSA", "typ": REVOCATIONS_TYP, "kid": kid}

    def sign_license(c: dict[str, Any] | bytes, signer: Ed25519PrivateKey = key, **head: Any) -> str:
        h = {**header, "kid": kid if signer is key else other_kid, **head}
        return armor(jws(signer, {k: v for k, v in h.items() if v is not OMIT}, c), LICENSE_LABEL)

    def sign_revocations(c: dict[str, Any] | bytes, signer: Ed25519PrivateKey = key, **head: Any) -> str:
        h = {**rev_header, "kid": kid if signer is key else other_kid, **head}
        return armor(jws(signer, h, c), REVOCATIONS_LABEL)

    files: dict[str, str | bytes] = {}
    vectors: list[dict[str, Any]] = []
    revocation_lists: list[dict[str, Any]] = []
    keyrings: list[dict[str, Any]] = []
    flips: list[dict[str, Any]] = []

    def add(name: str, file: str, at: str | int, expect: dict[str, Any], **options: Any) -> None:
        vector: dict[str, Any] = {"name": name, "file": file, "at": at}
        vector.update({k: v for k, v in options.items() if v is not None})
        vector["expect"] = expect
        vectors.append(vector)

    def add_list(name: str, file: str, expect: dict[str, Any], **options: Any) -> None:
        entry: dict[str, Any] = {"name": name, "file": file}
        entry.update({k: v for k, v in options.items() if v is not None})
        entry["expect"] = expect
        revocation_lists.append(entry)

    def ok(c: dict[str, Any], status: str = "valid") -> dict[str, Any]:
        return lic_view(c, status, kid)

    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}]}
    files["jwks.json"] = json.dumps(jwks, indent=2)

    # --- revocation lists ------------------------------------------------------------------------
    # The list as the first service version wrote it (no seq: it reads as seq 0).
    first_list = {
        "iss": ISSUER,
        "iat": START,
        "ver": 1,
        "revoked": [{"jti": "lic_revoked", "revoked_at": START - DAY}, {"jti": "lic_0000", "revoked_at": ISSUED}],
    }
    files["revocations.lic"] = sign_revocations(first_list)
    add_list("without seq: reads as seq 0", "revocations.lic", rev_view(first_list, kid))
    seq_list = revocation_claims(("lic_revoked", START - DAY), ("lic_0000", ISSUED), ("lic_0042", MIDYEAR - 2 * DAY))
    files["rev-seq.lic"] = sign_revocations(seq_list)
    add_list("with seq", "rev-seq.lic", rev_view(seq_list, kid))
    files["rev-seq.jws"] = "".join(files["rev-seq.lic"].splitlines()[1:-1])  # type: ignore[union-attr]
    add_list("bare JWS", "rev-seq.jws", rev_view(seq_list, kid))
    files["rev-seq-crlf.lic"] = files["rev-seq.lic"].replace("\n", "\r\n")  # type: ignore[union-attr]
    add_list("CRLF", "rev-seq-crlf.lic", rev_view(seq_list, kid))
    files["rev-seq-e-mail.lic"] = (
        "\ufeff"
        + files["rev-seq.lic"]  # type: ignore[operator]
        .replace("BEGIN LICENSE REVOCATIONS", "BEGIN\u00a0LICENSE\u00a0REVOCATIONS")
        .replace("\n", "\u200b\n")
    )
    add_list("no-break and zero-width spaces", "rev-seq-e-mail.lic", rev_view(seq_list, kid))
    good_lists = {
        "rev-seq-0.lic": ("seq 0", revocation_claims(seq=0)),
        "rev-empty.lic": ("no license revoked", revocation_claims()),
        "rev-seq-big.lic": ("seq past 2**53", revocation_claims(("lic_0001", ISSUED), seq=2**53 + 1)),
        "rev-seq-huge.lic": ("seq past 2**63", revocation_claims(("lic_0001", ISSUED), seq=10**30)),
        "rev-duplicate-jti.lic": (
            "a license listed twice: the last entry counts",
            revocation_claims(("lic_0001", ISSUED), ("lic_0001", START)),
        ),
        "rev-unknown-fields.lic": (
            "unknown fields are ignored",
            {**revocation_claims(("lic_0001", ISSUED)), "next_update": MIDYEAR, "note": {"a": [1]}},
        ),
    }
    for file, (name, c) in good_lists.items():
        files[file] = sign_revocations(c)
        add_list(name, file, rev_view(c, kid))
    entries_with_extra = revocation_claims()
    entries_with_extra["revoked"] = [{"jti": "lic_0001", "revoked_at": ISSUED, "reason": "refund"}]
    files["rev-entry-extra.lic"] = sign_revocations(entries_with_extra)
    add_list("unknown fields of an entry are ignored", "rev-entry-extra.lic", rev_view(entries_with_extra, kid))

    bad_lists: dict[str, tuple[str, dict[str, Any] | bytes, str]] = {
        "rev-seq-negative.lic": ("seq -1", revocation_claims(seq=-1), "malformed"),
        "rev-seq-float.lic": ("seq 1.0", raw_rev(seq=7, edit=('"seq":7', '"seq":7.0')), "malformed"),
        "rev-seq-bool.lic": ("seq true", revocation_claims(seq=True), "malformed"),
        "rev-seq-string.lic": ("seq a string", revocation_claims(seq="7"), "malformed"),
        "rev-seq-null.lic": ("seq null", revocation_claims(seq=None), "malformed"),
        "rev-ver-2.lic": ("ver 2", revocation_claims(ver=2), "unsupported"),
        "rev-no-ver.lic": ("no ver", revocation_claims(ver=OMIT), "unsupported"),
        "rev-no-revoked.lic": ("no revoked array", revocation_claims(revoked=OMIT), "malformed"),
        "rev-revoked-string.lic": ("revoked is a string", revocation_claims(revoked="lic_0001"), "malformed"),
        "rev-revoked-ids.lic": ("revoked lists bare ids", revocation_claims(revoked=["lic_0001"]), "malformed"),
        "rev-entry-no-time.lic": (
            "an entry without revoked_at",
            revocation_claims(revoked=[{"jti": "lic_0001"}]),
            "malformed",
        ),
        "rev-entry-no-jti.lic": ("an entry without jti", revocation_claims(revoked=[{"revoked_at": 1}]), "malformed"),
        "rev-entry-empty-jti.lic": (
            "an entry with an empty jti",
            revocation_claims(revoked=[{"jti": "", "revoked_at": 1}]),
            "malformed",
        ),
        "rev-entry-bad-time.lic": (
            "revoked_at is a string",
            revocation_claims(revoked=[{"jti": "a", "revoked_at": "yesterday"}]),
            "malformed",
        ),
        "rev-no-iss.lic": ("no iss", revocation_claims(iss=OMIT), "malformed"),
        "rev-no-iat.lic": ("no iat", revocation_claims(iat=OMIT), "malformed"),
        "rev-iat-float.lic": (
            "iat a float",
            raw_rev(iat=ISSUED, edit=(f'"iat":{ISSUED}', f'"iat":{ISSUED}.0')),
            "malformed",
        ),
        "rev-not-object.lic": ("payload not an object", b'[{"jti":"a"}]', "malformed"),
    }
    for file, (name, c, code) in bad_lists.items():
        files[file] = sign_revocations(c)
        add_list(name, file, error(code))
    files["rev-unknown-key.lic"] = sign_revocations(seq_list, other)
    add_list("signed by an unknown key", "rev-unknown-key.lic", error("unknown_key"))
    seq_compact = files["rev-seq.jws"]
    r_head, _r_payload, r_signature = seq_compact.split(".")  # type: ignore[union-attr]
    tampered = revocation_claims(("lic_0000", ISSUED), ("lic_0042", MIDYEAR - 2 * DAY))  # lic_revoked dropped
    files["rev-tampered.lic"] = armor(f"{r_head}.{b64url(compact_json(tampered))}.{r_signature}", REVOCATIONS_LABEL)
    add_list("tampered: an entry removed after signing", "rev-tampered.lic", error("bad_signature"))
    files["rev-typ-license.lic"] = armor(jws(key, header, seq_list), REVOCATIONS_LABEL)
    add_list("typ license+jwt in revocation armor", "rev-typ-license.lic", error("unsupported"))
    files["rev-alg-none.lic"] = armor(
        f"{b64url(compact_json({**rev_header, 'alg': 'none'}))}.{_r_payload}.", REVOCATIONS_LABEL
    )
    add_list("revocation list with alg none", "rev-alg-none.lic", error("unsupported"))

    # --- a paid professional license through its life ---------------------------------------------
    pro_claims = claims("lic_professional")
    pro = files["professional.lic"] = sign_license(pro_claims)
    pro_ok, pro_grace = ok(pro_claims), ok(pro_claims, "grace")
    add("valid", "professional.lic", rfc3339(MIDYEAR), pro_ok)
    add("valid, at in POSIX seconds", "professional.lic", MIDYEAR, pro_ok)
    add("valid on its first second", "professional.lic", rfc3339(ISSUED), pro_ok)
    add("valid on its last second", "professional.lic", EXPIRES - 1, pro_ok)
    add("grace from exp", "professional.lic", rfc3339(EXPIRES), pro_grace)
    add("grace until its last second", "professional.lic", GRACE_ENDS - 1, pro_grace)
    add("expired when grace ends", "professional.lic", rfc3339(GRACE_ENDS), error("expired"))
    add("expired", "professional.lic", "2027-01-01T00:00:00Z", error("expired"))
    add("clock skew: issued well after now", "professional.lic", "2024-12-01T00:00:00Z", error("clock_skew"))
    add("clock skew: just past the leeway", "professional.lic", ISSUED - 301, error("clock_skew"))
    add("valid: within the leeway of iat and nbf", "professional.lic", ISSUED - 300, pro_ok)
    add("not on the revocation list", "professional.lic", rfc3339(MIDYEAR), pro_ok, revocations="revocations.lic")
    add("not on the revocation list with seq", "professional.lic", MIDYEAR, pro_ok, revocations="rev-seq.lic")
    add("not on an empty revocation list", "professional.lic", MIDYEAR, pro_ok, revocations="rev-empty.lic")
    add("unbound, any installation", "professional.lic", MIDYEAR, pro_ok, installation_id="i")
    add("at the epoch: clock skew", "professional.lic", 0, error("clock_skew"))

    # iat later than nbf: the clock-skew edges apart from nbf's.
    ahead_claims = claims("lic_iat_ahead", iat=ISSUED + 1000)
    files["time-iat-ahead.lic"] = sign_license(ahead_claims)
    add("iat exactly 300 s ahead of now: valid", "time-iat-ahead.lic", ISSUED + 700, ok(ahead_claims))
    add("iat 301 s ahead of now: clock skew", "time-iat-ahead.lic", ISSUED + 699, error("clock_skew"))
    add("iat ahead, nbf passed: clock skew", "time-iat-ahead.lic", ISSUED, error("clock_skew"))

    # Starts later than it was issued (enterprise, custom start), with the five-minute nbf leeway.
    ent_claims = claims(
        "lic_enterprise",
        nbf=START,
        exp=START + 3 * 365 * DAY,
        tier="enterprise",
        seats=5000,
        features=ENTERPRISE,
        grace_days=30,
        subscription_id=OMIT,
    )
    files["enterprise-future-start.lic"] = sign_license(ent_claims)
    add("not yet valid", "enterprise-future-start.lic", "2025-02-01T00:00:00Z", error("not_yet_valid"))
    add("not yet valid: just past the leeway", "enterprise-future-start.lic", START - 301, error("not_yet_valid"))
    add("valid: at the leeway edge", "enterprise-future-start.lic", rfc3339(START - 300), ok(ent_claims))
    add("valid a second before nbf", "enterprise-future-start.lic", START - 1, ok(ent_claims))
    add("valid from nbf", "enterprise-future-start.lic", START, ok(ent_claims))
    add("clock skew outranks not yet valid", "enterprise-future-start.lic", ISSUED - 1000, error("clock_skew"))
    add(
        "enterprise grace (30 days)",
        "enterprise-future-start.lic",
        START + 3 * 365 * DAY + 29 * DAY,
        ok(ent_claims, "grace"),
    )
    add(
        "enterprise expired after 30 days' grace",
        "enterprise-future-start.lic",
        START + 3 * 365 * DAY + 30 * DAY,
        error("expired"),
    )

    free_claims = claims("lic_free", exp=OMIT, subscription_id=OMIT, tier="free", seats=None, features=[], grace_days=0)
    files["free-perpetual.lic"] = sign_license(free_claims)
    add("perpetual", "free-perpetual.lic", "2099-12-31T23:59:59Z", ok(free_claims))
    add("perpetual at the last second", "free-perpetual.lic", MAX_TIME, ok(free_claims))
    null_exp = claims(
        "lic_exp_null", exp=None, tier="free", seats=None, features=[], grace_days=0, subscription_id=OMIT
    )
    files["time-exp-null.lic"] = sign_license(null_exp)
    add("exp null is perpetual", "time-exp-null.lic", MAX_TIME, ok(null_exp))
    far_claims = claims("lic_far", exp=MAX_TIME - DAY, grace_days=36_500)
    files["time-far-future.lic"] = sign_license(far_claims)
    add("grace end capped at the last second", "time-far-future.lic", MAX_TIME, ok(far_claims, "grace"))
    same_claims = claims("lic_exp_is_nbf", exp=ISSUED, grace_days=0)
    files["time-exp-equals-nbf.lic"] = sign_license(same_claims)
    add("exp equal to nbf: expired at once", "time-exp-equals-nbf.lic", ISSUED, error("expired"))
    add("exp equal to nbf: valid just before", "time-exp-equals-nbf.lic", ISSUED - 1, ok(same_claims))

    trial_end = ISSUED + 30 * DAY
    trial_claims = claims(
        "lic_trial", subscription_id=OMIT, exp=trial_end, trial=True, grace_days=0, installation_id=INSTALLATION
    )
    files["trial.lic"] = sign_license(trial_claims)
    trial_ok = ok(trial_claims)
    add("bound trial on its installation", "trial.lic", ISSUED + DAY, trial_ok, installation_id=INSTALLATION)
    add("bound trial, last second", "trial.lic", trial_end - 1, trial_ok, installation_id=INSTALLATION)
    add("bound trial, no grace: expired at exp", "trial.lic", trial_end, error("expired"), installation_id=INSTALLATION)
    add("bound to another installation", "trial.lic", ISSUED + DAY, error("installation_mismatch"), installation_id="x")
    add("bound, no installation id given", "trial.lic", ISSUED + DAY, error("installation_mismatch"))
    add(
        "bound, installation id in other case",
        "trial.lic",
        ISSUED + DAY,
        error("installation_mismatch"),
        installation_id=INSTALLATION.upper(),
    )
    add(
        "bound, installation id with a trailing space",
        "trial.lic",
        ISSUED + DAY,
        error("installation_mismatch"),
        installation_id=INSTALLATION + " ",
    )
    add(
        "binding outranks expiry",
        "trial.lic",
        trial_end + 100 * DAY,
        error("installation_mismatch"),
        installation_id="x",
    )

    renewal_claims = claims("lic_renewal", installation_id="inst-1", supersedes="lic_0000", seats=None)
    files["bound-renewal.lic"] = sign_license(renewal_claims)
    add(
        "bound renewal, all optional claims", "bound-renewal.lic", MIDYEAR, ok(renewal_claims), installation_id="inst-1"
    )

    # --- a line's next licenses: the air-gapped vectors compare them (tests/vectors/airgap/) ------------
    renewed = 1_764_547_200  # 2025-12-01T00:00:00Z
    renewal_features = sorted([*(f for f in PROFESSIONAL if f != "guest_accounts"), "cluster"])
    renewal_2 = claims(
        "lic_professional_2",
        supersedes="lic_professional",
        iat=renewed,
        nbf=renewed,
        exp=EXPIRES + 365 * DAY,
        seats=300,
        features=renewal_features,
    )
    files["renewal.lic"] = sign_license(renewal_2)
    add("a renewal that supersedes", "renewal.lic", "2025-12-15T00:00:00Z", ok(renewal_2))
    installation_jkt = thumbprint(public_x(Ed25519PrivateKey.from_private_bytes(INSTALLATION_KEY_SEED)))
    bound_cnf = claims(
        "lic_bound",
        supersedes="lic_professional",
        iat=MIDYEAR,
        installation_id=INSTALLATION,
        cnf={"jkt": installation_jkt},
    )
    files["bound-cnf.lic"] = sign_license(bound_cnf)
    add(
        "bound to an installation key: cnf is ignored",
        "bound-cnf.lic",
        MIDYEAR,
        ok(bound_cnf),
        installation_id=INSTALLATION,
    )
    other_customer = claims("lic_other_customer", sub="cus_0002", supersedes="lic_professional", iat=ISSUED + DAY)
    files["other-customer.lic"] = sign_license(other_customer)
    add("another customer's license", "other-customer.lic", MIDYEAR, ok(other_customer))
    reissued = claims("lic_reissued", supersedes="lic_professional", iat=ISSUED + DAY)
    files["reissued.lic"] = sign_license(reissued)
    add("reissued on the same terms", "reissued.lic", MIDYEAR, ok(reissued))

    revoked_claims = claims("lic_revoked")
    files["revoked.lic"] = sign_license(revoked_claims)
    add("revoked", "revoked.lic", rfc3339(MIDYEAR), error("revoked"), revocations="revocations.lic")
    add("revoked on a list with seq", "revoked.lic", MIDYEAR, error("revoked"), revocations="rev-seq.lic")
    add("revoked on a bare JWS list", "revoked.lic", MIDYEAR, error("revoked"), revocations="rev-seq.jws")
    add("revoked license without the list", "revoked.lic", MIDYEAR, ok(revoked_claims))
    add(
        "revoked license, list from an unknown key",
        "revoked.lic",
        MIDYEAR,
        error("unknown_key"),
        revocations="rev-unknown-key.lic",
    )
    add(
        "list from an unknown key is refused",
        "professional.lic",
        MIDYEAR,
        error("unknown_key"),
        revocations="rev-unknown-key.lic",
    )
    add("tampered list is refused", "revoked.lic", MIDYEAR, error("bad_signature"), revocations="rev-tampered.lic")
    add(
        "list of another version is refused",
        "professional.lic",
        MIDYEAR,
        error("unsupported"),
        revocations="rev-ver-2.lic",
    )
    add(
        "ill-formed list is refused",
        "professional.lic",
        MIDYEAR,
        error("malformed"),
        revocations="rev-seq-negative.lic",
    )
    bound_revoked = claims("lic_0000", installation_id=INSTALLATION)
    files["revoked-bound.lic"] = sign_license(bound_revoked)
    add(
        "revocation outranks binding and expiry",
        "revoked-bound.lic",
        "2027-06-01T00:00:00Z",
        error("revoked"),
        installation_id="other",
        revocations="revocations.lic",
    )

    # --- alg, typ, crit, kid, ver ------------------------------------------------------------------
    ed_claims = claims("lic_ed25519")
    files["alg-ed25519.lic"] = sign_license(ed_claims, alg="Ed25519")
    add("alg Ed25519 (RFC 9864)", "alg-ed25519.lic", MIDYEAR, ok(ed_claims))
    header_cases: dict[str, tuple[str, dict[str, Any], str | None]] = {
        "hdr-alg-eddsa-lower.lic": ("alg eddsa", {"alg": "eddsa"}, "unsupported"),
        "hdr-alg-ed25519-upper.lic": ("alg ED25519", {"alg": "ED25519"}, "unsupported"),
        "hdr-alg-missing.lic": ("no alg", {"alg": OMIT}, "unsupported"),
        "hdr-alg-null.lic": ("alg null", {"alg": None}, "unsupported"),
        "hdr-alg-number.lic": ("alg a number", {"alg": 1}, "unsupported"),
        "hdr-alg-array.lic": ("alg an array", {"alg": ["EdDSA"]}, "unsupported"),
        "hdr-alg-es256.lic": ("alg ES256", {"alg": "ES256"}, "unsupported"),
        "hdr-alg-none-signed.lic": ("alg none, signature attached", {"alg": "none"}, "unsupported"),
        "hdr-typ-media-type.lic": ("typ application/license+jwt", {"typ": "application/license+jwt"}, None),
        "hdr-typ-upper.lic": ("typ in capitals", {"typ": "LICENSE+JWT"}, None),
        "hdr-typ-mixed.lic": ("typ Application/License+JWT", {"typ": "Application/License+JWT"}, None),
        "hdr-typ-missing.lic": ("no typ", {"typ": OMIT}, "unsupported"),
        "hdr-typ-space.lic": ("typ with a trailing space", {"typ": "license+jwt "}, "unsupported"),
        "hdr-typ-dotted-i.lic": ("typ with a dotted capital I", {"typ": "L\u0130CENSE+JWT"}, "unsupported"),
        "hdr-typ-twice-prefixed.lic": (
            "typ prefixed twice",
            {"typ": "application/application/license+jwt"},
            "unsupported",
        ),
        "hdr-typ-revocations.lic": ("typ of a revocation list", {"typ": REVOCATIONS_TYP}, "unsupported"),
        "hdr-typ-number.lic": ("typ a number", {"typ": 7}, "unsupported"),
        "hdr-crit.lic": ("crit", {"crit": ["exp"]}, "unsupported"),
        "hdr-crit-null.lic": ("crit null", {"crit": None}, "unsupported"),
        "hdr-unknown-params.lic": ("unknown header parameters are ignored", {"x5u": "http://x", "cty": "x"}, None),
        "hdr-kid-missing.lic": ("no kid", {"kid": OMIT}, "unknown_key"),
        "hdr-kid-empty.lic": ("kid empty", {"kid": ""}, "unknown_key"),
        "hdr-kid-number.lic": ("kid a number", {"kid": 42}, "unknown_key"),
        "hdr-kid-other.lic": ("kid of another key", {"kid": "unknown-kid"}, "unknown_key"),
    }
    for file, (name, head, code) in header_cases.items():
        c = claims(f"lic_{file[4:-4].replace('-', '_')}")
        files[file] = sign_license(c, **head)
        add(f"header: {name}", file, MIDYEAR, ok(c) if code is None else error(code))
    impostor = claims("lic_impostor")
    files["impostor.lic"] = armor(jws(other, header, impostor))
    add("another key under a trusted kid", "impostor.lic", MIDYEAR, error("bad_signature"))

    # Rejected envelopes.
    compact = "".join(pro.splitlines()[1:-1])
    head, payload, signature = compact.split(".")
    flipped = signature[:20] + ALPHABET[ALPHABET.index(signature[20]) ^ 1] + signature[21:]
    files["bad-signature.lic"] = armor(f"{head}.{payload}.{flipped}", LICENSE_LABEL)
    add("bad signature", "bad-signature.lic", MIDYEAR, error("bad_signature"))
    files["altered-claims.lic"] = armor(
        f"{head}.{b64url(compact_json(claims('lic_professional', seats=10_000)))}.{signature}"
    )
    add("claims altered after signing", "altered-claims.lic", MIDYEAR, error("bad_signature"))
    ed_head = b64url(compact_json({**header, "alg": "Ed25519"}))
    files["sig-other-header.lic"] = armor(f"{ed_head}.{payload}.{signature}")
    add("signature over another header", "sig-other-header.lic", MIDYEAR, error("bad_signature"))
    spare = signature[:-1] + ALPHABET[ALPHABET.index(signature[-1]) ^ 1]  # same bytes, other text
    files["non-canonical-base64.lic"] = armor(f"{head}.{payload}.{spare}", LICENSE_LABEL)
    add("non-canonical base64url", "non-canonical-base64.lic", MIDYEAR, error("malformed"))
    signatures = {
        "sig-empty.jws": ("", "bad_signature"),
        "sig-3-bytes.jws": ("AAAA", "bad_signature"),
        "sig-zeros.jws": ("A" * 86, "bad_signature"),
        "sig-65-bytes.jws": ("A" * 87, "bad_signature"),
        "sig-66-bytes.jws": ("A" * 88, "bad_signature"),
        "sig-spare-bits.jws": ("A" * 85 + "B", "malformed"),
        "sig-one-char-tail.jws": ("A" * 85, "malformed"),
        "sig-padded.jws": (signature + "==", "malformed"),
        "sig-base64-alphabet.jws": ("+" + signature[1:], "malformed"),
    }
    for file, (sig, code) in signatures.items():
        files[file] = f"{head}.{payload}.{sig}"
        add(f"signature: {file[4:-4]}", file, MIDYEAR, error(code))

    files["unknown-key.lic"] = sign_license(claims("lic_stranger"), other)
    add("unknown key", "unknown-key.lic", MIDYEAR, error("unknown_key"))

    files["alg-none.lic"] = armor(
        f"{b64url(compact_json({**header, 'alg': 'none'}))}.{b64url(compact_json(claims('lic_none')))}."
    )
    add("alg none", "alg-none.lic", MIDYEAR, error("unsupported"))
    hs_input = f"{b64url(compact_json({**header, 'alg': 'HS256'}))}.{b64url(compact_json(claims('lic_hs256')))}"
    mac = hmac.new(key.public_key().public_bytes_raw(), hs_input.encode(), hashlib.sha256).digest()
    files["alg-hs256.lic"] = armor(f"{hs_input}.{b64url(mac)}")
    add("alg HS256 keyed with the public key", "alg-hs256.lic", MIDYEAR, error("unsupported"))
    files["typ-jwt.lic"] = sign_license(claims("lic_typ"), typ="JWT")
    add("typ JWT", "typ-jwt.lic", MIDYEAR, error("unsupported"))
    for value, label in ((2, "2"), (0, "0"), ("1", "string"), (True, "true"), (None, "null"), (OMIT, "missing")):
        file = f"ver-{label}.lic"
        files[file] = sign_license(claims("lic_ver2" if label == "2" else f"lic_ver_{label}", ver=value))
        add(f"format version {label}", file, MIDYEAR, error("unsupported"))
    files["ver-float.lic"] = sign_license(raw_claims("lic_ver_float", ('"ver":1', '"ver":1.0')))
    add("format version 1.0 (a float)", "ver-float.lic", MIDYEAR, error("unsupported"))
    files["ver-exponent.lic"] = sign_license(raw_claims("lic_ver_exp", ('"ver":1', '"ver":1e0')))
    add("format version 1e0 (a float)", "ver-exponent.lic", MIDYEAR, error("unsupported"))
    files["ver-minus-zero.lic"] = sign_license(raw_claims("lic_ver_m0", ('"ver":1', '"ver":-0')))
    add("format version -0 (zero)", "ver-minus-zero.lic", MIDYEAR, error("unsupported"))

    # --- claims ------------------------------------------------------------------------------------
    ill_typed: list[tuple[str, Any]] = [
        ("iss", OMIT),
        ("iss", ""),
        ("jti", OMIT),
        ("jti", 12),
        ("sub", None),
        ("tier", OMIT),
        ("tier", ["professional"]),
        ("iat", OMIT),
        ("iat", 1.5),
        ("iat", "1700000000"),
        ("iat", True),
        ("iat", -1),
        ("iat", MAX_TIME + 1),
        ("nbf", OMIT),
        ("nbf", 10**20),
        ("exp", "never"),
        ("exp", ISSUED - 1),  # expires before it starts
        ("exp", 10**40),
        ("exp", MAX_TIME + 1),
        ("trial", OMIT),
        ("trial", 0),
        ("trial", "false"),
        ("seats", 0),
        ("seats", -5),
        ("seats", "250"),
        ("seats", 2.5),
        ("seats", True),
        ("seats", OMIT),  # absent is not null: unlimited must be said explicitly
        ("features", OMIT),
        ("features", "saml"),
        ("features", ["saml", 1]),
        ("features", {"saml": True}),
        ("features", None),
        ("grace_days", OMIT),
        ("grace_days", -1),
        ("grace_days", 1.5),
        ("grace_days", 36_501),
        ("grace_days", 10**9),
        ("customer", OMIT),
        ("customer", "Ada"),
        ("customer", {"name": 5}),
        ("customer", ["Ada"]),
        ("installation_id", ""),
        ("installation_id", 5),
        ("subscription_id", ["sub"]),
        ("supersedes", ""),
    ]
    for n, (name, value) in enumerate(ill_typed):
        label = "missing" if value is OMIT else type(value).__name__
        file = f"claims-{n:02}-{name.replace('_', '-')}-{label}.lic"
        files[file] = sign_license(claims(f"lic_claims_{n:02}", **{name: value}))
        shown = "missing" if value is OMIT else json.dumps(value)[:24]
        add(f"claim {name} {shown}: malformed", file, MIDYEAR, error("malformed"), installation_id="x")
    files["malformed-claims.lic"] = sign_license(claims("lic_bad_seats", seats="250"))
    add("signed, but seats is a string", "malformed-claims.lic", MIDYEAR, error("malformed"))

    good_claims: dict[str, tuple[str, dict[str, Any]]] = {
        "claims-unknown-ignored.lic": (
            "unknown claims are ignored, optional ones may be absent",
            claims(
                "lic_unknown",
                seats=None,
                exp=OMIT,
                subscription_id=OMIT,
                future_claim={"a": [1, 2]},
                aud="someone",
                customer={},
            ),
        ),
        "claims-customer-nulls.lic": (
            "customer fields may be null",
            claims("lic_customer_nulls", customer={"name": None, "email": "a@example.com", "company": None}),
        ),
        "claims-customer-extra.lic": (
            "customer with extra fields",
            claims("lic_customer_extra", customer={**CUSTOMER, "phone": 5, "vat": {"id": "X"}}),
        ),
        "claims-features-unsorted.lic": (
            "features in any order, custom ones kept",
            claims("lic_features", features=["saml", "zeta", "alpha", "saml"]),
        ),
        "claims-installation-null.lic": (
            "installation_id null is unbound",
            claims("lic_inst_null", installation_id=None),
        ),
        "claims-non-ascii.lic": (
            "non-ASCII text in claims",
            claims(
                "lic_unicode", customer={"name": "Åsa Ñúñez 李", "email": "åsa@exämple.com", "company": "Ørsted 😀"}
            ),
        ),
        "claims-big-seats.lic": ("seats past 2**63", claims("lic_big_seats", seats=10**30)),
        "claims-seats-2-53.lic": ("seats past 2**53", claims("lic_seats_2_53", seats=2**53 + 1)),
        "claims-grace-max.lic": ("grace_days 36500", claims("lic_grace_max", grace_days=36_500)),
        "claims-zero-times.lic": (
            "times at 0 are NumericDates",
            claims("lic_zero", iat=0, nbf=0, exp=OMIT, tier="free", seats=None, features=[], grace_days=0),
        ),
    }
    for file, (name, c) in good_claims.items():
        files[file] = sign_license(c)
        add(name, file, MIDYEAR, ok(c))

    # --- JSON as Python's json module reads it -----------------------------------------------------
    base = claims("lic_json")
    json_ok: dict[str, tuple[str, bytes, dict[str, Any]]] = {}
    json_bad: dict[str, tuple[str, bytes, str]] = {}
    j = compact_json(base).decode()

    def edited(jti: str, *edits: tuple[str, str], **changes: Any) -> bytes:
        return raw_claims(jti, *edits, **changes)

    json_ok["json-duplicate-last-wins.lic"] = (
        "duplicate keys: the last one counts",
        edited("lic_json_dup", ('"seats":250', '"seats":"x","seats":250')),
        claims("lic_json_dup"),
    )
    json_bad["json-duplicate-last-bad.lic"] = (
        "duplicate keys: a bad last one counts",
        edited("lic_json_dup_bad", ('"seats":250', '"seats":250,"seats":"x"')),
        "malformed",
    )
    json_ok["json-duplicate-nested.lic"] = (
        "duplicate keys in customer",
        edited("lic_json_dup_nested", ('"name":"Ada Lovelace"', '"name":7,"name":"Ada Lovelace"')),
        claims("lic_json_dup_nested"),
    )
    json_ok["json-minus-zero.lic"] = (
        "grace_days -0 is the integer 0",
        edited("lic_json_m0", ('"grace_days":10', '"grace_days":-0')),
        claims("lic_json_m0", grace_days=0),
    )
    for name, old, new in (
        ("iat-float", f'"iat":{ISSUED}', f'"iat":{ISSUED}.0'),
        ("iat-exponent", f'"iat":{ISSUED}', '"iat":1.7356896E9'),
        ("seats-float", '"seats":250', '"seats":250.0'),
        ("seats-exponent", '"seats":250', '"seats":25e1'),
        ("grace-float", '"grace_days":10', '"grace_days":10.0'),
        ("iat-nan", f'"iat":{ISSUED}', '"iat":NaN'),
        ("seats-infinity", '"seats":250', '"seats":Infinity'),
        ("exp-minus-infinity", f'"exp":{EXPIRES}', '"exp":-Infinity'),
        ("iat-2-64", f'"iat":{ISSUED}', '"iat":18446744073709551616'),
        ("trial-zero", '"trial":false', '"trial":0'),
        ("leading-zero", '"seats":250', '"seats":0250'),
        ("plus-sign", '"seats":250', '"seats":+250'),
        ("lower-nan", '"seats":250', '"seats":250,"x":nan'),
        ("minus-nan", '"seats":250', '"seats":250,"x":-NaN'),
        ("bare-fraction", '"seats":250', '"seats":250,"x":.5'),
        ("trailing-dot", '"seats":250', '"seats":250,"x":1.'),
        ("hex", '"seats":250', '"seats":250,"x":0x10'),
        ("trailing-comma", '"seats":250', '"seats":250,'),
        ("single-quotes", '"seats":250', "\"seats\":250,'x':1"),
        ("bad-escape", '"tier":"professional"', '"tier":"professional\\x41"'),
        ("upper-u-escape", '"tier":"professional"', '"tier":"professional\\U0041"'),
        ("short-u-escape", '"tier":"professional"', '"tier":"professional\\u12G4"'),
        ("raw-control", '"tier":"professional"', '"tier":"profes\x01sional"'),
        ("raw-tab", '"tier":"professional"', '"tier":"profes\tsional"'),
        ("raw-newline", '"tier":"professional"', '"tier":"profes\nsional"'),
        ("non-string-key", '"seats":250', '"seats":250,1:2'),
        ("missing-colon", '"seats":250', '"seats" 250'),
        ("unclosed-string", '"tier":"professional"', '"tier":"professional'),
        ("true-capital", '"trial":false', '"trial":false,"x":True'),
    ):
        json_bad[f"json-{name}.lic"] = (
            name.replace("-", " "),
            edited(f"lic_json_{name.replace('-', '_')}", (old, new)),
            "malformed",
        )
    json_ok["json-nan-ignored.lic"] = (
        "NaN, Infinity and -Infinity in an unknown claim",
        edited("lic_json_nan", ('"seats":250', '"seats":250,"x":[NaN,Infinity,-Infinity]')),
        claims("lic_json_nan"),
    )
    json_ok["json-float-forms.lic"] = (
        "numbers of every form in an unknown claim",
        edited("lic_json_floats", ('"seats":250', '"seats":250,"x":[0,-0,0.5,-1.5e-3,1E400,2e+2,1e-400,-0.0]')),
        claims("lic_json_floats"),
    )
    digits = "1" + "0" * 4299  # 4,300 digits: the most Python's int() reads by default
    json_ok["json-int-4300-digits.lic"] = (
        "an integer of 4,300 digits in an unknown claim",
        edited("lic_json_4300", ('"seats":250', f'"seats":250,"x":{digits}')),
        claims("lic_json_4300"),
    )
    json_ok["json-int-minus-4300-digits.lic"] = (
        "a negative integer of 4,300 digits in an unknown claim",
        edited("lic_json_m4300", ('"seats":250', f'"seats":250,"x":-{digits}')),
        claims("lic_json_m4300"),
    )
    json_bad["json-int-4301-digits.lic"] = (
        "an integer of 4,301 digits (Python's json refuses it)",
        edited("lic_json_4301", ('"seats":250', f'"seats":250,"x":{digits}0')),
        "malformed",
    )
    json_ok["json-long-float.lic"] = (
        "a 5,000-digit number with a fraction",
        edited("lic_json_longfloat", ('"seats":250', f'"seats":250,"x":{digits}{"0" * 700}.5')),
        claims("lic_json_longfloat"),
    )
    json_ok["json-lone-surrogate.lic"] = (
        "a lone surrogate in a \\u escape",
        edited("lic_json_x", ('"jti":"lic_json_x"', '"jti":"lic_\\ud800"')),
        claims("lic_\ud800"),
    )
    json_ok["json-reversed-surrogates.lic"] = (
        "surrogates in the wrong order stay two characters",
        edited("lic_json_x", ('"jti":"lic_json_x"', '"jti":"lic_\\udc00\\ud800"')),
        claims("lic_\udc00\ud800"),
    )
    json_ok["json-surrogate-pair.lic"] = (
        "a surrogate pair escape is one character",
        edited("lic_json_x", ('"jti":"lic_json_x"', '"jti":"lic_\\ud83d\\ude00"')),
        claims("lic_\U0001f600"),
    )
    json_ok["json-high-then-letter.lic"] = (
        "a high surrogate followed by an ordinary escape",
        edited("lic_json_x", ('"jti":"lic_json_x"', '"jti":"lic_\\uD800\\u0041"')),
        claims("lic_\ud800A"),
    )
    json_ok["json-escapes.lic"] = (
        "escapes in strings",
        edited(
            "lic_json_esc",
            ('"tier":"professional"', '"tier":"\\u0070rofessional"'),
            ('"sub":"cus_0001"', '"sub":"cus\\/\\"\\\\\\b\\f\\n\\r\\t\\u00e9"'),
        ),
        claims("lic_json_esc", sub='cus/"\\\b\f\n\r\t\u00e9'),
    )
    json_ok["json-raw-del.lic"] = (
        "a raw DEL character in a string",
        edited("lic_json_del", ('"sub":"cus_0001"', '"sub":"cus\x7f0001"')),
        claims("lic_json_del", sub="cus\x7f0001"),
    )
    json_ok["json-whitespace.lic"] = (
        "JSON whitespace around and between tokens",
        (
            " \t\r\n" + j.replace('"lic_json"', '"lic_json_ws"').replace(",", " ,\n\t").replace(":", " : ") + "\r\n "
        ).encode(),
        claims("lic_json_ws"),
    )
    nested = "[" * 500 + "]" * 500
    json_ok["json-nested-500.lic"] = (
        "arrays nested 500 deep in an unknown claim",
        edited("lic_json_nest", ('"seats":250', f'"seats":250,"x":{nested}')),
        claims("lic_json_nest"),
    )
    deep = "[" * 10_000 + "]" * 10_000
    json_bad["json-nested-10000.lic"] = (
        "arrays nested 10,000 deep",
        edited("lic_json_deep", ('"seats":250', f'"seats":250,"x":{deep}')),
        "malformed",
    )
    json_bad["json-form-feed.lic"] = ("a form feed around the JSON", b"\x0c" + j.encode(), "malformed")
    json_bad["json-bom.lic"] = ("a BOM before the JSON", b"\xef\xbb\xbf" + j.encode(), "malformed")
    json_bad["json-nbsp.lic"] = ("a no-break space around the JSON", j.encode() + "\u00a0".encode(), "malformed")
    json_bad["json-extra-data.lic"] = ("another value after the object", j.encode() + b" {}", "malformed")
    json_bad["json-not-utf8.lic"] = ("a byte that is not UTF-8", j.encode().replace(b"Ada", b"Ad\xe1"), "malformed")
    json_bad["json-utf8-surrogate.lic"] = (
        "a surrogate encoded in UTF-8",
        j.encode().replace(b"Ada", b"Ad\xed\xa0\x80"),
        "malformed",
    )
    json_bad["json-overlong.lic"] = (
        "an overlong UTF-8 sequence",
        j.encode().replace(b"Ada", b"Ad\xc1\xa1"),
        "malformed",
    )
    json_bad["json-array.lic"] = ("an array payload", b"[1,2]", "malformed")
    json_bad["json-null.lic"] = ("a null payload", b"null", "malformed")
    json_bad["json-string.lic"] = ("a string payload", b'"ver"', "malformed")
    json_bad["json-truncated.lic"] = ("a truncated object", j.encode()[:-1], "malformed")
    json_bad["json-empty-object.lic"] = ("an empty object: no ver", b"{}", "unsupported")
    json_bad["json-empty.lic"] = ("an empty payload", b"", "malformed")
    for file, (name, payload_bytes, c) in json_ok.items():
        files[file] = sign_license(payload_bytes)
        add(f"json: {name}", file, MIDYEAR, ok(c))
    for file, (name, payload_bytes, code) in json_bad.items():
        files[file] = sign_license(payload_bytes)
        add(f"json: {name}", file, MIDYEAR, error(code))

    hdr = compact_json(header).decode()
    raw_headers: dict[str, tuple[str, bytes, str | None]] = {
        "json-hdr-duplicate-alg.lic": (
            "header: alg none, then EdDSA",
            hdr.replace('"alg":"EdDSA"', '"alg":"none","alg":"EdDSA"').encode(),
            None,
        ),
        "json-hdr-duplicate-alg-bad.lic": (
            "header: alg EdDSA, then none",
            hdr.replace('"alg":"EdDSA"', '"alg":"EdDSA","alg":"none"').encode(),
            "unsupported",
        ),
        "json-hdr-nan.lic": ("header: NaN in an unknown parameter", hdr.replace("{", '{"x":NaN,', 1).encode(), None),
        "json-hdr-whitespace.lic": ("header: whitespace around", f" {hdr}\n".encode(), None),
        "json-hdr-array.lic": ("header: an array", b"[]", "malformed"),
        "json-hdr-invalid.lic": ("header: not JSON", b"{alg:EdDSA}", "malformed"),
        "json-hdr-escaped-alg.lic": (
            "header: alg spelled with escapes",
            hdr.replace('"EdDSA"', '"\\u0045dDSA"').encode(),
            None,
        ),
    }
    for file, (name, head_bytes, code) in raw_headers.items():
        c = claims(f"lic_{file[5:-4].replace('-', '_')}")
        files[file] = armor(jws(key, head_bytes, c))
        add(name, file, MIDYEAR, ok(c) if code is None else error(code))

    # --- armor -------------------------------------------------------------------------------------
    lines = pro.splitlines()
    body_lines = lines[1:-1]
    armor_ok: dict[str, str | bytes] = {
        "armor-crlf.lic": pro.replace("\n", "\r\n"),
        "armor-indented.lic": "".join(f"    {line}\n" for line in lines),
        "armor-in-email.txt": f"Hello Ada,\n\nYour license file is below.\n\n{pro}\nBest regards,\nSales\n",
        "bare.jws": compact,
        "armor-cr-only.lic": pro.replace("\n", "\r"),
        "armor-no-final-newline.lic": pro.rstrip("\n").encode(),
        "armor-tabs-trailing-spaces.lic": "".join(f"\t{line}  \t\n" for line in lines),
        "armor-same-line-text.lic": f"License: {pro.rstrip()} -- thanks".encode(),
        "armor-wrapped-76.lic": "-----BEGIN LICENSE FILE-----\n"
        + "\n".join(compact[i : i + 76] for i in range(0, len(compact), 76))
        + "\n-----END LICENSE FILE-----\n",
        "armor-one-line.lic": f"-----BEGIN LICENSE FILE-----{compact}-----END LICENSE FILE-----".encode(),
        "armor-blank-lines.lic": pro.replace("\n", "\n\n"),
        "armor-form-feed-vtab.lic": pro.replace("\n", "\n\x0c\x0b"),
        "armor-bare-whitespace.jws": f"\n  {compact}\r\n\n",
        "armor-bare-wrapped.jws": "\n".join(compact[i : i + 64] for i in range(0, len(compact), 64)),
        "armor-text-after-end.lic": pro + "\n-- \nSales team\n-----BEGIN LICENSE FILE-----\ngarbage\n",
        "armor-non-ascii-around.txt": f"Héllo Ådå, voilà — votre licence :\n\n{pro}\nCordialement 😀\n",
        "armor-nul-after-end.lic": (pro + "\x00garbage").encode(),
        # What e-mail clients and editors add: a byte-order mark, no-break and zero-width spaces.
        "armor-bom.lic": "\ufeff" + pro,
        "armor-bom-bare.jws": "\ufeff" + compact + "\n",
        "armor-bom-inside.lic": "\n".join(
            [lines[0], *body_lines[:2], "\ufeff" + body_lines[2], *body_lines[3:], lines[-1]]
        )
        + "\n",
        "armor-nbsp-indented.lic": "".join(f"\u00a0\u00a0{line}\u00a0\n" for line in lines),
        "armor-nbsp-inside.lic": "\n".join([lines[0], *(f"\u00a0{line}\u00a0" for line in body_lines), lines[-1]])
        + "\n",
        "armor-narrow-nbsp-inside.lic": "\n".join([lines[0], *(f"\u202f{line}" for line in body_lines), lines[-1]])
        + "\n",
        "armor-bare-nbsp.jws": f"\u00a0{compact}\u00a0\n",
        # In the BEGIN and END lines too: no-break spaces read as spaces, the invisible ones as nothing.
        "armor-nbsp-in-markers.lic": pro.replace("N LICENSE FILE", "N\u00a0LICENSE\u202fFILE").replace(
            "D LICENSE FILE", "D\u00a0LICENSE\u00a0FILE"
        ),
        "armor-invisibles-in-markers.lic": pro.replace("-----BEGIN", "--\u200b---BEG\ufeffIN").replace(
            "LICENSE FILE-----\n", "LICENSE\u2060 FILE\u200c-----\n", 1
        ),
    }
    for name, char in TOLERATED.items():
        if name in ("bom", "nbsp"):
            continue
        spaced = "".join(c + (char if i % 10 == 9 else "") for i, c in enumerate(compact))
        armor_ok[f"armor-{name}-inside.lic"] = armor(spaced)
    armor_ok["armor-all-tolerated.lic"] = (
        "\ufeff"
        + "\n".join(
            [lines[0], *(f"\u00a0{line}\u200b\u200c\u200d\u2060\u202f\ufeff" for line in body_lines), lines[-1]]
        )
        + "\r\n"
    )
    for file, text in armor_ok.items():
        files[file] = text
        add(f"tolerant armor: {file}", file, MIDYEAR, pro_ok)

    def inside(char: str) -> str:
        return "\n".join([lines[0], body_lines[0], char + body_lines[1], *body_lines[2:], lines[-1]]) + "\n"

    armor_bad: dict[str, str | bytes] = {
        "armor-e-acute-inside.lic": inside("é"),
        "armor-line-separator-inside.lic": inside("\u2028"),
        "armor-soft-hyphen-inside.lic": inside("\u00ad"),
        "armor-ideographic-space-inside.lic": inside("\u3000"),
        "armor-nel-inside.lic": inside("\x85"),
        "armor-en-space-inside.lic": inside("\u2002"),
        "armor-fullwidth-letter-inside.lic": inside("\uff21"),
        "armor-quoted.lic": pro.replace("\n", "\n> "),
        "armor-zwsp-for-marker-space.lic": pro.replace("BEGIN LICENSE FILE", "BEGIN LICENSE\u200bFILE"),
        "armor-pgp.lic": pro.replace("BEGIN LICENSE FILE", "BEGIN PGP MESSAGE"),
        "armor-licence.lic": pro.replace("LICENSE FILE", "LICENCE FILE"),
        "armor-no-end.lic": pro.replace("-----END LICENSE FILE-----", ""),
        "armor-empty.lic": b"",
        "armor-whitespace-only.lic": b"   \n\t",
        "armor-a-b-c.lic": b"a.b.c",
        "armor-dots.lic": b"..",
        "armor-four-parts.jws": f"{compact}.{signature}",
        "armor-two-parts.jws": f"{head}.{payload}",
        "armor-empty-header.jws": f".{payload}.{signature}",
        "armor-empty-payload.jws": f"{head}..{signature}",
        "armor-padding.jws": compact.replace(".", ".=", 1),
        "armor-base64-alphabet.jws": compact.replace("e", "+", 1),
        "armor-utf16.lic": pro.encode("utf-16"),
        "armor-leading-ff.lic": b"\xff" + pro.encode(),
        "armor-invalid-utf8-around.lic": pro.encode() + b"\xc3(",
        "malformed-truncated.lic": "\n".join(lines[:5]) + "\n",
        "malformed-not-a-license.txt": "This is not a license file.\n",
    }
    for file, text in armor_bad.items():
        files[file] = text
        add(f"damaged armor: {file}", file, MIDYEAR, error("malformed"))
    add("a revocation list given as a license", "revocations.lic", MIDYEAR, error("malformed"))
    add("a bare revocation list given as a license", "rev-seq.jws", MIDYEAR, error("unsupported"))
    add_list("a license given as a revocation list", "professional.lic", error("malformed"))
    add_list("a bare license given as a revocation list", "bare.jws", error("unsupported"))

    # --- size limits: a license file is at most 1,000,000 characters, a revocation list 64 MiB -------
    add("1,000,000 characters", "professional.lic", MIDYEAR, pro_ok, pad={"to": MAX_LICENSE_CHARS, "with": " "})
    add(
        "1,000,001 characters",
        "professional.lic",
        MIDYEAR,
        error("malformed"),
        pad={"to": MAX_LICENSE_CHARS + 1, "with": " "},
    )
    add(
        "1,000,000 characters, 2 bytes each after the block",
        "professional.lic",
        MIDYEAR,
        pro_ok,
        pad={"to": MAX_LICENSE_CHARS, "with": "é"},
    )
    add(
        "1,000,000 characters, 4 bytes each after the block",
        "professional.lic",
        MIDYEAR,
        pro_ok,
        pad={"to": MAX_LICENSE_CHARS, "with": "😀"},
    )
    add(
        "1,000,001 characters, 4 bytes each after the block",
        "professional.lic",
        MIDYEAR,
        error("malformed"),
        pad={"to": MAX_LICENSE_CHARS + 1, "with": "😀"},
    )
    add_list(
        "1,000,001 characters: over a license's limit, within a list's",
        "rev-seq.lic",
        rev_view(seq_list, kid),
        pad={"to": MAX_LICENSE_CHARS + 1, "with": " "},
    )
    add_list(
        "67,108,864 characters", "rev-seq.lic", rev_view(seq_list, kid), pad={"to": MAX_REVOCATIONS_CHARS, "with": " "}
    )
    add_list(
        "67,108,865 characters", "rev-seq.lic", error("malformed"), pad={"to": MAX_REVOCATIONS_CHARS + 1, "with": " "}
    )
    add(
        "revoked on a list of 2,000,000 characters",
        "revoked.lic",
        MIDYEAR,
        error("revoked"),
        revocations="rev-seq.lic",
        revocations_pad={"to": 2_000_000, "with": " "},
    )

    # --- keyrings (JWKS) ---------------------------------------------------------------------------
    def add_keyring(name: str, document: Any, kids: list[str] | None) -> None:
        text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
        keyrings.append(
            {
                "name": name,
                "jwks": text,
                "expect": {"ok": False} if kids is None else {"ok": True, "kids": sorted(kids)},
            }
        )

    published = jwks["keys"][0]
    bare_key = {"kty": "OKP", "crv": "Ed25519", "x": other_x}
    add_keyring("the published JWKS", jwks, [kid])
    add_keyring("a key without kid is known by its thumbprint", {"keys": [bare_key]}, [other_kid])
    add_keyring("an empty kid is no kid", {"keys": [{**bare_key, "kid": ""}]}, [other_kid])
    add_keyring("a kid that is not a string is no kid", {"keys": [{**bare_key, "kid": 7}]}, [other_kid])
    add_keyring("alg Ed25519 on a key", {"keys": [{**bare_key, "kid": "b", "alg": "Ed25519"}, published]}, ["b", kid])
    add_keyring(
        "keys that are not Ed25519 signing keys are skipped",
        {
            "keys": [
                {"kty": "RSA", "n": "x", "e": "AQAB", "kid": "rsa"},
                {
                    "kty": "EC",
                    "crv": "P-256",
                    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                    "y": "x",
                    "kid": "ec",
                },
                {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
                {"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", "kid": "x25519"},
                {
                    "kty": "OKP",
                    "crv": "Ed448",
                    "x": "X9dEm1m0Yf0s54fsYWrUah2hNCSFpw4fig6nXYDpZ3jt8SR2m0bHBhvWeD3x5Q9s0foavq_oJWGA",
                },
                {**bare_key, "kid": "for-encryption", "use": "enc"},
                {**bare_key, "kid": "for-other-alg", "alg": "ES256"},
                {**bare_key, "kid": "alg-null", "alg": None},
                {**bare_key, "kid": "use-null", "use": None},
                {**bare_key, "kid": "alg-list", "alg": ["EdDSA"]},
                {**bare_key, "kid": "kty-list", "kty": ["OKP"]},
                {**bare_key, "kid": "crv-number", "crv": 1},
                {**bare_key, "kid": "bad-x-but-skipped", "use": "enc", "x": "AAAA"},
                "not a key",
                None,
                published,
            ]
        },
        [kid],
    )
    add_keyring(
        "NaN and duplicate keys, last wins", '{"x":NaN,"keys":[],"keys":[' + json.dumps(published) + "]}", [kid]
    )
    add_keyring("whitespace around the document", "\n " + json.dumps(jwks) + " \n", [kid])
    for name, document in (
        ("empty text", ""),
        ("not JSON", "not json"),
        ("an array", "[]"),
        ("null", "null"),
        ("42", "42"),
        ("no keys", "{}"),
        ("keys an object", '{"keys": {}}'),
        ("keys a string", '{"keys": "abc"}'),
        ("keys empty", '{"keys": []}'),
        ("nothing usable", {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}),
        ("Ed25519 without x", {"keys": [{"kty": "OKP", "crv": "Ed25519"}]}),
        ("x a number", {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": 5}]}),
        ("x too short", {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]}),
        ("x in base64's alphabet", {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x[:-1] + "+"}]}),
        ("x padded", {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x + "="}]}),
        (
            "x non-canonical",
            {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x[:-1] + ALPHABET[ALPHABET.index(x[-1]) ^ 1]}]},
        ),
        ("a bad key beside a good one", {"keys": [published, {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]}),
        ("nested 2,000 deep", '{"keys": [' * 2_000),
        ("trailing comma", '{"keys": [' + json.dumps(published) + ",]}"),
    ):
        add_keyring(name, document, None)

    files["jwks-two-keys.json"] = json.dumps({"keys": [published, {**bare_key, "kid": other_kid}]}, indent=2)
    files["jwks-duplicate-kid-last-wrong.json"] = json.dumps({"keys": [published, {**bare_key, "kid": kid}]}, indent=2)
    files["jwks-duplicate-kid-last-right.json"] = json.dumps({"keys": [{**bare_key, "kid": kid}, published]}, indent=2)
    stranger_claims = claims("lic_stranger")
    add(
        "a JWKS that has the second key",
        "unknown-key.lic",
        MIDYEAR,
        lic_view(stranger_claims, "valid", other_kid),
        jwks="jwks-two-keys.json",
    )
    add("a JWKS that has both keys", "professional.lic", MIDYEAR, pro_ok, jwks="jwks-two-keys.json")
    add(
        "a kid listed twice: the last key counts",
        "professional.lic",
        MIDYEAR,
        error("bad_signature"),
        jwks="jwks-duplicate-kid-last-wrong.json",
    )
    add(
        "a kid listed twice: the last key counts (valid)",
        "professional.lic",
        MIDYEAR,
        pro_ok,
        jwks="jwks-duplicate-kid-last-right.json",
    )

    # --- byte flips: every byte of one license and one revocation list, three ways ------------------
    flips.append(flip_set("license", "bound-renewal.lic", files["bound-renewal.lic"], jwks, MIDYEAR, "inst-1"))
    flips.append(flip_set("revocations", "rev-seq.lic", files["rev-seq.lic"], jwks, None, None))

    manifest = {
        "description": "The offline verifiers' conformance vectors (SPEC sections 2 and 3); see README.md and generate.py.",
        "jwks": "jwks.json",
        "vectors": vectors,
        "revocation_lists": revocation_lists,
        "keyrings": keyrings,
        "flips": flips,
    }
    files["manifest.json"] = dump_manifest(manifest)
    out: dict[str, bytes] = {}
    for name, content in sorted(files.items()):
        if isinstance(content, bytes):
            out[name] = content
        else:
            out[name] = (content if content.endswith("\n") else content + "\n").encode("utf-8")
    return out


def raw_rev(edit: tuple[str, str], **changes: Any) -> bytes:
    text = compact_json(revocation_claims(**changes)).decode()
    assert text.count(edit[0]) == 1, edit
    return text.replace(*edit).encode()


def flip_set(
    kind: str, file: str, content: str | bytes, jwks: dict[str, Any], at: int | None, installation_id: str | None
) -> dict[str, Any]:
    """Each byte of ``content`` changed (xor each of FLIP_XORS), with the Python verifier's verdict."""
    from licensing.verify import Keyring, LicenseError, load_revocations, verify

    data = content.encode("utf-8") if isinstance(content, str) else content
    keyring = Keyring.from_jwks(json.dumps(jwks))
    read: Callable[[bytes], Any]
    if kind == "license":

        def read(d: bytes) -> Any:
            return verify(d, keyring, now=at, installation_id=installation_id).claims

    else:

        def read(d: bytes) -> Any:
            rl = load_revocations(d, keyring)
            return (rl.issuer, rl.issued_at, rl.revoked, getattr(rl, "seq", None))

    original = read(data)
    rows: list[list[Any]] = []
    for offset in range(len(data)):
        for xor in FLIP_XORS:
            mutated = data[:offset] + bytes([data[offset] ^ xor]) + data[offset + 1 :]
            try:
                result = read(mutated)
            except LicenseError as exc:
                rows.append([offset, xor, exc.code])
                continue
            assert result == original, (offset, xor)  # tolerated whitespace, or text after the block
            rows.append([offset, xor, "ok"])
    entry: dict[str, Any] = {"name": f"every byte of {file}", "kind": kind, "file": file}
    if at is not None:
        entry["at"] = at
    if installation_id is not None:
        entry["installation_id"] = installation_id
    entry["rows"] = rows
    return entry


def dump_manifest(manifest: dict[str, Any]) -> str:
    """Indented JSON, with each flip row on one line."""
    rows: list[str] = []
    for flip in manifest["flips"]:
        start = len(rows)
        rows.extend(json.dumps(row) for row in flip["rows"])
        flip["rows"] = [f"@@row{i}@@" for i in range(start, len(rows))]
    text = json.dumps(manifest, indent=2)
    return re.sub(r'"@@row(\d+)@@"', lambda match: rows[int(match.group(1))], text)


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
