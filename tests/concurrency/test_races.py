"""Races on PostgreSQL through a real server: 30 requests released at the same moment.

Each test proves a concurrency promise of SPEC sections 1 and 5 by its end state in the database,
not only by the answers: one trial per organisation (and per installation), renewals that never
fork a line, one license per Idempotency-Key, and a revocation list that loses no revocation.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from licensing.models import Customer, IdempotencyRecord, License, RevocationList, TrialClaim
from licensing.verify import Keyring, load_revocations, verify

pytestmark = pytest.mark.postgres

PROBLEM = "application/problem+json"


def _statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def _assert_problems(responses: list[httpx.Response], status: int, code: str) -> None:
    for response in responses:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["code"] == code, response.text


def _scalar(engine: Any, query: Any) -> Any:
    with Session(engine) as session:
        return session.scalar(query)


def _issue(base_url: str, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, headers=auth, timeout=30) as client:
        customer = client.post(
            "/v1/customers",
            json={"name": "Race", "email": "ops@race.example", "company": "Race", "allow_duplicate": True},
        )
        assert customer.status_code == 201, customer.text
        body = {"customer_id": customer.json()["id"], "tier": "enterprise", "seats": 50, "duration_days": 365, **fields}
        issued = client.post("/v1/licenses", json=body)
        assert issued.status_code == 201, issued.text
        result: dict[str, Any] = issued.json()
        return result


@pytest.mark.parametrize(
    "shape",
    ["one organisation", "one installation"],
)
def test_concurrent_trials_yield_exactly_one(live_server, fire, keyring: Keyring, shape: str) -> None:
    """30 trial requests for one organisation (different addresses at one domain), or for one
    installation from 30 different organisations: one 201, 29 x 409 trial_already_used, and
    exactly one trial license, one claim per kind and one customer in the database."""

    def send(client: httpx.Client, i: int) -> httpx.Response:
        if shape == "one organisation":
            body = {"email": f"user{i}@Race-Org.example", "company": "Race Org", "accept_terms": True}
        else:
            body = {
                "email": f"it@org{i}.example",
                "company": f"Org {i}",
                "installation_id": "inst-shared-1",
                "accept_terms": True,
            }
        return client.post("/v1/trials", json=body)

    responses = fire(live_server.base_url, send)

    assert 500 not in _statuses(responses)
    winners = [r for r in responses if r.status_code == 201]
    assert len(winners) == 1, _statuses(responses)
    _assert_problems([r for r in responses if r.status_code != 201], 409, "trial_already_used")
    installation_id = None if shape == "one organisation" else "inst-shared-1"
    lic = verify(winners[0].json()["license_file"], keyring, installation_id=installation_id)
    assert lic.trial and lic.tier == "professional"

    engine = live_server.engine
    assert _scalar(engine, select(func.count()).select_from(License)) == 1
    assert _scalar(engine, select(func.count()).select_from(License).where(License.trial.is_(True))) == 1
    # The losers rolled back everything, their customers too.
    assert _scalar(engine, select(func.count()).select_from(Customer)) == 1
    with Session(engine) as session:
        claims = session.execute(select(TrialClaim.kind, TrialClaim.value, TrialClaim.license_id)).all()
    expected = (
        {("organisation", "race-org.example")} if shape == "one organisation" else {("installation", "inst-shared-1")}
    )
    assert expected <= {(kind, value) for kind, value, _ in claims}
    assert len(claims) == (1 if shape == "one organisation" else 2)
    assert {license_id for _, _, license_id in claims} == {lic.id}


def test_concurrent_renewals_never_fork_a_line(live_server, fire, auth: dict[str, str], keyring: Keyring) -> None:
    """30 renewals of one license: one 201, 29 x 409 license_superseded; the line has two licenses."""
    original = _issue(live_server.base_url, auth)["license"]["id"]

    def send(client: httpx.Client, i: int) -> httpx.Response:
        return client.post(f"/v1/licenses/{original}/renew", json={"duration_days": 30 + i}, headers=auth)

    responses = fire(live_server.base_url, send)

    assert 500 not in _statuses(responses)
    winners = [r for r in responses if r.status_code == 201]
    assert len(winners) == 1, _statuses(responses)
    _assert_problems([r for r in responses if r.status_code != 201], 409, "license_superseded")
    successor = winners[0].json()["license"]
    assert successor["supersedes"] == original and successor["line_id"] == original
    assert verify(winners[0].json()["license_file"], keyring).claims["supersedes"] == original

    engine = live_server.engine
    with Session(engine) as session:
        line = session.execute(select(License.id, License.supersedes_id).where(License.line_id == original)).all()
        forks = session.execute(
            select(License.supersedes_id)
            .where(License.supersedes_id.is_not(None))
            .group_by(License.supersedes_id)
            .having(func.count() > 1)
        ).all()
    assert sorted(line, key=lambda row: row[1] or "") == [(original, None), (successor["id"], original)]
    assert forks == []
    assert _scalar(engine, select(func.count()).select_from(License)) == 2


def test_concurrent_posts_with_one_idempotency_key_make_one_license(live_server, fire, auth: dict[str, str]) -> None:
    """30 identical POST /v1/licenses with one Idempotency-Key: all 201, one license id, one row."""
    with httpx.Client(base_url=live_server.base_url, headers=auth, timeout=30) as client:
        customer = client.post("/v1/customers", json={"name": "Idem", "email": "idem@race.example"})
        assert customer.status_code == 201, customer.text
    body = {"customer_id": customer.json()["id"], "tier": "professional", "seats": 25, "duration_days": 365}
    headers = {**auth, "Idempotency-Key": "race-key-1"}

    def send(client: httpx.Client, i: int) -> httpx.Response:
        return client.post("/v1/licenses", json=body, headers=headers)

    responses = fire(live_server.base_url, send)

    assert _statuses(responses) == Counter({201: 30}), [r.text for r in responses if r.status_code != 201][:3]
    ids = {r.json()["license"]["id"] for r in responses}
    assert len(ids) == 1
    assert len({r.text for r in responses}) == 1  # the replays are the first answer, byte for byte
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 29

    engine = live_server.engine
    assert _scalar(engine, select(func.count()).select_from(License)) == 1
    assert _scalar(engine, select(License.id)) == ids.pop()
    assert _scalar(engine, select(func.count()).select_from(IdempotencyRecord)) == 1


def test_concurrent_revocations_are_all_in_the_signed_list(
    live_server, fire, auth: dict[str, str], keyring: Keyring
) -> None:
    """30 revocations of 30 different licenses at once: every one is in the final signed list."""
    with httpx.Client(base_url=live_server.base_url, headers=auth, timeout=30) as client:
        customer = client.post("/v1/customers", json={"name": "Revoke", "email": "revoke@race.example"})
        assert customer.status_code == 201, customer.text
        license_ids = []
        for _ in range(30):
            issued = client.post(
                "/v1/licenses", json={"customer_id": customer.json()["id"], "tier": "free", "installation_id": "x"}
            )
            assert issued.status_code == 201, issued.text
            license_ids.append(issued.json()["license"]["id"])

    def send(client: httpx.Client, i: int) -> httpx.Response:
        return client.post(f"/v1/licenses/{license_ids[i]}/revoke", json={"reason": f"race {i}"}, headers=auth)

    responses = fire(live_server.base_url, send)

    assert _statuses(responses) == Counter({200: 30}), [r.text for r in responses if r.status_code != 200][:3]
    assert all(r.json()["status"] == "revoked" for r in responses)
    with httpx.Client(base_url=live_server.base_url, timeout=30) as client:
        published = client.get("/v1/revocations")
    assert published.status_code == 200
    revoked = load_revocations(published.text, keyring)
    assert set(revoked.revoked) == set(license_ids)

    engine = live_server.engine
    with Session(engine) as session:
        listing = session.get(RevocationList, 1)
        assert listing is not None and listing.entries == 30
        assert session.execute(text("SELECT count(*) FROM licenses WHERE revoked_at IS NOT NULL")).scalar() == 30
