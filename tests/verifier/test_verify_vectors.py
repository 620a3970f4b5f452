"""The conformance vectors (tests/vectors/) replay against the Python verifier, and regenerate identically.

``manifest.json`` is the one suite the Python, Go and TypeScript verifiers each replay in full (the
Go and TypeScript replays run in ``make test``, as ``make test-go`` and ``make test-ts``). Its sections: license ``vectors`` (file, time, installation id, revocation list,
JWKS, the expected status and what is read, or the code), ``revocation_lists``, ``keyrings`` and
``flips`` (every byte of one license and one revocation list changed). The generator uses fixed seeds
and fixed times, and Ed25519 is deterministic, so regenerating must give the same bytes; only public
key material is committed (the seeds live in generate.py, as test-only material).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from licensing.verify import (
    ERROR_CODES,
    Keyring,
    KeyringError,
    License,
    LicenseError,
    RevocationList,
    load_revocations,
    unarmor,
    verify,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
HAND_WRITTEN = {"generate.py", "README.md"}
MANIFEST = json.loads((VECTORS / "manifest.json").read_text("utf-8"))


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("licensing_test_vectors_generate", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def moment(at: str | int) -> datetime | int:
    return at if isinstance(at, int) else datetime.fromisoformat(at.replace("Z", "+00:00"))


def rfc3339(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_bytes(name: str, pad: Mapping[str, Any] | None = None) -> bytes:
    """A vector file's bytes; ``pad`` appends its character until the text has ``to`` characters."""
    data = (VECTORS / name).read_bytes()
    if pad is None:
        return data
    text = data.decode("utf-8")
    assert len(text) <= pad["to"]
    return (text + pad["with"] * (pad["to"] - len(text))).encode("utf-8")


def forms(data: bytes) -> list[str | bytes]:
    """The input as bytes, and as text when it is UTF-8."""
    try:
        return [data, data.decode("utf-8")]
    except UnicodeDecodeError:
        return [data]


def keyring_of(name: str) -> Keyring:
    return Keyring.from_jwks((VECTORS / name).read_bytes())


def license_view(lic: License) -> dict[str, Any]:
    return {
        "ok": True,
        "status": lic.status,
        "id": lic.id,
        "expires_at": rfc3339(lic.expires_at),
        "grace_ends_at": rfc3339(lic.grace_ends_at),
        "issued_at": rfc3339(lic.issued_at),
        "not_before": rfc3339(lic.not_before),
        "issuer": lic.issuer,
        "subject": lic.subject,
        "tier": lic.tier,
        "trial": lic.trial,
        "seats": lic.seats,
        "features": list(lic.features),
        "grace_days": lic.grace_days,
        "customer": {k: lic.customer.get(k) or "" for k in ("name", "email", "company")},
        "installation_id": lic.installation_id,
        "subscription_id": lic.subscription_id,
        "supersedes": lic.supersedes,
        "key_id": lic.key_id,
    }


def revocations_view(rl: RevocationList) -> dict[str, Any]:
    return {
        "ok": True,
        "issuer": rl.issuer,
        "issued_at": rfc3339(rl.issued_at),
        "seq": rl.seq,  # type: ignore[attr-defined]  # SPEC section 3: on main once the verify work lands
        "count": len(rl),
        "revoked": {jti: rfc3339(at) for jti, at in sorted(rl.revoked.items())},
        "key_id": rl.key_id,
    }


def license_outcome(vector: dict[str, Any], text: str | bytes) -> dict[str, Any]:
    keyring = keyring_of(vector.get("jwks", MANIFEST["jwks"]))
    revocations = vector.get("revocations")
    try:
        lic = verify(
            text,
            keyring,
            now=moment(vector["at"]),
            installation_id=vector.get("installation_id"),
            revocations=None
            if revocations is None
            else file_bytes(revocations, vector.get("revocations_pad")).decode("utf-8"),
        )
    except LicenseError as exc:
        return {"ok": False, "code": exc.code}
    return license_view(lic)


VECTOR_IDS = [v["name"] for v in MANIFEST["vectors"]]


@pytest.mark.parametrize("vector", MANIFEST["vectors"], ids=VECTOR_IDS)
def test_license_vector(vector: dict[str, Any]) -> None:
    for text in forms(file_bytes(vector["file"], vector.get("pad"))):
        assert license_outcome(vector, text) == vector["expect"], type(text).__name__


@pytest.mark.parametrize("vector", MANIFEST["revocation_lists"], ids=[v["name"] for v in MANIFEST["revocation_lists"]])
def test_revocation_list_vector(vector: dict[str, Any]) -> None:
    keyring = keyring_of(MANIFEST["jwks"])
    for text in forms(file_bytes(vector["file"], vector.get("pad"))):
        try:
            outcome = revocations_view(load_revocations(text, keyring))
        except LicenseError as exc:
            outcome = {"ok": False, "code": exc.code}
        assert outcome == vector["expect"], type(text).__name__


@pytest.mark.parametrize("vector", MANIFEST["keyrings"], ids=[v["name"] for v in MANIFEST["keyrings"]])
def test_keyring_vector(vector: dict[str, Any]) -> None:
    try:
        outcome = {"ok": True, "kids": sorted(Keyring.from_jwks(vector["jwks"].encode("utf-8")).key_ids)}
    except KeyringError:
        outcome = {"ok": False}
    assert outcome == vector["expect"]


@pytest.mark.parametrize("flips", MANIFEST["flips"], ids=[f["name"] for f in MANIFEST["flips"]])
def test_byte_flips(flips: dict[str, Any]) -> None:
    """Every flipped byte gives the recorded code; a flip that is accepted reads as the same file."""
    keyring = keyring_of(MANIFEST["jwks"])
    data = file_bytes(flips["file"])

    def read(d: bytes) -> Any:
        if flips["kind"] == "license":
            return verify(d, keyring, now=flips["at"], installation_id=flips.get("installation_id")).claims
        rl = load_revocations(d, keyring)
        return (rl.issuer, rl.issued_at, rl.revoked)

    original = read(data)
    wrong = []
    for offset, xor, expected in flips["rows"]:
        mutated = data[:offset] + bytes([data[offset] ^ xor]) + data[offset + 1 :]
        try:
            got = "ok" if read(mutated) == original else "accepted as another file"
        except LicenseError as exc:
            got = exc.code
        if got != expected:
            wrong.append(f"byte {offset} ^ {xor:#04x}: {got}, expected {expected}")
    assert not wrong, "\n".join(wrong[:40])
    assert len(flips["rows"]) == 3 * len(data)


def test_a_list_that_fails_to_load_is_the_outcome() -> None:
    """Go and TypeScript load the list before verifying; Python verifies the license first. The vectors
    pair a list that fails to load only with licenses that pass every check before revocation, so the
    order cannot change an outcome."""
    keyring = keyring_of(MANIFEST["jwks"])
    for vector in MANIFEST["vectors"]:
        if "revocations" not in vector:
            continue
        try:
            load_revocations(file_bytes(vector["revocations"], vector.get("revocations_pad")), keyring)
            continue
        except LicenseError as exc:
            code = exc.code
        assert vector["expect"] == {"ok": False, "code": code}, vector["name"]
        alone = license_outcome({k: v for k, v in vector.items() if k != "revocations"}, file_bytes(vector["file"]))
        assert alone["ok"] or alone["code"] in {"installation_mismatch", "expired", "clock_skew", "not_yet_valid"}


def test_vectors_cover_every_error_code_and_both_statuses() -> None:
    expected = [v["expect"] for v in MANIFEST["vectors"]]
    assert {e["code"] for e in expected if not e["ok"]} == ERROR_CODES
    assert {e["status"] for e in expected if e["ok"]} == {"valid", "grace"}
    assert {type(v["at"]) for v in MANIFEST["vectors"]} == {str, int}  # both forms of "at"
    names = [v["name"] for section in ("vectors", "revocation_lists", "keyrings", "flips") for v in MANIFEST[section]]
    assert len(names) == len(set(names))


def test_every_file_is_used_and_every_reference_exists() -> None:
    referenced = {MANIFEST["jwks"]}
    for section in ("vectors", "revocation_lists", "flips"):
        referenced |= {v["file"] for v in MANIFEST[section]}
    referenced |= {v[k] for v in MANIFEST["vectors"] for k in ("revocations", "jwks") if k in v}
    committed = {p.name for p in VECTORS.iterdir() if p.is_file()} - HAND_WRITTEN - {"manifest.json"}
    assert referenced == committed


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_accepted_eddsa_vectors_verify_with_pyjwt_and_joserfc() -> None:
    """Independent libraries agree on the signatures (times aside: the vectors' times are fixed)."""
    jwks = json.loads((VECTORS / MANIFEST["jwks"]).read_text("utf-8"))
    pyjwt_keys, joserfc_keys = jwt.PyJWKSet.from_dict(jwks), KeySet.import_key_set(jwks)
    files = {v["file"] for v in MANIFEST["vectors"] if v["expect"]["ok"] and "jwks" not in v}
    checked = 0
    for name in sorted(files):
        try:
            compact = unarmor((VECTORS / name).read_text("utf-8"))
            header = jwt.get_unverified_header(compact)
        except (ValueError, jwt.exceptions.PyJWTError):
            continue  # armor only this verifier tolerates, or JSON only Python's json module reads
        if header.get("alg") != "EdDSA" or not set(header) <= {"alg", "typ", "kid", "cty", "x5u"}:
            # joserfc rightly refuses alg Ed25519 with a JWK that says "alg": "EdDSA" (RFC 7517 section 4.4),
            # and header parameters it does not know.
            continue
        decoded = jwt.decode(
            compact,
            pyjwt_keys[header["kid"]],
            algorithms=["EdDSA"],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
        assert json.loads(jws.deserialize_compact(compact, joserfc_keys, algorithms=["EdDSA"]).payload) == decoded
        checked += 1
    assert checked >= 30


def test_only_public_key_material_is_committed() -> None:
    for name in [MANIFEST["jwks"], *{v["jwks"] for v in MANIFEST["vectors"] if "jwks" in v}]:
        for key in json.loads((VECTORS / name).read_text("utf-8"))["keys"]:
            assert "d" not in key
    # The vectors' key is RFC 8037 appendix A's: its kid is the thumbprint the RFC gives.
    assert json.loads((VECTORS / MANIFEST["jwks"]).read_text("utf-8"))["keys"][0]["kid"] == (
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    )
    for path in VECTORS.iterdir():
        if path.is_file() and path.name != "generate.py":
            assert b"PRIVATE KEY" not in path.read_bytes(), path.name


def test_regenerating_gives_identical_bytes(tmp_path: Path) -> None:
    generator = load_generator()
    generator.generate(tmp_path)
    generated = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in VECTORS.iterdir() if p.is_file() and p.name not in HAND_WRITTEN}
    assert sorted(generated) == sorted(committed)
    for name, data in committed.items():
        assert generated[name] == data, f"{name} differs from what generate.py writes: run it and review the diff"
    # And twice in a row, in the same process: nothing depends on the clock or on randomness.
    assert generator.build() == generator.build()
