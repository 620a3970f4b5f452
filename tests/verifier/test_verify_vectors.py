"""The committed test vectors (tests/vectors/) replay against ``verify``, and regenerate identically.

``manifest.json`` lists each vector: the file, the time to verify at, an installation id and a
revocation list when it matters, and the expected status or error code. The generator uses a fixed
seed and fixed times, and Ed25519 is deterministic, so regenerating must give the same bytes; only
public key material is committed (the seed lives in generate.py, as test-only material).
"""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from licensing.verify import Keyring, LicenseError, load_revocations, unarmor, verify

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


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring.from_jwks((VECTORS / MANIFEST["jwks"]).read_bytes())


def outcome(vector: dict[str, Any], keyring: Keyring, as_bytes: bool) -> dict[str, Any]:
    data = (VECTORS / vector["file"]).read_bytes()
    revocations = vector.get("revocations")
    try:
        lic = verify(
            data if as_bytes else data.decode("utf-8"),
            keyring,
            now=moment(vector["at"]),
            installation_id=vector.get("installation_id"),
            revocations=None if revocations is None else (VECTORS / revocations).read_text("utf-8"),
        )
    except LicenseError as exc:
        return {"ok": False, "code": exc.code}
    return {
        "ok": True,
        "status": lic.status,
        "id": lic.id,
        "expires_at": rfc3339(lic.expires_at),
        "grace_ends_at": rfc3339(lic.grace_ends_at),
    }


@pytest.mark.parametrize("vector", MANIFEST["vectors"], ids=[v["name"] for v in MANIFEST["vectors"]])
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_vector(vector: dict[str, Any], keyring: Keyring, as_bytes: bool) -> None:
    assert outcome(vector, keyring, as_bytes) == vector["expect"]


def test_vectors_cover_every_error_code_and_both_statuses() -> None:
    from licensing.verify import ERROR_CODES

    expected = [v["expect"] for v in MANIFEST["vectors"]]
    assert {e["code"] for e in expected if not e["ok"]} == ERROR_CODES
    assert {e["status"] for e in expected if e["ok"]} == {"valid", "grace"}
    assert {type(v["at"]) for v in MANIFEST["vectors"]} == {str, int}  # both forms of "at"


def test_every_file_is_used_and_every_reference_exists() -> None:
    referenced = {MANIFEST["jwks"]} | {v["file"] for v in MANIFEST["vectors"]}
    referenced |= {v["revocations"] for v in MANIFEST["vectors"] if "revocations" in v}
    committed = {p.name for p in VECTORS.iterdir() if p.is_file()} - HAND_WRITTEN - {"manifest.json"}
    assert referenced == committed


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_accepted_eddsa_vectors_verify_with_pyjwt_and_joserfc() -> None:
    """Independent libraries agree on the signatures (times aside: the vectors' times are fixed)."""
    jwks = json.loads((VECTORS / MANIFEST["jwks"]).read_text("utf-8"))
    pyjwt_keys, joserfc_keys = jwt.PyJWKSet.from_dict(jwks), KeySet.import_key_set(jwks)
    files = {v["file"] for v in MANIFEST["vectors"] if v["expect"]["ok"]}
    checked = 0
    for name in sorted(files):
        compact = unarmor((VECTORS / name).read_text("utf-8"))
        header = jwt.get_unverified_header(compact)
        if header["alg"] != "EdDSA":
            # joserfc rightly refuses alg Ed25519 with a JWK that says "alg": "EdDSA" (RFC 7517 section 4.4).
            continue
        claims = jwt.decode(
            compact,
            pyjwt_keys[header["kid"]],
            algorithms=["EdDSA"],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
        assert json.loads(jws.deserialize_compact(compact, joserfc_keys, algorithms=["EdDSA"]).payload) == claims
        checked += 1
    assert checked >= 8


def test_revocation_list_vector(keyring: Keyring) -> None:
    revocations = load_revocations((VECTORS / "revocations.lic").read_bytes(), keyring)
    assert set(revocations.revoked) == {"lic_revoked", "lic_0000"}


def test_only_public_key_material_is_committed() -> None:
    jwks = json.loads((VECTORS / MANIFEST["jwks"]).read_text("utf-8"))
    for key in jwks["keys"]:
        assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}  # no "d"
    # The vectors' key is RFC 8037 appendix A's: its kid is the thumbprint the RFC gives.
    assert jwks["keys"][0]["kid"] == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
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
