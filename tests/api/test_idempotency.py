"""Idempotency-Key on POSTs: replay for the same key and body, 409 for another body, per API key."""

from __future__ import annotations

from typing import Any

from api_testkit import Api, check_problem


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def test_same_key_and_body_replays_the_first_answer(api: Api) -> None:
    customer = api.customer()["id"]
    body = {"customer_id": customer, "tier": "enterprise", "seats": 10, "duration_days": 30}
    first = api.post("/v1/licenses", body, headers=_key("order-1"))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    before = api.counts()

    second = api.post("/v1/licenses", body, headers=_key("order-1"))
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["content-type"].startswith("application/json")
    assert second.json() == first.json()
    assert second.json()["license"]["id"] == first.json()["license"]["id"]

    # The same body in other JSON spelling (key order, spaces) is the same request.
    respelled = api.client.post(
        "/v1/licenses",
        content=f'{{ "duration_days": 30, "seats": 10, "tier": "enterprise", "customer_id": "{customer}" }}',
        headers={**api.auth, **_key("order-1"), "Content-Type": "application/json"},
    )
    assert respelled.status_code == 201 and respelled.json() == first.json()

    assert api.counts() == before, "a replay writes nothing"
    licenses = api.list_all("/v1/licenses")
    assert [lic["id"] for lic in licenses] == [first.json()["license"]["id"]]
    issued = api.get("/v1/audit-events", params={"action": "license.issued"}).json()["data"]
    assert len(issued) == 1


def test_same_key_with_another_body_is_a_conflict(api: Api) -> None:
    customer = api.customer()["id"]
    assert api.post("/v1/licenses", {"customer_id": customer, "tier": "free"}, headers=_key("k")).status_code == 201
    before = api.counts()
    other = {"customer_id": customer, "tier": "enterprise", "seats": 100, "duration_days": 30}
    check_problem(api.post("/v1/licenses", other, headers=_key("k")), 409, "idempotency_conflict")
    # Another endpoint with the same key is another request too.
    check_problem(api.post("/v1/customers", {"name": "X", "email": "x@x.example"}, headers=_key("k")), 409)
    assert api.counts() == before


def test_same_key_and_body_on_another_path_is_a_conflict(api: Api) -> None:
    """The path is part of the request: the same key and the very same body posted to another license's
    renewal must not replay the first renewal (which would answer for a license that was not renewed)."""
    customer = api.customer()["id"]
    first, second = (api.issue(customer, tier="enterprise", seats=100)["license"]["id"] for _ in range(2))
    body = {"duration_days": 30}
    renewed = api.post(f"/v1/licenses/{first}/renew", body, headers=_key("renew-1"))
    assert renewed.status_code == 201, renewed.text
    before = api.counts()

    check_problem(api.post(f"/v1/licenses/{second}/renew", body, headers=_key("renew-1")), 409, "idempotency_conflict")
    assert api.counts() == before
    untouched = api.license(second)
    assert untouched["status"] == "active" and untouched["superseded_by"] is None
    assert [lic["id"] for lic in api.list_all("/v1/licenses") if lic["supersedes"] == second] == []
    # The first renewal still replays for its own path.
    again = api.post(f"/v1/licenses/{first}/renew", body, headers=_key("renew-1"))
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == renewed.json()


def test_keys_belong_to_one_api_key(api: Api, make_api_key: Any) -> None:
    customer = api.customer()["id"]
    body = {"customer_id": customer, "tier": "free"}
    mine = api.post("/v1/licenses", body, headers=_key("shared-string"))
    other_auth = {"Authorization": f"Bearer {make_api_key('sales', 'sam')}"}
    theirs = api.client.post("/v1/licenses", json=body, headers={**other_auth, **_key("shared-string")})
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["license"]["id"] != theirs.json()["license"]["id"]
    assert theirs.json()["license"]["created_by"].startswith("sam")
    assert len(api.list_all("/v1/licenses")) == 2


def test_a_failed_request_does_not_use_up_its_key(api: Api) -> None:
    check_problem(
        api.post("/v1/licenses", {"customer_id": "cus_nope", "tier": "free"}, headers=_key("retry-me")),
        404,
        "customer_not_found",
    )
    customer = api.customer()["id"]
    retried = api.post("/v1/licenses", {"customer_id": customer, "tier": "free"}, headers=_key("retry-me"))
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers


def test_customers_renewals_and_revocations_replay_too(api: Api) -> None:
    first = api.post("/v1/customers", {"name": "Ada", "email": "ada@example.com"}, headers=_key("c1"))
    again = api.post("/v1/customers", {"name": "Ada", "email": "ada@example.com"}, headers=_key("c1"))
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert len(api.list_all("/v1/customers")) == 1

    lic = api.issue(first.json()["id"], tier="enterprise", seats=100)["license"]
    renew = [api.post(f"/v1/licenses/{lic['id']}/renew", {"duration_days": 30}, headers=_key("r1")) for _ in range(2)]
    assert [r.status_code for r in renew] == [201, 201]
    assert renew[0].json() == renew[1].json()
    assert renew[1].headers["idempotent-replayed"] == "true"

    new_id = renew[0].json()["license"]["id"]
    revoke = [api.post(f"/v1/licenses/{new_id}/revoke", {"reason": "test"}, headers=_key("v1")) for _ in range(2)]
    assert [r.status_code for r in revoke] == [200, 200], "a replayed revocation is not 409 already_revoked"
    assert revoke[0].json() == revoke[1].json()
    check_problem(api.post(f"/v1/licenses/{new_id}/revoke", {"reason": "test"}), 409, "already_revoked")


def test_public_trials_replay_instead_of_409(client: Any, api: Api) -> None:
    body = {"email": "it@replay.example", "company": "Replay", "accept_terms": True}
    first = client.post("/v1/trials", json=body, headers=_key("trial-1"))
    second = client.post("/v1/trials", json=body, headers=_key("trial-1"))
    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert first.json() == second.json()
    check_problem(client.post("/v1/trials", json=body), 409, "trial_already_used")
    free = [client.post("/v1/free-licenses", json={"email": "f@replay.example"}, headers=_key("free-1")) for _ in "ab"]
    assert free[0].json() == free[1].json()
    assert len(api.list_all("/v1/licenses")) == 2


def test_unusable_keys_are_refused(api: Api) -> None:
    customer = api.customer()["id"]
    before = api.counts()
    for unusable in ("x" * 256, ""):
        check_problem(
            api.post("/v1/licenses", {"customer_id": customer, "tier": "free"}, headers=_key(unusable)),
            422,
            "invalid_idempotency_key",
        )
    assert api.counts() == before


def test_a_stored_answer_opens_only_for_its_own_key_row_and_request(api: Api) -> None:
    """Answers are sealed under the Idempotency-Key and the service's secret, bound to their row: one moved
    onto another row (or altered) is refused, not replayed."""
    from sqlalchemy import select, update

    from licensing.models import IdempotencyRecord

    customer = api.customer()["id"]
    body = {"customer_id": customer, "tier": "free"}
    assert api.post("/v1/licenses", body, headers=_key("a")).status_code == 201
    assert api.post("/v1/licenses", body, headers=_key("b")).status_code == 201
    with api.session_factory() as session:
        rows = session.scalars(select(IdempotencyRecord).order_by(IdempotencyRecord.id)).all()
        assert [r.key for r in rows] != ["a", "b"] and all(r.response_body.startswith("sealed:v1:") for r in rows)
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == rows[1].id)
            .values(response_body=rows[0].response_body)
        )
        session.commit()
    assert api.post("/v1/licenses", body, headers=_key("a")).headers["idempotent-replayed"] == "true"
    check_problem(api.post("/v1/licenses", body, headers=_key("b")), 409, "idempotency_unreadable")


def test_answers_are_kept_a_day_then_pruned_so_a_late_retry_runs_again(
    api: Api, settings: Any, core: Any, engine: Any, clock: Any
) -> None:
    from datetime import timedelta

    from licensing import context
    from licensing.access.idempotency import IdempotencyPruneTask

    start = core.now()
    clock.set(start)
    customer = api.customer()["id"]
    body = {"customer_id": customer, "tier": "enterprise", "seats": 10, "duration_days": 30}
    first = api.post("/v1/licenses", body, headers=_key("late-1")).json()["license"]["id"]
    runtime = context.start(settings, core=core, engine=engine)
    task = IdempotencyPruneTask(every_seconds=0)

    clock.set(start + timedelta(hours=23, minutes=59))
    assert task.run_due(runtime, 20) == 0
    assert api.post("/v1/licenses", body, headers=_key("late-1")).json()["license"]["id"] == first

    clock.set(start + timedelta(hours=24, minutes=1))
    assert task.run_due(runtime, 20) == 1
    later = api.post("/v1/licenses", body, headers=_key("late-1"))
    assert later.status_code == 201 and "idempotent-replayed" not in later.headers
    assert later.json()["license"]["id"] != first
