"""Issuance rules that hold whatever the caller asks: free is perpetual, nothing is born expired,
only enterprise has unlimited seats, and public Idempotency-Keys belong to one client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_testkit import Api, check_problem


@pytest.mark.parametrize("term", [{"duration_days": 30}, {"expires_at": "2099-01-01T00:00:00Z"}])
def test_free_licenses_take_no_end(api: Api, term: dict[str, Any]) -> None:
    customer = api.customer()
    before = api.counts()
    check_problem(
        api.post("/v1/licenses", {"customer_id": customer["id"], "tier": "free", **term}), 422, "invalid_term"
    )
    assert api.counts() == before


def test_a_license_that_would_be_expired_already_is_refused(api: Api) -> None:
    customer = api.customer()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {
        "customer_id": customer["id"],
        "tier": "enterprise",
        "seats": 100,
        "starts_at": "2020-01-01T00:00:00Z",
        "expires_at": past,
    }
    before = api.counts()
    problem = check_problem(api.post("/v1/licenses", body), 422, "invalid_term")
    assert "expired" in problem["detail"]
    assert api.counts() == before


@pytest.mark.parametrize("tier", ["free", "professional"])
def test_only_enterprise_has_unlimited_seats(api: Api, tier: str) -> None:
    customer = api.customer()
    body = {"customer_id": customer["id"], "tier": tier, "seats": None}
    if tier == "professional":
        body["duration_days"] = 30
    check_problem(api.post("/v1/licenses", body), 422, "invalid_seats")
    unlimited = api.issue(customer["id"], tier="enterprise", seats=None, duration_days=30)
    assert unlimited["license"]["seats"] is None


def test_public_idempotency_keys_are_per_client(app: Any) -> None:
    from fastapi.testclient import TestClient

    body = {"email": "it@one.example", "company": "One"}
    with (
        TestClient(app, client=("198.51.100.1", 1000)) as first,
        TestClient(app, client=("198.51.100.2", 1000)) as second,
    ):
        a = first.post("/v1/free-licenses", json=body, headers={"Idempotency-Key": "k-1"})
        b = second.post("/v1/free-licenses", json={"email": "it@two.example"}, headers={"Idempotency-Key": "k-1"})
        replay = first.post("/v1/free-licenses", json=body, headers={"Idempotency-Key": "k-1"})
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    assert a.json()["license"]["id"] != b.json()["license"]["id"]
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["license"]["id"] == a.json()["license"]["id"]
