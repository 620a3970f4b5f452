"""`licensing verify NEW --jwks F --compare OLD`: NEW's verdict, then what installing it changes.

Run on the conformance vectors' licenses (tests/vectors/), the same pairs the libraries compare in
tests/vectors/airgap/manifest.json: the lines printed are the libraries' lines.
"""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import Cli

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
JWKS = str(VECTORS / "jwks.json")
COMPARISONS = {
    (c["old"], c["new"]): c for c in json.loads((VECTORS / "airgap" / "manifest.json").read_text())["comparisons"]
}


def vector(name: str) -> str:
    return str(VECTORS / name)


def test_a_renewal_prints_its_verdict_then_the_changes(cli: Cli) -> None:
    result = cli(
        "verify",
        vector("renewal.lic"),
        "--jwks",
        JWKS,
        "--compare",
        vector("professional.lic"),
        "--at",
        "2025-12-15T00:00:00Z",
    )
    assert result.returncode == 0, str(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("VALID: ")
    start = lines.index(f"compared with lic_professional ({vector('professional.lic')}):")
    expected = COMPARISONS[("professional.lic", "renewal.lic")]["expect"]["text"]
    assert lines[start + 1 :] == [f"  {line}" for line in expected]
    assert "  seats: 250 -> 300" in lines


def test_warnings_come_first_and_the_exit_code_is_news_verdict(cli: Cli) -> None:
    result = cli(
        "verify",
        vector("professional.lic"),
        "--jwks",
        JWKS,
        "--compare",
        vector("renewal.lic"),
        "--at",
        "2025-12-15T00:00:00Z",
    )
    assert result.returncode == 0, str(result)
    compared = result.stdout.split("compared with lic_professional_2", 1)[1].splitlines()[1:]
    assert compared[:2] == [
        "  warning: NEW was issued before OLD",
        "  warning: NEW does not supersede OLD: it may belong to another line",
    ]


def test_an_expired_old_license_compares_fine(cli: Cli) -> None:
    # professional.lic's grace ended on 2026-01-11: replacing it is exactly what a renewal is for.
    result = cli(
        "verify",
        vector("renewal.lic"),
        "--jwks",
        JWKS,
        "--compare",
        vector("professional.lic"),
        "--at",
        "2026-02-01T00:00:00Z",
    )
    assert result.returncode == 0, str(result)
    assert "  features added: cluster" in result.stdout


def test_json_carries_the_comparison(cli: Cli) -> None:
    result = cli(
        "verify", vector("bound-cnf.lic"), "--jwks", JWKS, "--compare", vector("professional.lic"),
        "--installation-id", "inst-7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c3f", "--at", "2025-06-01T00:00:00Z", "--json",
    )  # fmt: skip
    assert result.returncode == 0, str(result)
    document = json.loads(result.stdout)
    expected = COMPARISONS[("professional.lic", "bound-cnf.lic")]["expect"]
    assert document["comparison"] == {
        "old": "lic_professional",
        "changes": expected["changes"],
        "warnings": expected["warnings"],
        "text": expected["text"],
    }
    assert document["license"]["cnf"]["jkt"] == expected["changes"][1]["new"]


def test_no_changes(cli: Cli) -> None:
    result = cli(
        "verify",
        vector("reissued.lic"),
        "--jwks",
        JWKS,
        "--compare",
        vector("professional.lic"),
        "--at",
        "2025-06-01T00:00:00Z",
    )
    assert result.returncode == 0, str(result)
    assert result.stdout.splitlines()[-1] == "  no changes"


def test_a_rejected_new_license_exits_1_without_a_comparison(cli: Cli) -> None:
    result = cli(
        "verify",
        vector("bad-signature.lic"),
        "--jwks",
        JWKS,
        "--compare",
        vector("professional.lic"),
        "--at",
        "2025-06-01T00:00:00Z",
    )
    assert result.returncode == 1, str(result)
    assert result.stdout.startswith("REJECTED (bad_signature)")
    assert "compared with" not in result.stdout
    as_json = cli(
        "verify", vector("bad-signature.lic"), "--jwks", JWKS, "--compare", vector("professional.lic"), "--json"
    )
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["comparison"] is None


def test_an_old_license_that_fails_to_verify_is_a_usage_error(cli: Cli) -> None:
    result = cli(
        "verify",
        vector("renewal.lic"),
        "--jwks",
        JWKS,
        "--compare",
        vector("bad-signature.lic"),
        "--at",
        "2025-12-15T00:00:00Z",
    )
    assert result.returncode == 2, str(result)
    assert "the license to compare with" in result.stderr and "bad_signature" in result.stderr
    assert "Traceback" not in result.output
    as_json = cli("verify", vector("renewal.lic"), "--jwks", JWKS, "--compare", vector("bad-signature.lic"), "--json")
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["code"] == "usage_error"
    missing = cli("verify", vector("renewal.lic"), "--jwks", JWKS, "--compare", vector("no-such.lic"))
    assert missing.returncode == 2 and "cannot read the license to compare with" in missing.stderr


def test_an_old_license_bound_elsewhere_is_a_usage_error(cli: Cli) -> None:
    result = cli(
        "verify",
        vector("renewal.lic"),
        "--jwks",
        JWKS,
        "--compare",
        vector("trial.lic"),
        "--installation-id",
        "other",
        "--at",
        "2025-12-15T00:00:00Z",
    )
    assert result.returncode == 2, str(result)
    assert "installation_mismatch" in result.stderr
