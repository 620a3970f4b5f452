"""The Go library's air-gapped files meet the Python side (SPEC section 8), through its command.

``verifiers/go/cmd/licensing-airgap`` (standard library only) is built once and driven as a
self-hosted server would drive the library: a key, an activation request, a usage log and its
reports. Python's readers (what the service uses) accept what Go makes; a receipt signed the way the
service signs is accepted by Go, and refused once tampered, with the verifier's codes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from licensing.airgap import (
    RECEIPT_LABEL,
    RECEIPT_TYP,
    InstallationKey,
    UsageLog,
    armor,
    read_activation_request,
    read_usage_report,
    receipt_claims,
    report_digest,
)
from licensing.signing.jws import Signer
from licensing.signing.keys import KeyStore

REPO = Path(__file__).resolve().parents[2]
GO_MODULE = REPO / "verifiers" / "go"
VECTORS = REPO / "tests" / "vectors"
GO_ENV = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOWORK": "off"}
INSTALLATION = "inst-1"  # bound-renewal.lic's installation


@pytest.fixture(scope="module")
def airgap_cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain (make go)")
    binary = tmp_path_factory.mktemp("go-cli") / "licensing-airgap"
    subprocess.run(
        [go, "build", "-o", str(binary), "./cmd/licensing-airgap"], cwd=GO_MODULE, env=GO_ENV, check=True, timeout=300
    )
    return binary


def run(cli: Path, *args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True, timeout=60)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def test_go_files_read_by_python_and_python_receipts_checked_by_go(
    airgap_cli: Path, tmp_path: Path, signer: Signer, keystore: KeyStore
) -> None:
    key_path, log, license_path = tmp_path / "install.pem", tmp_path / "usage.json", VECTORS / "bound-renewal.lic"
    thumbprint = run(airgap_cli, "key", key_path).stdout.strip()
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
    key = InstallationKey.from_pem(key_path.read_bytes())  # Go's PKCS#8 PEM, read by Python
    assert key.thumbprint == thumbprint

    request = read_activation_request(
        run(
            airgap_cli,
            "request",
            "--key",
            key_path,
            "--installation",
            INSTALLATION,
            "--license",
            license_path,
            "--product-version",
            "4.2.0",
        ).stdout
    )
    assert (request.license_id, request.installation_id, request.product_version) == (
        "lic_renewal",
        INSTALLATION,
        "4.2.0",
    )
    assert request.thumbprint == thumbprint and request.public_jwk == key.public_jwk

    common = ("--log", log, "--key", key_path, "--license", license_path)
    for users, at in ((12, "2025-06-01T08:00:00Z"), (17, "2025-06-01T15:00:00Z"), (9, "2025-06-03T00:00:00Z")):
        run(airgap_cli, "record", *common, "--users", str(users), "--at", at)
    first_text = run(airgap_cli, "export", *common, "--until", "2025-06-03T12:00:00Z").stdout
    first = read_usage_report(first_text, key.public_jwk)
    assert (first.seq, first.prev, first.peak_users, first.license_id) == (1, None, 17, "lic_renewal")
    assert first.daily_seconds == ((1748736000, 17), (1748908800, 9))
    run(airgap_cli, "record", *common, "--users", "30", "--at", "2025-06-10T00:00:00Z")
    second_text = run(airgap_cli, "export", *common, "--until", "2025-06-10T00:00:00Z").stdout
    second = read_usage_report(second_text, key.public_jwk)
    assert (second.seq, second.prev, second.peak_users) == (2, report_digest(first_text), 30)
    assert int(second.period_start.timestamp()) == 1748995200  # the first one's end
    # The day is reported: Go refuses to record it again, and says so.
    refused = run(airgap_cli, "record", *common, "--users", "99", "--at", "2025-06-10T10:00:00Z", ok=False)
    assert refused.returncode == 1 and "already reported" in refused.stderr

    # The receipt, signed as the service signs (its active key, typ license-usage-receipt+jwt).
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(keystore.jwks()))
    claims = receipt_claims(second, issuer="licenses.example", seats=25, gap=False, now=1749600000)
    receipt = tmp_path / "receipt.txt"
    receipt.write_text(armor(signer.sign_compact(RECEIPT_TYP, claims), RECEIPT_LABEL))
    report_file = tmp_path / "report-2.txt"
    report_file.write_text(second_text)
    digest = run(airgap_cli, "digest", report_file).stdout.strip()
    assert digest == second.digest
    fields = json.loads(run(airgap_cli, "receipt", "--jwks", jwks, "--report-digest", digest, receipt).stdout)
    assert fields == {
        "issuer": "licenses.example",
        "issued_at": "2025-06-11T00:00:00Z",
        "installation_id": INSTALLATION,
        "license_id": "lic_renewal",
        "seq": 2,
        "report": second.digest,
        "peak_users": 30,
        "seats": 25,
        "overage": 5,
        "gap": False,
        "key_id": signer.kid,
    }
    # For the first report instead: refused as malformed; tampered: bad_signature.
    other = run(airgap_cli, "receipt", "--jwks", jwks, "--report-digest", first.digest, receipt, ok=False)
    assert other.returncode == 1 and other.stderr.startswith("malformed: ")
    head, _payload, signature = signer.sign_compact(RECEIPT_TYP, claims).split(".")
    forged = signer.sign_compact(RECEIPT_TYP, {**claims, "overage": 0, "seats": None}).split(".")[1]
    receipt.write_text(armor(f"{head}.{forged}.{signature}", RECEIPT_LABEL))
    tampered = run(airgap_cli, "receipt", "--jwks", jwks, receipt, ok=False)
    assert tampered.returncode == 1 and tampered.stderr.startswith("bad_signature: ")


def test_an_encrypted_key_and_a_usage_log_move_between_go_and_python(airgap_cli: Path, tmp_path: Path) -> None:
    passphrase = "test-only passphrase"
    env = {**os.environ, "LICENSING_AIRGAP_PASSPHRASE": passphrase}

    def go(*args: str | Path) -> str:
        result = subprocess.run([str(airgap_cli), *map(str, args)], capture_output=True, text=True, timeout=60, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    key_path, log_path, license_path = tmp_path / "install.pem", tmp_path / "usage.json", VECTORS / "bound-renewal.lic"
    thumbprint = go("key", key_path).strip()
    pem = key_path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    key = InstallationKey.from_pem(pem, passphrase.encode())
    assert key.thumbprint == thumbprint
    with pytest.raises(ValueError):
        InstallationKey.from_pem(pem, b"wrong")

    common = ("--log", log_path, "--key", key_path, "--license", license_path)
    go("record", *common, "--users", "5", "--at", "2025-06-01T10:00:00Z")
    go("record", *common, "--users", "9", "--at", "2025-06-03T10:00:00Z")
    first = go("export", *common, "--until", "2025-06-01T12:00:00Z")

    log = UsageLog(log_path, key, license_path.read_text())  # Python continues Go's log
    assert log.last_seq == 1 and log.last_report == first
    assert log.pending == ((datetime(2025, 6, 3, tzinfo=UTC), 9),)
    log.record(4, datetime(2025, 6, 4, 8, tzinfo=UTC))
    second = log.export(datetime(2025, 6, 4, 9, tzinfo=UTC))
    assert read_usage_report(second, key).prev == report_digest(first)

    third = go("export", *common, "--until", "2025-06-05T00:00:00Z")  # and Go continues Python's
    report = read_usage_report(third, key)
    assert (report.seq, report.prev, report.peak_users) == (3, report_digest(second), 0)
    assert UsageLog(log_path, key, license_path.read_text()).last_report == third
