"""Key rotation never invalidates licenses already issued (SPEC section 2, key states).

A key is published (pending) before it signs; after ``rotate`` new licenses carry the new kid, and
licenses signed by the now-previous key still verify against the new JWKS, until that key is
retired (withdrawn from the JWKS), after which they are ``unknown_key``.
"""

from __future__ import annotations

import base64
import json

import pytest
from verifier_helpers import NOW, make_license

from licensing.signing.keys import KeyStore
from licensing.verify import Keyring, LicenseError, load_revocations, unarmor, verify


def kid_of(text: str) -> str:
    head = unarmor(text).split(".")[0]
    kid: str = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]
    return kid


def test_rotation_keeps_old_licenses_valid_until_the_key_is_retired(keystore: KeyStore) -> None:
    first = keystore.signer()
    old_license = make_license(first, jti="lic_old")
    assert kid_of(old_license) == first.kid

    pending = keystore.generate()
    assert pending.state == "pending"
    # Published before it signs: a build made now already knows the next key.
    jwks_before_rotation = Keyring.from_jwks(keystore.jwks())
    assert jwks_before_rotation.key_ids == {first.kid, pending.kid}
    assert keystore.signer().kid == first.kid  # pending keys do not sign

    result = keystore.rotate()
    assert not result.created
    assert result.active.kid == pending.kid
    assert result.previous is not None and result.previous.kid == first.kid
    assert {k.kid: k.state for k in keystore.list_keys()} == {first.kid: "previous", pending.kid: "active"}

    new_signer = keystore.signer()
    assert new_signer.kid == pending.kid
    new_license = make_license(new_signer, jti="lic_new")
    assert kid_of(new_license) == pending.kid

    new_jwks = Keyring.from_jwks(json.dumps(keystore.jwks()))
    assert new_jwks.key_ids == {first.kid, pending.kid}
    assert verify(old_license, new_jwks, now=NOW).id == "lic_old"
    assert verify(new_license, new_jwks, now=NOW).id == "lic_new"
    # An install built before the rotation (but after the key was published) knows both too.
    assert verify(new_license, jwks_before_rotation, now=NOW).key_id == pending.kid
    # One built before the new key existed does not know the new licenses.
    with pytest.raises(LicenseError) as caught:
        verify(new_license, Keyring.from_jwks({"keys": [k for k in keystore.jwks()["keys"] if k["kid"] == first.kid]}))
    assert caught.value.code == "unknown_key"

    keystore.retire(first.kid)
    retired_jwks = Keyring.from_jwks(keystore.jwks())
    assert retired_jwks.key_ids == {pending.kid}
    with pytest.raises(LicenseError) as caught:
        verify(old_license, retired_jwks, now=NOW)
    assert caught.value.code == "unknown_key"
    assert first.kid in caught.value.message
    assert verify(new_license, retired_jwks, now=NOW).status == "valid"


def test_rotation_without_a_pending_key_makes_one(keystore: KeyStore) -> None:
    first = keystore.signer()
    old_license = make_license(first)
    result = keystore.rotate()
    assert result.created
    assert keystore.signer().kid == result.active.kid != first.kid
    keyring = Keyring.from_jwks(keystore.jwks())
    assert verify(old_license, keyring, now=NOW).key_id == first.kid
    assert verify(make_license(keystore.signer()), keyring, now=NOW).key_id == result.active.kid


def test_revocation_lists_follow_the_active_key(keystore: KeyStore) -> None:
    keystore.generate()
    keystore.rotate()
    text = keystore.signer().sign_revocations({"iss": "i", "iat": NOW, "ver": 1, "revoked": []})
    assert load_revocations(text, Keyring.from_jwks(keystore.jwks())).key_id == keystore.signer().kid
