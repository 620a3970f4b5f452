"""Issue 16's sales issuing: the catalog, strict issuing, previews, sending a license, customer edits."""

from __future__ import annotations

from typing import Any

from api_testkit import Api, check_problem, unarmor
from sqlalchemy import select

from licensing.models import AuditEvent, OutboxMessage
from licensing.verify import Keyring, verify


def _pro(api: Api, **body: Any) -> dict[str, Any]:
    customer = api.customer()
    return api.issue(customer["id"], tier="professional", seats=5, duration_days=365, **body)


# --- the catalog ------------------------------------------------------------------------------------
def test_catalog_lists_the_offers_sales_may_issue(api: Api) -> None:
    response = api.get("/v1/catalog")
    assert response.status_code == 200, response.text
    body = response.json()
    offers = {offer["key"]: offer for offer in body["offers"]}
    assert {"free", "professional_trial", "professional", "enterprise"} <= set(offers)
    pro = offers["professional"]
    assert pro["tier"] == "professional" and pro["trial"] is False
    assert set(pro["seats"]) == {"default", "min", "max"}
    assert pro["prices"] and {"lookup_key", "interval", "unit_amount", "currency"} == set(pro["prices"][0])
    assert "saml" in body["features"]["enterprise"]
    assert offers["free"]["seats"]["default"] is None


def test_readonly_reads_the_catalog_but_may_not_preview_send_or_edit(
    api: Api, client: Any, readonly_auth: dict[str, str]
) -> None:
    assert client.get("/v1/catalog", headers=readonly_auth).status_code == 200
    check_problem(client.get("/v1/catalog"), 401, "missing_api_key")
    issued = _pro(api)
    customer_id = issued["license"]["customer_id"]
    for path in ("/v1/licenses/preview", f"/v1/licenses/{issued['license']['id']}/send"):
        check_problem(client.post(path, json={}, headers=readonly_auth), 403, "insufficient_role")
    patch = client.patch(f"/v1/customers/{customer_id}", json={"name": "X"}, headers=readonly_auth)
    check_problem(patch, 403, "insufficient_role")


# --- strict issuing -----------------------------------------------------------------------------------
def test_paid_licenses_need_seats(api: Api) -> None:
    customer = api.customer()
    for tier in ("professional", "enterprise"):
        response = api.post("/v1/licenses", {"customer_id": customer["id"], "tier": tier, "duration_days": 30})
        check_problem(response, 422, "seats_required")
    unlimited = api.issue(customer["id"], tier="enterprise", seats=None, duration_days=30)
    assert unlimited["license"]["seats"] is None
    # A trial and a free license take the offer's seats.
    api.issue(customer["id"], tier="professional", trial=True, duration_days=14)
    api.issue(customer["id"], tier="free")


def test_a_feature_typo_is_refused_naming_the_close_match(api: Api) -> None:
    customer = api.customer()
    body = {"customer_id": customer["id"], "tier": "enterprise", "seats": 10, "duration_days": 30}
    problem = check_problem(api.post("/v1/licenses", {**body, "features": ["samll"]}), 422, "unknown_feature")
    assert "did you mean 'saml'" in problem["detail"]
    problem = check_problem(api.post("/v1/licenses", {**body, "features": ["quantum_flux"]}), 422, "unknown_feature")
    assert "custom_features" in problem["detail"]
    check_problem(api.post("/v1/licenses", {**body, "custom_features": ["Bad Name"]}), 422, "invalid_feature")
    check_problem(api.post("/v1/licenses", {**body, "custom_features": ["x" * 65]}), 422)
    pro = {**body, "tier": "professional", "custom_features": ["sso_bridge"]}
    check_problem(api.post("/v1/licenses", pro), 422, "custom_features_enterprise_only")


def test_custom_features_are_signed_in_features_and_kept_on_renewal(
    api: Api, pyjwt_decode: Any, keyring: Keyring
) -> None:
    customer = api.customer()
    issued = api.issue(customer["id"], tier="enterprise", seats=10, duration_days=30, custom_features=["sso_bridge"])
    claims = pyjwt_decode(issued["license_file"])
    assert "sso_bridge" in claims["features"] and "saml" in claims["features"]
    assert verify(issued["license_file"], keyring).has_feature("sso_bridge")
    renewed = api.renew(issued["license"]["id"], duration_days=30)
    assert "sso_bridge" in pyjwt_decode(renewed["license_file"])["features"]
    replaced = api.renew(renewed["license"]["id"], duration_days=30, custom_features=["audit_export"])
    features = pyjwt_decode(replaced["license_file"])["features"]
    assert "audit_export" in features and "sso_bridge" not in features
    assert unarmor(replaced["license_file"])


# --- preview ------------------------------------------------------------------------------------------
def test_preview_shows_the_claims_and_warnings_and_stores_nothing(api: Api) -> None:
    customer = api.customer()
    before = api.counts()
    body = {"customer_id": customer["id"], "tier": "professional", "seats": 5000, "duration_days": 2000}
    response = api.post("/v1/licenses/preview", body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["claims"]["seats"] == 5000 and out["claims"]["tier"] == "professional"
    assert out["claims"]["customer"]["email"] == customer["email"]
    assert any("default" in w for w in out["warnings"])
    assert any("three years" in w for w in out["warnings"])
    assert out["changes"] == [] and out["comparison"] is None
    assert api.counts() == before
    past = {
        **body,
        "seats": 3,
        "duration_days": None,
        "starts_at": "2020-01-01T00:00:00Z",
        "expires_at": "2099-01-01T00:00:00Z",
    }
    past_warnings = api.post("/v1/licenses/preview", past).json()["warnings"]
    assert any("past" in w for w in past_warnings)
    assert not any(
        "default" in w
        for w in api.post("/v1/licenses/preview", {**body, "seats": 1, "duration_days": 30}).json()["warnings"]
    )
    check_problem(api.post("/v1/licenses/preview", {**body, "seats": None, "tier": "professional"}), 422)
    check_problem(api.post("/v1/licenses/preview", {"tier": "professional"}), 422, "invalid_preview")
    assert api.counts() == before


def test_preview_of_a_renewal_lists_the_changes(api: Api) -> None:
    issued = _pro(api)
    before = api.counts()
    response = api.post("/v1/licenses/preview", {"renews": issued["license"]["id"], "duration_days": 30, "seats": 8})
    assert response.status_code == 200, response.text
    changes = {c["claim"]: c for c in response.json()["changes"]}
    assert changes["seats"] == {"claim": "seats", "from": 5, "to": 8}
    assert "exp" in changes and "jti" not in changes
    comparison = response.json()["comparison"]
    assert comparison["warnings"] == [] and {"field": "seats", "old": 5, "new": 8} in comparison["changes"]
    assert "seats: 5 -> 8" in comparison["lines"] and any(line.startswith("expires: ") for line in comparison["lines"])
    assert api.counts() == before
    bad = {"renews": issued["license"]["id"], "duration_days": 30, "tier": "enterprise"}
    check_problem(api.post("/v1/licenses/preview", bad), 422, "invalid_preview")
    check_problem(api.post("/v1/licenses/preview", {"renews": "lic_nope", "duration_days": 3}), 404)


# --- send ---------------------------------------------------------------------------------------------
def _outbox(api: Api) -> list[OutboxMessage]:
    with api.session_factory() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("license-send:%"))))


def test_send_mails_the_license_file_and_is_audited(api: Api) -> None:
    issued = _pro(api)
    license_id = issued["license"]["id"]
    response = api.post(f"/v1/licenses/{license_id}/send", {})
    assert response.status_code == 202, response.text
    assert response.json() == {"license_id": license_id, "to": "ada@example.com", "queued": True}
    for _ in range(2):  # one Idempotency-Key: queued once
        response = api.post(
            f"/v1/licenses/{license_id}/send", {"to": "it@example.org"}, headers={"Idempotency-Key": "send-1"}
        )
        assert response.status_code == 202, response.text
        assert response.json()["to"] == "it@example.org"
    rows = _outbox(api)
    assert sorted(r.to_address for r in rows) == ["ada@example.com", "it@example.org"]
    assert all(r.attachments[0]["content"] == issued["license_file"] for r in rows)
    with api.session_factory() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "license.sent")).all()
        assert sorted(e.data["to"] for e in events) == ["ada@example.com", "it@example.org"]
    check_problem(api.post(f"/v1/licenses/{license_id}/send", {"to": "not an address"}), 422)
    api.revoke(license_id)
    check_problem(api.post(f"/v1/licenses/{license_id}/send", {}), 409, "license_revoked")
    check_problem(api.post("/v1/licenses/lic_nope/send", {}), 404, "license_not_found")
    assert len(_outbox(api)) == 2


# --- customers ----------------------------------------------------------------------------------------
def test_a_second_customer_with_one_address_needs_allow_duplicate(api: Api) -> None:
    first = api.customer()
    body = {"name": "Ada again", "email": "ADA@example.com"}
    problem = check_problem(api.post("/v1/customers", body), 409, "customer_exists")
    assert problem["customer_id"] == first["id"]
    response = api.post("/v1/customers", {**body, "allow_duplicate": True})
    assert response.status_code == 201, response.text


def test_patch_customer_changes_fields_recomputes_organisation_and_audits(api: Api) -> None:
    customer = api.customer()
    other = api.customer(email="bob@other.example", name="Bob")
    response = api.client.patch(
        f"/v1/customers/{customer['id']}", json={"email": "ada@new.example", "company": None}, headers=api.auth
    )
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["email"] == "ada@new.example" and out["organisation"] == "new.example" and out["company"] is None
    assert out["name"] == customer["name"]
    with api.session_factory() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.updated")).one()
        assert event.data["before"] == {"email": "ada@example.com", "company": "Example Ltd"}
        assert event.data["after"] == {"email": "ada@new.example", "company": None}
    clash = api.client.patch(f"/v1/customers/{customer['id']}", json={"email": other["email"]}, headers=api.auth)
    assert check_problem(clash, 409, "customer_exists")["customer_id"] == other["id"]
    bad = api.client.patch(f"/v1/customers/{customer['id']}", json={"email": "nope"}, headers=api.auth)
    check_problem(bad, 422, "invalid_email")
    missing = api.client.patch("/v1/customers/cus_nope", json={"name": "X"}, headers=api.auth)
    check_problem(missing, 404, "customer_not_found")
