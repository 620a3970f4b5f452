"""Revocation lists (SPEC sections 2 and 3): ``seq``, a size limit of their own, and speed at scale.

``seq`` grows by one with every re-signing, so an installation keeps the newest list it has seen; a
list without it (from an older service) reads as 0. A list of 100,000 entries (about 8.5 MB armored)
is accepted whole; a loaded list makes ``verify`` no slower, however long it is. A license file keeps
its own, much smaller, limit. How long signing and loading such a list take is measured (not asserted)
by ``benchmarks/revocations.py``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from verifier_helpers import DAY, NOW, OMIT, make_claims

from licensing.signing.jws import Signer
from licensing.signing.keys import public_x
from licensing.verify import (
    MAX_INPUT_CHARS,
    MAX_REVOCATIONS_CHARS,
    REVOCATIONS_LABEL,
    Keyring,
    LicenseError,
    RevocationList,
    jwk_thumbprint,
    load_revocations,
    verify,
)

ENTRIES = 100_000
# The ids the service gives: "lic_" and 26 characters of Crockford's base32 (a ULID).
ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def license_ids(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return ["lic_" + "".join(rng.choices(ULID_ALPHABET, k=26)) for _ in range(count)]


def list_claims(jtis: list[str], **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "test-issuer",
        "iat": NOW - DAY,
        "ver": 1,
        "seq": 41,
        "revoked": [{"jti": jti, "revoked_at": NOW - DAY - n} for n, jti in enumerate(jtis)],
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not OMIT}


@pytest.fixture(scope="module")
def module_signer() -> Signer:
    private_key = Ed25519PrivateKey.generate()
    return Signer(jwk_thumbprint(public_x(private_key.public_key())), private_key)


@pytest.fixture(scope="module")
def module_keyring(module_signer: Signer) -> Keyring:
    x = public_x(module_signer.private_key.public_key())
    return Keyring.from_jwks({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": module_signer.kid}]})


@pytest.fixture(scope="module")
def big_ids() -> list[str]:
    return license_ids(ENTRIES)


@pytest.fixture(scope="module")
def big_list(module_signer: Signer, big_ids: list[str]) -> str:
    return module_signer.sign_revocations(list_claims(big_ids))


# --- seq -----------------------------------------------------------------------------------------
def test_seq_is_read(module_signer: Signer, module_keyring: Keyring) -> None:
    for seq in (0, 1, 41, 2**53):
        revocations = load_revocations(module_signer.sign_revocations(list_claims(["lic_1"], seq=seq)), module_keyring)
        assert revocations.seq == seq
        assert type(revocations.seq) is int


def test_a_list_without_seq_from_an_older_service_reads_as_seq_0(
    module_signer: Signer, module_keyring: Keyring
) -> None:
    revocations = load_revocations(module_signer.sign_revocations(list_claims(["lic_1"], seq=OMIT)), module_keyring)
    assert revocations.seq == 0
    assert "lic_1" in revocations


@pytest.mark.parametrize("seq", [-1, True, False, None, 1.0, 1.5, "3", [], {}, -(2**63)])
def test_seq_that_is_not_a_whole_number_is_malformed(module_signer: Signer, module_keyring: Keyring, seq: Any) -> None:
    with pytest.raises(LicenseError) as caught:
        load_revocations(module_signer.sign_revocations(list_claims(["lic_1"], seq=seq)), module_keyring)
    assert caught.value.code == "malformed"
    assert "seq" in caught.value.message


def test_the_revocation_list_object(module_signer: Signer, module_keyring: Keyring) -> None:
    ids = ["lic_a", "lic_b", "lic_c"]
    revocations = load_revocations(module_signer.sign_revocations(list_claims(ids, seq=3)), module_keyring)
    assert isinstance(revocations, RevocationList)
    assert (revocations.issuer, revocations.key_id, revocations.seq) == ("test-issuer", module_signer.kid, 3)
    assert revocations.issued_at == datetime.fromtimestamp(NOW - DAY, UTC)
    assert len(revocations) == 3
    assert "lic_b" in revocations and "lic_d" not in revocations and 5 not in revocations
    assert sorted(revocations) == ids
    assert revocations.revoked == {jti: datetime.fromtimestamp(NOW - DAY - n, UTC) for n, jti in enumerate(ids)}
    assert revocations.revoked_at("lic_c") == datetime.fromtimestamp(NOW - DAY - 2, UTC)
    assert revocations.revoked_at("lic_d") is None
    assert "seq 3" in repr(revocations) and "3 licenses" in repr(revocations)


# --- size ----------------------------------------------------------------------------------------
def test_the_limits(big_list: str) -> None:
    assert MAX_REVOCATIONS_CHARS >= 64 * 1024 * 1024 > 50 * MAX_INPUT_CHARS
    assert len(big_list) > 8 * MAX_INPUT_CHARS  # the list below is far over a license file's limit


def test_a_list_of_100000_entries_is_accepted_whole(big_list: str, big_ids: list[str], module_keyring: Keyring) -> None:
    for text in (big_list, big_list.encode()):
        revocations = load_revocations(text, module_keyring)
        assert len(revocations) == ENTRIES
        assert revocations.seq == 41
        assert big_ids[0] in revocations and big_ids[-1] in revocations and "lic_0" not in revocations


def test_a_list_over_its_own_limit_is_malformed(module_keyring: Keyring) -> None:
    oversized = "-----BEGIN LICENSE REVOCATIONS-----\n" + "A" * MAX_REVOCATIONS_CHARS + "\n"
    for text in (oversized, oversized.encode()):
        with pytest.raises(LicenseError) as caught:
            load_revocations(text, module_keyring)
        assert caught.value.code == "malformed"
        assert "too large" in caught.value.message and "revocation list" in caught.value.message


def test_a_license_file_keeps_its_own_limit(module_signer: Signer, module_keyring: Keyring) -> None:
    padded = module_signer.sign_license(make_claims(customer={"name": "x" * MAX_INPUT_CHARS}))
    with pytest.raises(LicenseError) as caught:
        verify(padded, module_keyring, now=NOW)
    assert caught.value.code == "malformed"
    assert "too large" in caught.value.message and "license file" in caught.value.message


# --- speed ---------------------------------------------------------------------------------------
def test_a_license_in_the_middle_of_a_loaded_list_is_revoked(
    module_signer: Signer, module_keyring: Keyring, big_list: str, big_ids: list[str]
) -> None:
    """Whether verifying costs the same with 100,000 entries as with one is measured by
    benchmarks/revocations.py (tests never assert on time)."""
    big = load_revocations(big_list, module_keyring)
    revoked_text = module_signer.sign_license(make_claims(jti=big_ids[ENTRIES // 2]))
    with pytest.raises(LicenseError) as caught:
        verify(revoked_text, module_keyring, now=NOW, revocations=big)
    assert caught.value.code == "revoked"
    license_text = module_signer.sign_license(make_claims(jti="lic_not_revoked"))
    assert verify(license_text, module_keyring, now=NOW, revocations=big).id == "lic_not_revoked"


def test_header_of_a_revocation_list_is_what_the_service_writes(big_list: str) -> None:
    assert big_list.startswith(f"-----BEGIN {REVOCATIONS_LABEL}-----\n")
    assert all(len(line) <= 64 for line in big_list.splitlines()[1:-1])
