"""GET /v1/audit-events: every write, with who did it, what it touched and the details."""

from __future__ import annotations

from typing import Any

from api_testkit import Api, aware, check_problem


def test_every_write_is_audited(api: Api, client: Any) -> None:
    customer = api.customer(email="ada@example.com", name="Ada", company="Example")
    lic = api.issue(customer["id"], tier="enterprise", seats=7, note="PO 1")["license"]
    renewal = api.renew(lic["id"], duration_days=30)["license"]
    api.revoke(renewal["id"], reason="chargeback")
    trial = client.post("/v1/trials", json={"email": "t@trial.example", "company": "T", "accept_terms": True})
    assert trial.status_code == 201

    events = api.list_all("/v1/audit-events")
    for event in events:
        assert set(event) == {"id", "occurred_at", "actor", "action", "subject_type", "subject_id", "data"}
        assert aware(event["occurred_at"])
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True), "newest first"

    def one(action: str, subject_id: str) -> dict[str, Any]:
        [event] = [e for e in events if e["action"] == action and e["subject_id"] == subject_id]
        return event

    created = one("customer.created", customer["id"])
    assert created["subject_type"] == "customer"
    assert created["actor"].startswith("sally (key_")
    assert created["data"] == {"name": "Ada", "email": "ada@example.com", "company": "Example"}

    issued = one("license.issued", lic["id"])
    assert issued["subject_type"] == "license" and issued["actor"].startswith("sally")
    assert issued["data"]["customer_id"] == customer["id"]
    assert issued["data"]["tier"] == "enterprise" and issued["data"]["seats"] == 7 and issued["data"]["note"] == "PO 1"
    assert issued["data"]["key_id"] == lic["key_id"]

    renewed = one("license.issued", renewal["id"])
    assert renewed["data"]["supersedes"] == lic["id"] and renewed["actor"].startswith("sally")

    revoked = one("license.revoked", renewal["id"])
    assert revoked["data"] == {"reason": "chargeback"} and revoked["actor"].startswith("sally")

    trial_id = trial.json()["license"]["id"]
    assert one("license.issued", trial_id)["actor"].startswith("public:")
    assert one("customer.created", trial.json()["license"]["customer_id"])["actor"].startswith("public:")

    # Filters.
    by_subject = api.get("/v1/audit-events", params={"subject_id": renewal["id"]}).json()["data"]
    assert {e["action"] for e in by_subject} == {"license.issued", "license.revoked"}
    by_action = api.get("/v1/audit-events", params={"action": "license.revoked"}).json()["data"]
    # Revoking the renewal revoked its line: the license it superseded too, each audited.
    assert [e["subject_id"] for e in by_action] == [lic["id"], renewal["id"]]
    assert one("license.revoked", lic["id"])["data"] == {"reason": "chargeback", "line_of": renewal["id"]}


def test_audit_pagination(api: Api) -> None:
    for i in range(5):
        api.customer(email=f"c{i}@example.com", name=f"C{i}")
    everything = api.get("/v1/audit-events", params={"limit": 200}).json()
    assert everything["next_cursor"] is None
    total = len(everything["data"])
    assert total >= 5
    paged = api.list_all("/v1/audit-events", limit=2)
    assert [e["id"] for e in paged] == [e["id"] for e in everything["data"]]
    assert len({e["id"] for e in paged}) == total
    first = api.get("/v1/audit-events", params={"limit": 2}).json()
    assert len(first["data"]) == 2 and first["next_cursor"] == str(first["data"][-1]["id"])


def test_reading_is_not_audited_and_failures_leave_no_trace(api: Api) -> None:
    api.customer()
    before = api.counts()
    api.get("/v1/customers")
    api.get("/v1/licenses")
    check_problem(api.post("/v1/licenses", {"customer_id": "cus_nope", "tier": "free"}), 404)
    assert api.counts() == before
