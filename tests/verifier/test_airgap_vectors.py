"""The air-gapped exchanges' conformance vectors (tests/vectors/airgap/) replay against licensing.airgap.

The same manifest is replayed by the Go and TypeScript libraries. Besides the replay: the files
regenerate identically, the Python writers make the very same bytes as the generator (which builds
them on its own from the contract), and every file is used.
"""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from licensing.airgap import (
    ACTIVATION_LABEL,
    USAGE_LABEL,
    InstallationKey,
    activation_request,
    compare,
    read_activation_request,
    read_usage_report,
    report_digest,
    usage_report,
    verify_receipt,
)
from licensing.verify import Keyring, LicenseError, unarmor, verify

AIRGAP = Path(__file__).resolve().parent.parent / "vectors" / "airgap"
MANIFEST = json.loads((AIRGAP / "manifest.json").read_text("utf-8"))
HAND_WRITTEN = {"generate.py"}


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("licensing_airgap_vectors_generate", AIRGAP / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def forms(name: str) -> list[str | bytes]:
    data = (AIRGAP / name).read_bytes()
    return [data, data.decode("utf-8")]


def keyring() -> Keyring:
    return Keyring.from_jwks((AIRGAP / MANIFEST["jwks"]).read_bytes())


def test_the_installation_key_loads_with_its_thumbprint() -> None:
    entry = MANIFEST["installation_key"]
    key = InstallationKey.from_pem((AIRGAP / entry["pem"]).read_text("ascii"))
    assert key.public_jwk == entry["jwk"]
    assert key.thumbprint == entry["thumbprint"]


def request_outcome(text: str | bytes) -> dict[str, Any]:
    try:
        request = read_activation_request(text)
    except LicenseError as exc:
        return {"ok": False, "code": exc.code}
    return {
        "ok": True,
        "installation_id": request.installation_id,
        "license_id": request.license_id,
        "product_version": request.product_version,
        "nonce": request.nonce,
        "iat": request.claims["iat"],
        "thumbprint": request.thumbprint,
    }


@pytest.mark.parametrize("vector", MANIFEST["requests"], ids=[v["name"] for v in MANIFEST["requests"]])
def test_request_vector(vector: dict[str, Any]) -> None:
    for text in forms(vector["file"]):
        assert request_outcome(text) == vector["expect"]


def report_outcome(text: str | bytes, jwk: dict[str, str]) -> dict[str, Any]:
    try:
        report = read_usage_report(text, jwk)
    except LicenseError as exc:
        return {"ok": False, "code": exc.code}
    return {
        "ok": True,
        "license_id": report.license_id,
        "installation_id": report.installation_id,
        "seq": report.seq,
        "prev": report.prev,
        "period": {"start": int(report.period_start.timestamp()), "end": int(report.period_end.timestamp())},
        "peak_users": report.peak_users,
        "daily": [list(pair) for pair in report.daily_seconds],
        "iat": int(report.issued_at.timestamp()),
        "thumbprint": report.thumbprint,
        "digest": report.digest,
    }


@pytest.mark.parametrize("vector", MANIFEST["reports"], ids=[v["name"] for v in MANIFEST["reports"]])
def test_report_vector(vector: dict[str, Any]) -> None:
    for text in forms(vector["file"]):
        assert report_outcome(text, vector["public_jwk"]) == vector["expect"]


def receipt_outcome(text: str | bytes, digest: str | None) -> dict[str, Any]:
    try:
        receipt = verify_receipt(text, keyring(), report_digest=digest)
    except LicenseError as exc:
        return {"ok": False, "code": exc.code}
    return {
        "ok": True,
        "installation_id": receipt.installation_id,
        "license_id": receipt.license_id,
        "seq": receipt.seq,
        "report": receipt.report,
        "peak_users": receipt.peak_users,
        "seats": receipt.seats,
        "overage": receipt.overage,
        "gap": receipt.gap,
        "issued_at": rfc3339(receipt.issued_at),
        "key_id": receipt.key_id,
    }


@pytest.mark.parametrize("vector", MANIFEST["receipts"], ids=[v["name"] for v in MANIFEST["receipts"]])
def test_receipt_vector(vector: dict[str, Any]) -> None:
    for text in forms(vector["file"]):
        assert receipt_outcome(text, vector.get("report_digest")) == vector["expect"]


def test_the_report_chain_holds() -> None:
    """Each report's prev is the digest of the one before, and receipts name their report's digest."""
    chain = ("report-1.lic", "report-2.lic", "report-3-empty.lic", "report-year.lic")
    by_seq = {v["expect"]["seq"]: v["expect"] for v in MANIFEST["reports"] if v["file"] in chain and v["expect"]["ok"]}
    assert sorted(by_seq) == [1, 2, 3, 4]
    for seq in (2, 3, 4):
        assert by_seq[seq]["prev"] == by_seq[seq - 1]["digest"]
    assert by_seq[1]["prev"] is None
    assert len(by_seq[4]["daily"]) == 365
    assert by_seq[1]["digest"] == report_digest((AIRGAP / "report-1.lic").read_text("ascii"))


def test_the_python_writers_make_the_same_bytes() -> None:
    """activation_request and usage_report, given the vectors' key, times and nonce, write the vectors' files."""
    generator = load_generator()
    key = InstallationKey.from_pem((AIRGAP / "installation-key.pem").read_bytes())
    request = json.loads(_payload((AIRGAP / "request.lic").read_text("ascii"), ACTIVATION_LABEL))
    made = activation_request(
        key,
        request["installation_id"],
        product_version=request["product_version"],
        license_id=request["license_id"],
        now=request["iat"],
        nonce=generator.NONCE,
    )
    assert made == (AIRGAP / "request.lic").read_text("ascii")
    for name in ("report-1.lic", "report-2.lic", "report-3-empty.lic", "report-year.lic"):
        claims = json.loads(_payload((AIRGAP / name).read_text("ascii"), USAGE_LABEL))
        made = usage_report(
            key,
            license_id=claims["license_id"],
            installation_id=claims["installation_id"],
            seq=claims["seq"],
            prev=claims.get("prev"),
            period_start=claims["period"]["start"],
            period_end=claims["period"]["end"],
            daily=[tuple(pair) for pair in claims["daily"]],
            now=claims["iat"],
        )
        assert made == (AIRGAP / name).read_text("ascii"), name


def _payload(text: str, label: str) -> bytes:
    from licensing.verify import b64url_decode

    return b64url_decode(unarmor(text, label).split(".")[1])


def test_every_error_code_a_reader_gives_is_covered() -> None:
    for section, codes in (
        ("requests", {"malformed", "unsupported", "bad_signature"}),
        ("reports", {"malformed", "unsupported", "unknown_key", "bad_signature"}),
        ("receipts", {"malformed", "unsupported", "unknown_key", "bad_signature"}),
    ):
        expected = [v["expect"] for v in MANIFEST[section]]
        assert {e["code"] for e in expected if not e["ok"]} == codes, section
        assert any(e["ok"] for e in expected)
    for section in ("requests", "reports", "receipts", "comparisons"):
        names = [v["name"] for v in MANIFEST[section]]
        assert len(names) == len(set(names)), section


def test_every_file_is_used() -> None:
    referenced = {MANIFEST["installation_key"]["pem"]}
    for section in ("requests", "reports", "receipts"):
        referenced |= {v["file"] for v in MANIFEST[section]}
    committed = {p.name for p in AIRGAP.iterdir() if p.is_file()} - HAND_WRITTEN - {"manifest.json"}
    assert referenced == committed
    for comparison in MANIFEST["comparisons"]:
        assert (AIRGAP / ".." / comparison["old"]).is_file()
        assert (AIRGAP / ".." / comparison["new"]).is_file()


def test_regenerating_gives_identical_bytes(tmp_path: Path) -> None:
    generator = load_generator()
    generator.generate(tmp_path)
    generated = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in AIRGAP.iterdir() if p.is_file() and p.name not in HAND_WRITTEN}
    assert sorted(generated) == sorted(committed)
    for name, data in committed.items():
        assert generated[name] == data, f"{name} differs from what generate.py writes: run it and review the diff"
    assert generator.build() == generator.build()


@pytest.mark.parametrize("vector", MANIFEST["comparisons"], ids=[v["name"] for v in MANIFEST["comparisons"]])
def test_comparison_vector(vector: dict[str, Any]) -> None:
    licenses = [
        verify(
            (AIRGAP / ".." / vector[side]).read_bytes(),
            keyring(),
            now=datetime.fromisoformat(vector["at"].replace("Z", "+00:00")),
            installation_id=vector.get("installation_id"),
        )
        for side in ("old", "new")
    ]
    comparison = compare(*licenses)
    expect = vector["expect"]
    assert comparison.changes == expect["changes"]
    assert comparison.warnings == expect["warnings"]
    assert comparison.lines == expect["text"]
    assert str(comparison) == "\n".join(expect["text"])


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_accepted_files_verify_with_pyjwt_and_joserfc() -> None:
    """Independent JOSE libraries agree on the signatures of every accepted request, report and receipt."""
    import jwt
    from joserfc import jws
    from joserfc.jwk import KeySet, OKPKey

    from licensing.airgap import RECEIPT_LABEL

    service_jwks = json.loads((AIRGAP / MANIFEST["jwks"]).read_text("utf-8"))
    checked = 0
    for section, label in (("requests", ACTIVATION_LABEL), ("reports", USAGE_LABEL), ("receipts", RECEIPT_LABEL)):
        for entry in MANIFEST[section]:
            if not entry["expect"]["ok"]:
                continue
            compact = unarmor((AIRGAP / entry["file"]).read_text("utf-8"), label)
            header = jwt.get_unverified_header(compact)
            if header["alg"] != "EdDSA":
                continue  # joserfc rightly refuses alg Ed25519 with a key that says EdDSA
            if section == "receipts":
                pyjwt_key = jwt.PyJWKSet.from_dict(service_jwks)[header["kid"]].key
                joserfc_key: Any = KeySet.import_key_set(service_jwks)
            else:
                jwk = header["jwk"] if section == "requests" else entry["public_jwk"]
                pyjwt_key = jwt.PyJWK(jwk, algorithm="EdDSA").key
                joserfc_key = OKPKey.import_key(jwk)
            decoded = jwt.api_jws.decode(compact, pyjwt_key, algorithms=["EdDSA"])
            assert json.loads(
                jws.deserialize_compact(compact, joserfc_key, algorithms=["EdDSA"]).payload
            ) == json.loads(decoded)
            checked += 1
    assert checked >= 15
