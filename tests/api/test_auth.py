"""Bearer API keys: missing, bad and revoked keys get 401; roles nest admin > sales > readonly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api_testkit import Api, check_problem

from licensing.access.apikeys import revoke_api_key
from licensing.context import Core
from licensing.models import ApiKey

READS = ["/v1/customers", "/v1/licenses", "/v1/audit-events"]


def _writes(customer_id: str, license_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("/v1/customers", {"name": "Eve", "email": "eve@example.com"}),
        ("/v1/licenses", {"customer_id": customer_id, "tier": "free"}),
        (f"/v1/licenses/{license_id}/renew", {"duration_days": 30}),
        (f"/v1/licenses/{license_id}/revoke", {"reason": "test"}),
    ]


def test_no_key_or_a_bad_key_is_401(api: Api, client: Any) -> None:
    customer = api.customer()["id"]
    lic = api.issue(customer, tier="enterprise", seats=100)["license"]
    before = api.counts()
    token = api.auth["Authorization"].removeprefix("Bearer ")
    bad_headers: dict[str, dict[str, str]] = {
        "missing_api_key": {},
        "invalid_api_key": {"Authorization": "Bearer garbage"},
        "wrong secret": {"Authorization": f"Bearer {token[:-4]}AAAA"},
        "basic": {"Authorization": f"Basic {token}"},
        "empty bearer": {"Authorization": "Bearer "},
        "long": {"Authorization": "Bearer lsk_" + "a" * 5000},
    }
    paths = [*READS, f"/v1/customers/{customer}", f"/v1/licenses/{lic['id']}", f"/v1/licenses/{lic['id']}/file"]
    for name, headers in bad_headers.items():
        for path in paths:
            response = client.get(path, headers=headers)
            body = check_problem(response, 401)
            assert body["code"] in {"missing_api_key", "invalid_api_key"}, (name, body)
            assert response.headers["www-authenticate"] == "Bearer"
        for path, payload in _writes(customer, lic["id"]):
            check_problem(client.post(path, json=payload, headers=headers), 401)
    check_problem(client.get("/v1/customers"), 401, "missing_api_key")
    check_problem(client.get("/v1/customers", headers={"Authorization": "Bearer garbage"}), 401, "invalid_api_key")
    assert api.counts() == before


def test_a_revoked_key_stops_working_at_once(
    client: Any, make_api_key: Callable[..., str], session_factory: Callable[[], Any], core: Core
) -> None:
    token = make_api_key("sales", "leaver")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/customers", headers=headers).status_code == 200
    with session_factory() as session:
        [key] = [k for k in session.query(ApiKey).all() if k.name == "leaver"]
        revoke_api_key(session, core, key.id, actor="test")
    check_problem(client.get("/v1/customers", headers=headers), 401, "api_key_revoked")
    check_problem(client.post("/v1/customers", json={"name": "A", "email": "a@a.example"}, headers=headers), 401)


def test_readonly_reads_but_does_not_write(api: Api, client: Any, readonly_auth: dict[str, str]) -> None:
    customer = api.customer()["id"]
    lic = api.issue(customer, tier="enterprise", seats=100)["license"]
    for path in [*READS, f"/v1/customers/{customer}", f"/v1/licenses/{lic['id']}", f"/v1/licenses/{lic['id']}/file"]:
        assert client.get(path, headers=readonly_auth).status_code == 200, path
    before = api.counts()
    for path, payload in _writes(customer, lic["id"]):
        body = check_problem(client.post(path, json=payload, headers=readonly_auth), 403, "insufficient_role")
        assert "readonly" in body["detail"]
    assert api.counts() == before
    assert api.license(lic["id"])["status"] == "active"


def test_admin_may_do_what_sales_may(api: Api, client: Any, admin_auth: dict[str, str]) -> None:
    created = client.post("/v1/customers", json={"name": "Root", "email": "root@example.com"}, headers=admin_auth)
    assert created.status_code == 201
    issued = client.post("/v1/licenses", json={"customer_id": created.json()["id"], "tier": "free"}, headers=admin_auth)
    assert issued.status_code == 201
    assert issued.json()["license"]["created_by"].startswith("root")


def test_public_endpoints_need_no_key(client: Any) -> None:
    for path in ("/.well-known/jwks.json", "/v1/revocations", "/healthz", "/readyz", "/openapi.json"):
        assert client.get(path).status_code == 200, path
    assert client.post("/v1/free-licenses", json={"email": "anon@example.com"}).status_code == 201
