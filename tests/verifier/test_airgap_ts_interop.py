"""The TypeScript library's air-gapped files, read by Python, and Python's read by TypeScript (issue 17).

The TypeScript side runs as a product would run it: ``node verifiers/ts/scripts/airgap.mjs`` over the
built package (``make test-ts`` builds it before the Python suite runs; without the build these tests
are skipped). A request and a chain of usage reports made in TypeScript are read by
``licensing.airgap``'s readers, the service's; a receipt the service's signer makes from them is
checked by TypeScript; keys cross in both directions, and one usage log file is kept by either.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from verifier_helpers import make_claims

from licensing.airgap import (
    RECEIPT_TYP,
    InstallationKey,
    UsageLog,
    armor_receipt,
    read_activation_request,
    read_usage_report,
    receipt_claims,
    report_digest,
)
from licensing.signing.jws import Signer
from licensing.signing.keys import KeyStore

TS = Path(__file__).resolve().parents[2] / "verifiers" / "ts"
SCRIPT = TS / "scripts" / "airgap.mjs"
NODE = shutil.which("node")
DAY = 86_400
JUNE = 1_748_736_000  # 2025-06-01T00:00:00Z

pytestmark = pytest.mark.skipif(
    NODE is None or not (TS / "dist" / "esm" / "index.js").exists(),
    reason="the TypeScript package is not built (make test-ts)",
)


def node(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    result = subprocess.run([NODE, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def rfc3339(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def jwks_file(tmp_path: Path, keystore: KeyStore) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(keystore.jwks()))
    return path


def test_keys_cross_both_ways(tmp_path: Path) -> None:
    made = json.loads(node("key", tmp_path / "ts.pem").stdout)
    key = InstallationKey.from_pem((tmp_path / "ts.pem").read_text())
    assert (made["thumbprint"], made["jwk"]) == (key.thumbprint, key.public_jwk)
    assert (tmp_path / "ts.pem").stat().st_mode & 0o777 == 0o600

    python_key = InstallationKey.generate()
    (tmp_path / "py.pem").write_text(python_key.private_pem())
    (tmp_path / "license.lic").write_text(
        "-----BEGIN LICENSE FILE-----\ne30.eyJqdGkiOiJsaWNfMSJ9.e30\n-----END LICENSE FILE-----\n"
    )
    request = node(
        "request", "--key", tmp_path / "py.pem", "--installation", "inst-1", "--license", tmp_path / "license.lic"
    )
    assert read_activation_request(request.stdout).thumbprint == python_key.thumbprint


def test_a_request_made_in_typescript_is_read_by_the_service(tmp_path: Path, signer: Signer) -> None:
    node("key", tmp_path / "k.pem")
    key = InstallationKey.from_pem((tmp_path / "k.pem").read_text())
    license_file = tmp_path / "license.lic"
    license_file.write_text(signer.sign_license(make_claims(jti="lic_ts_1")))
    installation = "inst-é 7f3c/2a9e"  # printable, not ASCII, a space
    text = node(
        "request",
        "--key",
        tmp_path / "k.pem",
        "--installation",
        installation,
        "--license",
        license_file,
        "--product-version",
        "4.2.0",
    ).stdout
    request = read_activation_request(text)
    assert (request.license_id, request.installation_id, request.product_version) == ("lic_ts_1", installation, "4.2.0")
    assert request.thumbprint == key.thumbprint
    assert request.public_jwk == key.public_jwk
    assert abs(request.issued_at.timestamp() - datetime.now(UTC).timestamp()) < 120


def test_a_chain_of_reports_made_in_typescript_is_read_by_the_service_and_its_receipts_checked_back(
    tmp_path: Path, signer: Signer, jwks_file: Path
) -> None:
    node("key", tmp_path / "k.pem")
    key = InstallationKey.from_pem((tmp_path / "k.pem").read_text())
    bound = tmp_path / "bound.lic"
    bound.write_text(
        signer.sign_license(
            make_claims(jti="lic_bound", installation_id="inst-1", cnf={"jkt": key.thumbprint}, seats=10)
        )
    )
    log = ["--log", str(tmp_path / "usage.json"), "--key", str(tmp_path / "k.pem"), "--license", str(bound)]
    counts = {JUNE + d * DAY: 3 + (d * 5) % 17 for d in range(30)}
    for day, users in counts.items():
        node("record", *log, "--users", str(users), "--at", rfc3339(day + 3_600))
        node("record", *log, "--users", "1", "--at", rfc3339(day + 7_200))  # the day keeps its highest
    reports = [node("export", *log, "--until", rfc3339(JUNE + 14 * DAY)).stdout]
    reports.append(node("export", *log, "--until", rfc3339(JUNE + 40 * DAY)).stdout)
    again = node("export", *log, "--until", rfc3339(JUNE + 40 * DAY + 60), ok=False)  # the same day: nothing new
    assert again.returncode != 0 and "already_reported" in again.stderr, again.stderr
    reports.append(node("export", *log, "--until", rfc3339(JUNE + 45 * DAY)).stdout)  # days with no record: empty

    read = [read_usage_report(text, key.public_jwk) for text in reports]
    assert [r.seq for r in read] == [1, 2, 3]
    assert read[0].prev is None
    assert [r.prev for r in read[1:]] == [report_digest(reports[0]), report_digest(reports[1])]
    assert list(read[0].daily_seconds) + list(read[1].daily_seconds) == sorted(counts.items())
    assert read[2].daily_seconds == ()
    assert (read[0].period_start.timestamp(), read[0].period_end.timestamp()) == (JUNE, JUNE + 15 * DAY)
    assert read[1].period_start == read[0].period_end
    assert read[0].peak_users == max(users for day, users in counts.items() if day < JUNE + 15 * DAY)
    assert all((r.license_id, r.installation_id) == ("lic_bound", "inst-1") for r in read)

    for report, text in zip(read, reports, strict=True):
        claims = receipt_claims(report, issuer="test-issuer", seats=10, gap=False)
        receipt = tmp_path / f"receipt-{report.seq}.lic"
        receipt.write_text(armor_receipt(signer.sign_compact(RECEIPT_TYP, claims)))
        got: dict[str, Any] = json.loads(
            node("receipt", "--jwks", jwks_file, "--report-digest", report_digest(text), receipt).stdout
        )
        assert got["seq"] == report.seq and got["report"] == report.digest
        assert (got["peak_users"], got["seats"], got["overage"]) == (
            report.peak_users,
            10,
            max(0, report.peak_users - 10),
        )
        assert got["key_id"] == signer.kid
    refused = node("receipt", "--jwks", jwks_file, "--report-digest", report_digest(reports[0]), receipt, ok=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("malformed: The usage receipt is for another usage report")


def test_one_usage_log_file_kept_by_either_library(tmp_path: Path, signer: Signer) -> None:
    node("key", tmp_path / "k.pem")
    key = InstallationKey.from_pem((tmp_path / "k.pem").read_text())
    bound = signer.sign_license(make_claims(jti="lic_bound", installation_id="inst-1", cnf={"jkt": key.thumbprint}))
    (tmp_path / "bound.lic").write_text(bound)
    path = tmp_path / "usage.json"
    log = ["--log", str(path), "--key", str(tmp_path / "k.pem"), "--license", str(tmp_path / "bound.lic")]

    node("record", *log, "--users", "7", "--at", rfc3339(JUNE + 3_600))
    first = node("export", *log, "--until", rfc3339(JUNE)).stdout
    node("record", *log, "--users", "9", "--at", rfc3339(JUNE + DAY))  # pending when Python takes over

    python_log = UsageLog(path, key, bound)
    assert (python_log.last_seq, python_log.last_report) == (1, first)
    assert [(int(day.timestamp()), users) for day, users in python_log.pending] == [(JUNE + DAY, 9)]
    with pytest.raises(ValueError):
        python_log.record(1, datetime.fromtimestamp(JUNE + 60, UTC))  # TypeScript reported that day
    python_log.record(11, datetime.fromtimestamp(JUNE + 2 * DAY, UTC))
    second = python_log.export(datetime.fromtimestamp(JUNE + 2 * DAY, UTC))

    third = node("export", *log, "--until", rfc3339(JUNE + 3 * DAY)).stdout  # TypeScript goes on
    reports = [read_usage_report(text, key.public_jwk) for text in (first, second, third)]
    assert [r.seq for r in reports] == [1, 2, 3]
    assert reports[1].prev == report_digest(first) and reports[2].prev == report_digest(second)
    assert reports[1].daily_seconds == ((JUNE + DAY, 9), (JUNE + 2 * DAY, 11))
    assert reports[2].period_start == reports[1].period_end
    assert UsageLog(path, key, bound).last_report == third
