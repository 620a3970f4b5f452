"""Issue 17's cross-language proofs through the service's API: an activation request made by the Go library
activates a line; a usage report made by the TypeScript library is accepted, with a receipt that the Go,
TypeScript and Python libraries all check (and all refuse for another report).

Go runs through ``verifiers/go/cmd/licensing-airgap`` (built here, standard library only), TypeScript through
``verifiers/ts/scripts/airgap.mjs`` over the package ``make test-ts`` builds before the Python suite runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_testkit import Api

from licensing.airgap import report_digest, verify_receipt
from licensing.verify import Keyring, LicenseError

REPO = Path(__file__).resolve().parents[2]
GO_ENV = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOWORK": "off"}
TS_SCRIPT = REPO / "verifiers" / "ts" / "scripts" / "airgap.mjs"
NODE = shutil.which("node")


@pytest.fixture(scope="module")
def go_cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    assert go is not None, "no Go toolchain: make go"
    binary = tmp_path_factory.mktemp("go-airgap") / "licensing-airgap"
    build = ["build", "-o", str(binary), "./cmd/licensing-airgap"]
    subprocess.run([go, *build], cwd=REPO / "verifiers" / "go", env=GO_ENV, check=True, timeout=300)
    return binary


def _go(cli: Path, *args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 or not ok, result.stderr
    return result


def _ts(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    assert NODE is not None, "no node"
    assert (REPO / "verifiers" / "ts" / "dist" / "esm" / "index.js").exists(), "the TypeScript package is not built"
    result = subprocess.run([NODE, str(TS_SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 or not ok, result.stderr
    return result


@pytest.fixture
def jwks_file(tmp_path: Path, client: Any) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(client.get("/.well-known/jwks.json").text, "utf-8")
    return path


def _sold(api: Api, tmp_path: Path, email: str, seats: int) -> tuple[dict[str, Any], Path]:
    issued = api.issue(api.customer(email)["id"], tier="enterprise", seats=seats, duration_days=90)
    path = tmp_path / f"{issued['license']['id']}.lic"
    path.write_text(issued["license_file"], "utf-8")
    return issued, path


def test_a_request_made_in_go_activates_a_line(api: Api, tmp_path: Path, go_cli: Path) -> None:
    _, license_path = _sold(api, tmp_path, "ops@go-5e1a.example", seats=10)
    thumbprint = _go(go_cli, "key", tmp_path / "go.pem").stdout.strip()
    request = _go(
        go_cli, "request", "--key", tmp_path / "go.pem", "--installation", "go-server-1", "--license", license_path
    )

    response = api.post("/v1/activations", {"request": request.stdout})

    assert response.status_code == 201, response.text
    bound = response.json()["license"]
    assert bound["installation_id"] == "go-server-1" and bound["cnf_jkt"] == thumbprint
    again = api.post("/v1/activations", {"request": request.stdout})
    assert again.status_code == 201 and again.json()["license"]["id"] == bound["id"]


def test_a_report_made_in_typescript_is_accepted_and_its_receipt_checks_in_all_three(
    api: Api, tmp_path: Path, go_cli: Path, jwks_file: Path, keyring: Keyring
) -> None:
    _, license_path = _sold(api, tmp_path, "ops@ts-5e1a.example", seats=5)
    key = tmp_path / "ts.pem"
    thumbprint = json.loads(_ts("key", key).stdout)["thumbprint"]
    request = _ts("request", "--key", key, "--installation", "ts-server-1", "--license", license_path).stdout
    activated = api.post("/v1/activations", {"request": request})
    assert activated.status_code == 201, activated.text
    assert activated.json()["license"]["cnf_jkt"] == thumbprint
    bound = tmp_path / "bound.lic"
    bound.write_text(activated.json()["license_file"], "utf-8")
    log = tmp_path / "usage.json"
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for days_ago, users in ((3, 4), (2, 9), (1, 7)):
        at = (today - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
        _ts("record", "--log", log, "--key", key, "--license", bound, "--users", str(users), "--at", at)
    report = _ts("export", "--log", log, "--key", key, "--license", bound).stdout

    answer = api.post("/v1/usage-reports", {"report": report})

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["seq"], body["overage"], body["gap"]) == (1, 4, False)
    receipt = tmp_path / "receipt.lic"
    receipt.write_text(body["receipt"], "utf-8")
    digest = report_digest(report)
    for checked in (
        json.loads(_ts("receipt", "--jwks", jwks_file, "--report-digest", digest, receipt).stdout),
        json.loads(_go(go_cli, "receipt", "--jwks", jwks_file, "--report-digest", digest, receipt).stdout),
    ):
        assert (checked["seq"], checked["peak_users"], checked["seats"], checked["overage"]) == (1, 9, 5, 4)
        assert checked["installation_id"] == "ts-server-1" and checked["report"] == digest
    python = verify_receipt(body["receipt"], keyring, report_digest=digest)
    assert (python.seq, python.overage, python.gap) == (1, 4, False)
    # A receipt is for one report: each library refuses it for another.
    other = "A" * 43
    assert _ts("receipt", "--jwks", jwks_file, "--report-digest", other, receipt, ok=False).returncode == 1
    assert _go(go_cli, "receipt", "--jwks", jwks_file, "--report-digest", other, receipt, ok=False).returncode == 1
    with pytest.raises(LicenseError):
        verify_receipt(body["receipt"], keyring, report_digest=other)
