"""Plain regression tests for what the OpenAPI fuzzing (test_openapi_fuzz.py) found:

* a 405 named only one route's method in ``Allow`` (``Allow: POST`` on /v1/customers, which GET also
  serves): FastAPI has a route per method, and Starlette's 405 lists the methods of the first one;
* unknown customer and license ids answered 404, which the document did not declare.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from licensing.models import License

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert all(isinstance(body[field], str) for field in ("type", "title", "detail"))
    return body


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/v1/customers", {"GET", "POST"}),
        ("DELETE", "/v1/customers", {"GET", "POST"}),
        ("PUT", "/v1/licenses", {"GET", "POST"}),
        ("PATCH", "/v1/licenses/lic_unknown", {"GET"}),
        ("GET", "/v1/licenses/lic_unknown/renew", {"POST"}),
        ("DELETE", "/v1/trials", {"POST"}),
    ],
)
def test_a_405_allows_every_method_of_the_path(
    client: Any, auth: dict[str, str], method: str, path: str, allowed: set[str]
) -> None:
    response = client.request(method, path, headers=auth)
    assert_problem(response, 405, "method_not_allowed")
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
    for other in allowed:
        # Each method Allow names is served there: none of them answers 405.
        assert client.request(other, path, headers=auth).status_code != 405


NOT_FOUND = [
    ("GET", "/v1/customers/{customer_id}", "/v1/customers/cus_unknown", None, "customer_not_found"),
    ("GET", "/v1/licenses/{license_id}", "/v1/licenses/lic_unknown", None, "license_not_found"),
    ("GET", "/v1/licenses/{license_id}/file", "/v1/licenses/lic_unknown/file", None, "license_not_found"),
    ("POST", "/v1/licenses", "/v1/licenses", {"customer_id": "cus_unknown", "tier": "free"}, "customer_not_found"),
    (
        "POST",
        "/v1/licenses/{license_id}/renew",
        "/v1/licenses/lic_unknown/renew",
        {"duration_days": 30},
        "license_not_found",
    ),
    (
        "POST",
        "/v1/licenses/{license_id}/revoke",
        "/v1/licenses/lic_unknown/revoke",
        {"reason": "test"},
        "license_not_found",
    ),
]


@pytest.mark.parametrize(("method", "template", "path", "body", "code"), NOT_FOUND)
def test_an_unknown_id_is_a_documented_404(
    client: Any, auth: dict[str, str], method: str, template: str, path: str, body: Any, code: str
) -> None:
    assert_problem(client.request(method, path, headers=auth, json=body), 404, code)
    declared = client.get("/openapi.json").json()["paths"][template][method.lower()]["responses"]
    assert PROBLEM in declared["404"]["content"]


def test_refreshing_a_license_this_service_does_not_know_is_a_documented_404(
    client: Any, auth: dict[str, str], session_factory: Callable[[], Any]
) -> None:
    customer = client.post("/v1/customers", headers=auth, json={"name": "Ada", "email": "ada@example.com"})
    assert customer.status_code == 201, customer.text
    issued = client.post("/v1/licenses", headers=auth, json={"customer_id": customer.json()["id"], "tier": "free"})
    assert issued.status_code == 201, issued.text
    with session_factory() as session:
        session.execute(sa.delete(License).where(License.id == issued.json()["license"]["id"]))

    response = client.post("/v1/licenses/refresh", json={"license_file": issued.json()["license_file"]})

    assert_problem(response, 404, "license_not_found")
    declared = client.get("/openapi.json").json()["paths"]["/v1/licenses/refresh"]["post"]["responses"]
    assert PROBLEM in declared["404"]["content"]
