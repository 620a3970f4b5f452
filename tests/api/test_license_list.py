"""GET /v1/licenses: filters by customer, tier and status (as time moves), and cursor pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api_testkit import Api

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def _ids(api: Api, **params: Any) -> set[str]:
    return {lic["id"] for lic in api.list_all("/v1/licenses", **params)}


def test_status_filter_follows_the_clock(api: Api, clock: Any) -> None:
    clock.set(T0)
    customer = api.customer()["id"]
    graceful = api.issue(
        customer, tier="enterprise", seats=100, expires_at=(T0 + timedelta(days=10)).isoformat(), grace_days=30
    )
    scheduled = api.issue(
        customer,
        tier="enterprise",
        seats=100,
        starts_at=(T0 + timedelta(days=100)).isoformat(),
        expires_at=(T0 + timedelta(days=200)).isoformat(),
    )
    renewed = api.issue(customer, tier="professional", seats=5, duration_days=365)
    renewal = api.renew(renewed["license"]["id"], duration_days=30)
    revoked = api.issue(customer, tier="professional", seats=5, duration_days=365)
    api.revoke(revoked["license"]["id"])
    free = api.issue(customer, tier="free")
    ids = {
        "graceful": graceful["license"]["id"],
        "scheduled": scheduled["license"]["id"],
        "renewed": renewed["license"]["id"],
        "renewal": renewal["license"]["id"],
        "revoked": revoked["license"]["id"],
        "free": free["license"]["id"],
    }

    def expect(**by_status: set[str]) -> None:
        for status in ("active", "grace", "expired", "scheduled", "superseded", "revoked"):
            wanted = {ids[name] for name in by_status.get(status, set())}
            assert _ids(api, status=status) == wanted, f"status={status} at {clock()}"
            for license_id in wanted:
                assert api.license(license_id)["status"] == status
        every = set().union(*by_status.values())
        assert _ids(api) == {ids[name] for name in every}

    expect(
        active={"graceful", "renewal", "free"},
        scheduled={"scheduled"},
        superseded={"renewed"},
        revoked={"revoked"},
    )
    clock.set(T0 + timedelta(days=20))
    expect(
        active={"renewal", "free"},
        grace={"graceful"},
        scheduled={"scheduled"},
        superseded={"renewed"},
        revoked={"revoked"},
    )
    clock.set(T0 + timedelta(days=150))
    expect(
        active={"scheduled", "renewal", "free"},
        expired={"graceful"},
        superseded={"renewed"},
        revoked={"revoked"},
    )
    # The renewal is in its 10-day grace just after its end (30 days counted from the old end).
    renewal_end = datetime.fromisoformat(renewal["license"]["expires_at"].replace("Z", "+00:00"))
    assert renewal_end == T0 + timedelta(days=365 + 30)
    clock.set(renewal_end + timedelta(days=1))
    assert ids["renewal"] in _ids(api, status="grace")
    # Filters combine.
    assert _ids(api, status="expired", tier="enterprise") == {ids["graceful"], ids["scheduled"]}
    assert _ids(api, status="expired", tier="professional") == set()


def test_filter_by_customer_and_tier(api: Api) -> None:
    ada = api.customer(email="ada@example.com")["id"]
    bob = api.customer(email="bob@other.example", name="Bob")["id"]
    ada_free = api.issue(ada, tier="free")["license"]["id"]
    ada_ent = api.issue(ada, tier="enterprise", seats=100)["license"]["id"]
    bob_pro = api.issue(bob, tier="professional", seats=2, duration_days=30)["license"]["id"]
    bob_trial = api.issue(bob, tier="professional", trial=True)["license"]["id"]

    assert _ids(api, customer_id=ada) == {ada_free, ada_ent}
    assert _ids(api, customer_id=bob) == {bob_pro, bob_trial}
    assert _ids(api, tier="free") == {ada_free}
    assert _ids(api, tier="professional") == {bob_pro, bob_trial}
    assert _ids(api, tier="enterprise", customer_id=bob) == set()
    assert _ids(api, customer_id="cus_nobody") == set()
    for lic in api.list_all("/v1/licenses", customer_id=bob):
        assert lic["customer_id"] == bob and lic["tier"] == "professional"


def test_filter_by_installation(api: Api) -> None:
    customer = api.customer()["id"]
    bound = api.issue(customer, tier="free", installation_id="srv-1")["license"]["id"]
    api.issue(customer, tier="free")
    assert _ids(api, installation_id="srv-1") == {bound}


def test_pagination_has_no_gaps_or_duplicates(api: Api) -> None:
    customer = api.customer()["id"]
    created = [api.issue(customer, tier="free")["license"]["id"] for _ in range(5)]
    pages = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get("/v1/licenses", params=params).json()
        pages.append([lic["id"] for lic in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    flat = [i for p in pages for i in p]
    assert len(flat) == len(set(flat)) == 5 and set(flat) == set(created)
    assert flat == sorted(flat, reverse=True), "newest first"
    # With a filter too.
    assert len(api.list_all("/v1/licenses", limit=1, tier="free", customer_id=customer)) == 5
