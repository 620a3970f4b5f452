"""Signing license files and revocation lists: compact JWS (EdDSA) in armor."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensing.verify import (
    LICENSE_LABEL,
    LICENSE_TYP,
    REVOCATIONS_LABEL,
    REVOCATIONS_TYP,
    b64url_encode,
)

ARMOR_WIDTH = 64


@dataclass(frozen=True, slots=True)
class Signer:
    """The active signing key: its RFC 7638 thumbprint and the private key."""

    kid: str
    private_key: Ed25519PrivateKey

    def __repr__(self) -> str:  # never show key material
        return f"Signer(kid={self.kid!r})"

    def sign_compact(self, typ: str, claims: Mapping[str, Any], *, ordered: bool = False) -> str:
        """``ordered``: the claims' keys as given, not sorted (a usage receipt lists them in the order of
        SPEC section 8's contract)."""
        header = {"alg": "EdDSA", "typ": typ, "kid": self.kid}
        signing_input = f"{_segment(header)}.{_segment(claims, sort_keys=not ordered)}"
        signature = self.private_key.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url_encode(signature)}"

    def sign_license(self, claims: Mapping[str, Any]) -> str:
        return armor(self.sign_compact(LICENSE_TYP, claims), LICENSE_LABEL)

    def sign_revocations(self, claims: Mapping[str, Any]) -> str:
        return armor(self.sign_compact(REVOCATIONS_TYP, claims), REVOCATIONS_LABEL)


def _segment(value: Mapping[str, Any], *, sort_keys: bool = True) -> str:
    return b64url_encode(
        json.dumps(value, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False).encode("utf-8")
    )


def armor(compact: str, label: str = LICENSE_LABEL) -> str:
    """Wrap a compact JWS at 64 columns between BEGIN and END lines."""
    # A list, not a generator: join makes one anyway, and a revocation list has 100,000s of lines.
    body = "\n".join([compact[i : i + ARMOR_WIDTH] for i in range(0, len(compact), ARMOR_WIDTH)])
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"
