"""License files interoperate with independent JOSE libraries, both ways (SPEC section 2).

PyJWT and joserfc, given nothing but the published JWKS, verify what our Signer makes once the armor
is stripped; and licenses that PyJWT and joserfc sign with the keystore's private key (read from its
PEM file) are accepted by ``licensing.verify.verify``, including joserfc's RFC 9864 ``Ed25519`` alg.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, OKPKey
from verifier_helpers import DAY, make_claims, segment

from licensing.signing.jws import Signer, armor
from licensing.signing.keys import KeyStore
from licensing.verify import Keyring, LicenseError, _b64url_decode, jwk_thumbprint, unarmor, verify

# joserfc warns that RFC 9864 deprecates "EdDSA"; SPEC section 2 issues EdDSA on purpose (PyJWT knows no other).
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")

INSTALLATION = "inst-5a1d"


def current_claims(**overrides: Any) -> dict[str, Any]:
    """Claims valid by the real clock, since PyJWT checks iat, nbf and exp against it."""
    now = int(time.time())
    return make_claims(iat=now - 60, nbf=now - 60, exp=now + 30 * DAY, installation_id=INSTALLATION, **overrides)


def pem_private_key(keystore: KeyStore, kid: str) -> bytes:
    return (keystore.directory / f"{kid}.pem").read_bytes()


@pytest.fixture
def jwks(keystore: KeyStore) -> dict[str, Any]:
    # Round-trip through JSON text: the libraries get exactly what a product would bundle.
    document: dict[str, Any] = json.loads(json.dumps(keystore.jwks()))
    return document


# --- our files, their verifiers ------------------------------------------------------------------
def test_pyjwt_verifies_our_license_from_the_jwks_alone(signer: Signer, jwks: dict[str, Any]) -> None:
    claims = current_claims()
    compact = unarmor(signer.sign_license(claims))
    header = jwt.get_unverified_header(compact)
    assert header == {"alg": "EdDSA", "typ": "license+jwt", "kid": signer.kid}

    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    decoded = jwt.decode(compact, key=key, algorithms=["EdDSA"], options={"require": ["exp", "iat", "nbf"]})
    assert decoded == claims

    # The same through a single PyJWK built from the JWKS entry.
    single = jwt.PyJWK(jwks["keys"][0])
    assert jwt.decode(compact, key=single, algorithms=["EdDSA"]) == claims


def test_pyjwt_rejects_a_tampered_license(signer: Signer, jwks: dict[str, Any]) -> None:
    compact = unarmor(signer.sign_license(current_claims()))
    head, payload, signature = compact.split(".")
    forged_payload = json.loads(_b64url_decode(payload, "payload"))
    forged_payload["seats"] = 100_000
    forged = f"{head}.{segment(forged_payload)}.{signature}"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key=jwt.PyJWKSet.from_dict(jwks)[signer.kid], algorithms=["EdDSA"])


def test_joserfc_verifies_our_license_from_the_jwks_alone(signer: Signer, jwks: dict[str, Any]) -> None:
    claims = current_claims()
    compact = unarmor(signer.sign_license(claims))
    key_set = KeySet.import_key_set(jwks)
    token = jws.deserialize_compact(compact, key_set, algorithms=["EdDSA"])
    assert token.headers() == {"alg": "EdDSA", "typ": "license+jwt", "kid": signer.kid}
    assert json.loads(token.payload) == claims


def test_joserfc_rejects_a_tampered_license(signer: Signer, jwks: dict[str, Any]) -> None:
    compact = unarmor(signer.sign_license(current_claims()))
    head, payload, signature = compact.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(f"{head}.{payload}.{flipped}", KeySet.import_key_set(jwks), algorithms=["EdDSA"])


def test_our_revocation_list_verifies_with_pyjwt_and_joserfc(signer: Signer, jwks: dict[str, Any]) -> None:
    claims = {"iss": "test-issuer", "iat": int(time.time()) - 5, "ver": 1, "revoked": [{"jti": "x", "revoked_at": 1}]}
    compact = unarmor(signer.sign_revocations(claims), "LICENSE REVOCATIONS")
    assert jwt.decode(compact, key=jwt.PyJWKSet.from_dict(jwks)[signer.kid], algorithms=["EdDSA"]) == claims
    token = jws.deserialize_compact(compact, KeySet.import_key_set(jwks), algorithms=["EdDSA"])
    assert token.headers()["typ"] == "license-revocations+jwt"
    assert json.loads(token.payload) == claims


# --- their files, our verifier -------------------------------------------------------------------
def test_license_signed_by_pyjwt_is_accepted(keystore: KeyStore, signer: Signer, keyring: Keyring) -> None:
    claims = current_claims(jti="lic_pyjwt")
    private_pem = pem_private_key(keystore, signer.kid)
    compact = jwt.encode(claims, private_pem, algorithm="EdDSA", headers={"typ": "license+jwt", "kid": signer.kid})
    assert jwt.get_unverified_header(compact)["alg"] == "EdDSA"
    for text in (armor(compact), compact):
        lic = verify(text, keyring, installation_id=INSTALLATION)
        assert lic.status == "valid"
        assert lic.id == "lic_pyjwt"
        assert lic.claims == claims
        assert lic.key_id == signer.kid


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_license_signed_by_joserfc_is_accepted(keystore: KeyStore, signer: Signer, keyring: Keyring, alg: str) -> None:
    """joserfc also emits RFC 9864's fully-specified ``Ed25519``; the verifier accepts both names."""
    claims = current_claims(jti=f"lic_joserfc_{alg}")
    key = OKPKey.import_key(pem_private_key(keystore, signer.kid))
    header = {"alg": alg, "typ": "license+jwt", "kid": signer.kid}
    compact = jws.serialize_compact(header, json.dumps(claims), key, algorithms=[alg])
    assert jwt.get_unverified_header(compact)["alg"] == alg
    for text in (armor(compact), compact):
        lic = verify(text, keyring, installation_id=INSTALLATION)
        assert lic.status == "valid"
        assert lic.id == f"lic_joserfc_{alg}"
        assert lic.claims == claims


def test_license_from_other_libraries_still_needs_a_known_key(signer: Signer, keyring: Keyring) -> None:
    stranger = Ed25519PrivateKey.generate()
    compact = jwt.encode(
        current_claims(), stranger, algorithm="EdDSA", headers={"typ": "license+jwt", "kid": signer.kid}
    )
    with pytest.raises(LicenseError) as caught:
        verify(compact, keyring, installation_id=INSTALLATION)
    assert caught.value.code == "bad_signature"


def test_pem_file_holds_the_key_the_jwks_publishes(keystore: KeyStore, signer: Signer) -> None:
    """The keystore's ``<kid>.pem`` is the key behind the JWKS entry, and kid is its RFC 7638 thumbprint."""
    key = load_pem_private_key(pem_private_key(keystore, signer.kid), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    entry = keystore.jwks()["keys"][0]
    assert OKPKey.import_key(key.public_key()).as_dict()["x"] == entry["x"]
    assert jwk_thumbprint(entry["x"]) == entry["kid"] == signer.kid
    assert OKPKey.import_key(entry).thumbprint() == signer.kid


# --- RFC 8037 appendix A -------------------------------------------------------------------------
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_A4_JWS = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


def test_thumbprint_matches_rfc8037_a3() -> None:
    assert jwk_thumbprint(RFC8037_X) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_keyring_reads_the_rfc8037_key_and_checks_its_a4_signature() -> None:
    """The RFC's own JWS verifies with the key as Keyring decodes it; the file itself is no license (no typ)."""
    keyring = Keyring.from_jwks({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}]})
    assert keyring.key_ids == {"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"}
    head, payload, signature = RFC8037_A4_JWS.split(".")
    kid = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert keyring._verify(kid, _b64url_decode(signature, "s"), f"{head}.{payload}".encode()) == kid
    with pytest.raises(LicenseError) as caught:
        verify(RFC8037_A4_JWS, keyring)
    assert caught.value.code == "unsupported"
