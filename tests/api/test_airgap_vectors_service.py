"""The service replays the air-gap conformance vectors (tests/vectors/airgap/manifest.json): every request
and report the library must accept is accepted through the API, and every one it must refuse is refused
with the reader's code as the problem's ``reason`` (409 ``installation_mismatch`` for a report naming
another key than the bound one), nothing stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from api_testkit import Api, check_problem
from sqlalchemy import func, select

import licensing.licenses.issuance as issuance
from licensing.models import ActivationRequest, InstallationBinding, UsageReport
from licensing.verify import jwk_thumbprint

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "airgap"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text("utf-8"))


def _issue_as(api: Api, monkeypatch: pytest.MonkeyPatch, license_id: str) -> dict[str, Any]:
    """A sales license whose id is the one the vectors name."""
    monkeypatch.setattr(issuance, "new_id", lambda prefix: license_id)
    customer = api.customer(f"ops@{license_id.replace('_', '-')}.example")
    issued = api.issue(customer["id"], tier="enterprise", seats=20, duration_days=30)
    monkeypatch.undo()
    assert issued["license"]["id"] == license_id
    return issued


def _count(api: Api, model: Any) -> int:
    with api.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_request_vectors(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _issue_as(api, monkeypatch, next(v["expect"]["license_id"] for v in MANIFEST["requests"] if v["expect"]["ok"]))
    accepted = 0
    for vector in MANIFEST["requests"]:
        text = (VECTORS / vector["file"]).read_text("utf-8")
        before = _count(api, ActivationRequest)
        response = api.post("/v1/activations", {"request": text})
        if vector["expect"]["ok"]:
            # The first binds the line; the same installation again answers it; another installation id
            # (with the same key) is another installation: refused without a move.
            if response.status_code == 409:
                check_problem(response, 409, "already_activated")
            else:
                assert response.status_code == 201, (vector["name"], response.text)
                assert response.json()["license"]["cnf_jkt"] == vector["expect"]["thumbprint"]
                accepted += 1
        else:
            problem = check_problem(response, 422, "invalid_request_file")
            assert problem["reason"] == vector["expect"]["code"], (vector["name"], problem)
            assert _count(api, ActivationRequest) == before
    assert accepted >= 5


def test_the_report_vectors(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    first = MANIFEST["reports"][0]
    line = first["expect"]["license_id"]
    _issue_as(api, monkeypatch, line)
    jwk = first["public_jwk"]
    with api.session_factory() as session:
        session.add(
            InstallationBinding(
                line_id=line,
                installation_id=first["expect"]["installation_id"],
                public_jwk=jwk,
                jkt=jwk_thumbprint(jwk["x"]),
                license_id=line,
                bound_at=datetime.now(UTC),
                bound_by="test",
            )
        )
    bound_x = jwk["x"]
    for vector in MANIFEST["reports"]:
        if vector["public_jwk"]["x"] != bound_x:
            continue  # checked with another key than the line's: the service checks with the bound one
        text = (VECTORS / vector["file"]).read_text("utf-8")
        before = _count(api, UsageReport)
        response = api.post("/v1/usage-reports", {"report": text})
        expect = vector["expect"]
        if expect["ok"]:
            if response.status_code == 409:  # another report of a seq already received
                check_problem(response, 409, "report_conflict")
                continue
            assert response.status_code == 201, (vector["name"], response.text)
            assert response.json()["seq"] == expect["seq"]
            assert response.json()["overage"] == max(0, expect["peak_users"] - 20)
        elif expect["code"] == "unknown_key" and response.status_code == 409:
            check_problem(response, 409, "installation_mismatch")  # it names another key than the bound one
        else:
            problem = check_problem(response, 422, "invalid_report_file")
            assert problem["reason"] == expect["code"], (vector["name"], problem)
        if not expect["ok"]:
            assert _count(api, UsageReport) == before
    with api.session_factory() as session:
        stored = sorted(session.scalars(select(UsageReport.seq)))
    assert stored == [1, 2, 3, 4]
