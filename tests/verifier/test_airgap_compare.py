"""compare(old, new) beyond the conformance vectors: its arguments, and a cnf it cannot read."""

from __future__ import annotations

import pytest
from verifier_helpers import NOW, make_claims

from licensing.airgap import compare
from licensing.signing.jws import Signer
from licensing.verify import Keyring, verify


def test_compare_takes_verified_licenses(signer: Signer, keyring: Keyring) -> None:
    lic = verify(signer.sign_license(make_claims()), keyring, now=NOW)
    with pytest.raises(TypeError, match="verified licenses"):
        compare(lic, signer.sign_license(make_claims()))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        compare({}, lic)  # type: ignore[arg-type]


def test_a_cnf_without_a_thumbprint_reads_as_unbound(signer: Signer, keyring: Keyring) -> None:
    old = verify(signer.sign_license(make_claims(jti="lic_a")), keyring, now=NOW)
    new = verify(signer.sign_license(make_claims(jti="lic_b", supersedes="lic_a", cnf={"jkt": 7})), keyring, now=NOW)
    assert str(compare(old, new)) == "no changes"
    bound = verify(
        signer.sign_license(make_claims(jti="lic_c", supersedes="lic_a", cnf={"jkt": "abc"})), keyring, now=NOW
    )
    comparison = compare(old, bound)
    assert comparison.changes == [{"field": "cnf_jkt", "old": None, "new": "abc"}]
    assert str(comparison) == "installation key: none -> abc"
    assert repr(comparison) == "<Comparison 1 changes, 0 warnings>"


def test_features_are_compared_as_sets(signer: Signer, keyring: Keyring) -> None:
    old = verify(signer.sign_license(make_claims(jti="lic_a", features=["b", "a"])), keyring, now=NOW)
    new = verify(
        signer.sign_license(make_claims(jti="lic_b", supersedes="lic_a", features=["a", "b"])), keyring, now=NOW
    )
    assert compare(old, new).changes == []
