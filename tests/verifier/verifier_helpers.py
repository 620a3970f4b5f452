"""Building licenses for the verifier tests: claims with sensible defaults, signed any way a test needs.

``make_claims`` gives a professional license valid around :data:`NOW`; keyword arguments override
claims, and :data:`OMIT` removes one. ``sign_jws`` signs arbitrary headers and payloads (the Signer
only ever writes a correct header), so tests can build the bad files a verifier must refuse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from licensetools import OMIT as OMIT  # re-exported for the tests
from licensetools import PROFESSIONAL_FEATURES as PROFESSIONAL_FEATURES  # re-exported for the tests
from licensetools import license_claims, with_overrides

from licensing.signing.jws import Signer, armor
from licensing.verify import LICENSE_LABEL, LICENSE_TYP, b64url_encode

DAY = 86_400
# A fixed "now" for tests that do not need the real clock: 2025-06-15T00:00:00Z.
NOW = int(datetime(2025, 6, 15, tzinfo=UTC).timestamp())
ISSUED = NOW - 30 * DAY
EXPIRES = NOW + 335 * DAY


def make_claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a paid professional license valid around :data:`NOW`; ``name=OMIT`` drops a claim."""
    return license_claims(issued=ISSUED, expires=EXPIRES, **overrides)


def segment(value: Mapping[str, Any] | bytes) -> str:
    """The base64url text of a JSON object (or of raw bytes)."""
    data = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    return b64url_encode(data)


def sign_jws(private_key: Ed25519PrivateKey, header: Mapping[str, Any], payload: Mapping[str, Any] | bytes) -> str:
    """A compact JWS over any header and payload, signed with Ed25519 whatever the header says."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    return f"{signing_input}.{b64url_encode(private_key.sign(signing_input.encode('ascii')))}"


def license_header(signer: Signer, **overrides: Any) -> dict[str, Any]:
    return with_overrides({"alg": "EdDSA", "typ": LICENSE_TYP, "kid": signer.kid}, overrides)


def sign_custom(signer: Signer, claims: Mapping[str, Any], **header: Any) -> str:
    """An armored license whose header has the given overrides, signed by ``signer``'s key."""
    return armor(sign_jws(signer.private_key, license_header(signer, **header), claims), LICENSE_LABEL)


def make_license(signer: Signer, **overrides: Any) -> str:
    """An armored license signed the way the service signs them, with :func:`make_claims` claims."""
    return signer.sign_license(make_claims(**overrides))
