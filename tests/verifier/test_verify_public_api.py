"""The verifier's public names, and the rule that the service uses no other.

The service (licensing/, api/, billing/) shares the verifier's envelope code: it reads back license
files it is given and encodes keys and signatures in base64url. It does so through documented
public names, ``decode_jws`` and ``b64url_encode``, so the verifier may change its private ones
freely: a self-hosted product upgrading ``licensing-verifier`` must not break the service's build.
"""

from __future__ import annotations

import ast
import base64
from pathlib import Path

import pytest
from verifier_helpers import NOW, make_claims

import licensing.verify
from licensing.signing.jws import Signer
from licensing.verify import (
    LICENSE_LABEL,
    LICENSE_TYP,
    REVOCATIONS_LABEL,
    REVOCATIONS_TYP,
    Keyring,
    LicenseError,
    b64url_encode,
    decode_jws,
    verify,
)

ROOT = Path(__file__).resolve().parents[2]
SERVICE_PACKAGES = ("licensing", "api", "billing")


def private_verifier_names_used(path: Path) -> list[str]:
    """``name (line N)`` for each private name of licensing.verify the file imports or reads."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    module_aliases: set[str] = set()  # names bound to the licensing.verify module itself
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "licensing.verify":
            found += [f"{alias.name} (line {node.lineno})" for alias in node.names if alias.name.startswith("_")]
        elif isinstance(node, ast.ImportFrom) and node.module == "licensing":
            module_aliases |= {alias.asname or alias.name for alias in node.names if alias.name == "verify"}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "licensing.verify":
                    module_aliases.add(alias.asname or "licensing.verify")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and ast.unparse(node.value) in module_aliases
        ):
            found.append(f"{node.attr} (line {node.lineno})")
    return found


def service_files() -> list[Path]:
    files = [path for package in SERVICE_PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    return [path for path in files if path != ROOT / "licensing" / "verify.py"]


def test_the_service_imports_no_private_name_of_the_verifier() -> None:
    files = service_files()
    assert len(files) > 10  # the walk found the service
    offenders = {str(path.relative_to(ROOT)): names for path in files if (names := private_verifier_names_used(path))}
    assert not offenders, f"private names of licensing.verify used by the service: {offenders}"


def test_the_check_catches_every_way_of_reaching_a_private_name(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from licensing.verify import _decode\n"
        "from licensing.verify import (\n    Keyring,\n    _b64url_encode as enc,\n)\n"
        "import licensing.verify\nlicensing.verify._b64url_decode\n"
        "from licensing import verify as v\nv._HEADER_KIDS\nv.__name__\n"
        "from licensing.verify import b64url_encode\n"
    )
    names = [name.split()[0] for name in private_verifier_names_used(sample)]
    assert sorted(names) == ["_HEADER_KIDS", "_b64url_decode", "_b64url_encode", "_decode"]


@pytest.mark.parametrize("name", ["b64url_encode", "decode_jws"])
def test_the_shared_helpers_are_public_and_documented(name: str) -> None:
    assert name in licensing.verify.__all__
    doc = getattr(licensing.verify, name).__doc__
    assert doc and "service" in doc  # says who relies on it, so nobody "tidies" it away


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xfb\xff", bytes(range(256)), b"license" * 7])
def test_b64url_encode_is_unpadded_base64url(data: bytes) -> None:
    encoded = b64url_encode(data)
    assert encoded == base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
    assert isinstance(encoded, str)


def test_decode_jws_returns_the_verified_claims_and_key_id(signer: Signer, keyring: Keyring) -> None:
    claims = make_claims()
    text = signer.sign_license(claims)
    assert decode_jws(text, LICENSE_LABEL, LICENSE_TYP, keyring) == (claims, signer.kid)
    listing = {"iss": "test-issuer", "iat": NOW, "ver": 1, "seq": 2, "revoked": []}
    assert decode_jws(signer.sign_revocations(listing), REVOCATIONS_LABEL, REVOCATIONS_TYP, keyring) == (
        listing,
        signer.kid,
    )


def test_decode_jws_checks_envelope_and_signature_only(signer: Signer, keyring: Keyring) -> None:
    """Claims beyond ver are the caller's to judge: an expired license still decodes."""
    expired = signer.sign_license(make_claims(exp=NOW - 400 * 86_400, iat=NOW - 800 * 86_400, nbf=NOW - 800 * 86_400))
    claims, _kid = decode_jws(expired, LICENSE_LABEL, LICENSE_TYP, keyring)
    assert claims["exp"] == NOW - 400 * 86_400
    with pytest.raises(LicenseError) as caught:
        verify(expired, keyring, now=NOW)
    assert caught.value.code == "expired"
    for text, code in (
        ("garbage", "malformed"),
        (signer.sign_license(make_claims(ver=2)), "unsupported"),
        (signer.sign_revocations({"iss": "i", "iat": NOW, "ver": 1, "revoked": []}), "malformed"),
    ):
        with pytest.raises(LicenseError) as caught:
            decode_jws(text, LICENSE_LABEL, LICENSE_TYP, keyring)
        assert caught.value.code == code
