"""POST /v1/free-licenses: perpetual, unlimited seats, no features."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from api_testkit import Api, check_problem, self_serve

from licensing.verify import Keyring, verify


@pytest.fixture(params=["email", "none"])
def self_serve_confirmation(request: pytest.FixtureRequest) -> str:
    mode: str = request.param
    return mode


def _free(client: Any, **body: Any) -> Any:
    return self_serve(client, "/v1/free-licenses", body)


def test_free_license_is_perpetual_and_unlimited(
    client: Any, api: Api, keyring: Keyring, pyjwt_decode: Callable[..., dict[str, Any]]
) -> None:
    response = _free(client, email="admin@Example.ORG", company="Example")
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"license", "license_file"}
    lic = response.json()["license"]
    assert lic["tier"] == "free" and lic["trial"] is False
    assert lic["seats"] is None and lic["features"] == [] and lic["grace_days"] == 0
    assert lic["expires_at"] is None and lic["grace_ends_at"] is None
    assert lic["source"] == "free" and lic["status"] == "active"

    claims = pyjwt_decode(response.json()["license_file"])
    assert "exp" not in claims
    assert claims["seats"] is None and claims["features"] == [] and claims["tier"] == "free"
    assert claims["customer"] == {"name": "Example", "email": "admin@example.org", "company": "Example"}
    checked = verify(response.json()["license_file"], keyring, now=datetime(2200, 1, 1, tzinfo=UTC))
    assert checked.status == "valid" and checked.expires_at is None and checked.features == ()

    customer = api.get(f"/v1/customers/{lic['customer_id']}").json()
    assert customer["email"] == "admin@example.org"


def test_company_is_optional_and_each_request_is_a_customer_of_its_own(client: Any, api: Api) -> None:
    first = _free(client, email="solo@example.net")
    second = _free(client, email="solo@example.net", installation_id="box-2")
    assert first.status_code == second.status_code == 201
    # A public request never adds a license to a stored customer (SPEC section 1).
    assert first.json()["license"]["customer_id"] != second.json()["license"]["customer_id"]
    assert second.json()["license"]["installation_id"] == "box-2"
    assert len(api.list_all("/v1/customers")) == 2


def test_free_license_needs_a_real_address(client: Any, api: Api) -> None:
    before = api.counts()
    for email in ("nope", "a@b", "@example.com", "a b@example.com", "a@exa mple.com"):
        check_problem(client.post("/v1/free-licenses", json={"email": email}), 422)
    check_problem(client.post("/v1/free-licenses", json={}), 422, "validation_error")
    assert api.counts() == before
