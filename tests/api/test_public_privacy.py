"""A public request never reads, returns or signs stored customer data, nor adds licenses to an
existing customer (SPEC section 1), and public errors tell strangers nothing about other customers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api_testkit import Api, check_problem

SECRET_NAME = "Ada Secret-Lovelace"
SECRET_COMPANY = "BigCorp Confidential Holdings"


def _stored_customer(api: Api, email: str) -> dict[str, Any]:
    return api.customer(email=email, name=SECRET_NAME, company=SECRET_COMPANY)


def test_free_license_signs_what_the_requester_typed_not_the_stored_customer(
    client: Any, api: Api, pyjwt_decode: Callable[..., dict[str, Any]]
) -> None:
    ada = _stored_customer(api, "ada@bigcorp-7f3a.example")
    response = client.post("/v1/free-licenses", json={"email": "ada@bigcorp-7f3a.example", "company": "Mallory Inc"})
    assert response.status_code == 201, response.text
    assert SECRET_NAME not in response.text and SECRET_COMPANY not in response.text
    claims = pyjwt_decode(response.json()["license_file"])
    assert claims["customer"] == {"name": "Mallory Inc", "email": "ada@bigcorp-7f3a.example", "company": "Mallory Inc"}
    assert claims["sub"] != ada["id"] and response.json()["license"]["customer_id"] != ada["id"]
    assert api.list_all("/v1/licenses", customer_id=ada["id"]) == []


def test_trial_signs_the_company_given_and_leaves_the_stored_customer_alone(
    client: Any, api: Api, pyjwt_decode: Callable[..., dict[str, Any]]
) -> None:
    ada = _stored_customer(api, "ada@bigcorp-81c2.example")
    response = client.post(
        "/v1/trials", json={"email": "ada@bigcorp-81c2.example", "company": "Typed Co", "accept_terms": True}
    )
    assert response.status_code == 201, response.text
    assert SECRET_NAME not in response.text and SECRET_COMPANY not in response.text
    claims = pyjwt_decode(response.json()["license_file"])
    assert claims["customer"]["company"] == "Typed Co" and claims["customer"]["name"] == "Typed Co"
    assert claims["sub"] != ada["id"]
    assert api.list_all("/v1/licenses", customer_id=ada["id"]) == []
    # The stored record is untouched.
    assert api.get(f"/v1/customers/{ada['id']}").json() == ada


def test_a_name_given_is_signed(client: Any, pyjwt_decode: Callable[..., dict[str, Any]]) -> None:
    response = client.post(
        "/v1/free-licenses", json={"email": "grace@navy-4e1b.example", "name": "Grace Hopper", "company": "Navy"}
    )
    assert response.status_code == 201, response.text
    claims = pyjwt_decode(response.json()["license_file"])
    assert claims["customer"] == {"name": "Grace Hopper", "email": "grace@navy-4e1b.example", "company": "Navy"}


def test_the_trial_refusal_does_not_say_the_organisation_is_paying(client: Any, api: Api) -> None:
    paying = api.customer(email="cfo@paying-5d2e.example", company="Paying")
    api.issue(paying["id"], tier="professional", seats=5, duration_days=30)
    used = client.post("/v1/trials", json={"email": "a@used-9a0c.example", "company": "Used", "accept_terms": True})
    assert used.status_code == 201
    refusals = [
        client.post("/v1/trials", json={"email": email, "company": "X", "accept_terms": True})
        for email in ("intern@paying-5d2e.example", "b@used-9a0c.example")
    ]
    bodies = [check_problem(r, 409, "trial_already_used") for r in refusals]
    assert bodies[0]["detail"] == bodies[1]["detail"]
    assert "pay" not in bodies[0]["detail"].lower() and "customer" not in bodies[0]["detail"].lower()


def test_the_refresh_refusal_hides_the_internal_revocation_reason(client: Any, api: Api) -> None:
    customer = api.customer(email="ops@revoked-2b7d.example")
    issued = api.issue(customer["id"], tier="professional", seats=5, duration_days=30)
    api.revoke(issued["license"]["id"], reason="chargeback fraud ticket 4471, do not tell them")
    response = client.post("/v1/licenses/refresh", json={"license_file": issued["license_file"]})
    body = check_problem(response, 403, "revoked")
    assert "chargeback" not in response.text and "4471" not in response.text
    assert "contact" in body["detail"].lower()
