"""License claims for tests that sign their own licenses (the verifier and the CLI tests)."""

from __future__ import annotations

from typing import Any

PROFESSIONAL_FEATURES = sorted(["saml", "ldap", "openid", "guest_accounts", "mfa_enforcement", "custom_branding"])


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()  # as a claim's value: leave the claim out


def license_claims(*, issued: int, expires: int, **overrides: Any) -> dict[str, Any]:
    """SPEC section 2 claims of a paid professional license issued (and valid from) ``issued``."""
    claims: dict[str, Any] = {
        "iss": "test-issuer",
        "jti": "lic_0001",
        "sub": "cus_0001",
        "ver": 1,
        "iat": issued,
        "nbf": issued,
        "exp": expires,
        "tier": "professional",
        "trial": False,
        "seats": 250,
        "features": PROFESSIONAL_FEATURES,
        "grace_days": 10,
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "company": "Example Ltd"},
        "subscription_id": "sub_0001",
    }
    return with_overrides(claims, overrides)


def with_overrides(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with each override set, or removed where its value is OMIT."""
    merged = {**base, **overrides}
    return {name: value for name, value in merged.items() if value is not OMIT}
