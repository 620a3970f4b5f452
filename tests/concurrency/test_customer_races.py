"""Creating customers at the same moment, on PostgreSQL through a real server: 30 creations of one address
(in differing case) give exactly one customer and 29 answers of 409 ``customer_exists`` naming it; 30 edits
moving 30 customers to one address leave it with exactly one of them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.models import Customer

pytestmark = pytest.mark.postgres


def test_30_creations_of_one_address_at_once_give_one_customer(
    live_server: Any, fire: Any, auth: dict[str, str]
) -> None:
    def send(client: httpx.Client, i: int) -> httpx.Response:
        body = {"name": f"Buyer {i}", "email": "Buyer@Cust-Race.example" if i % 2 else "buyer@cust-race.example"}
        return client.post("/v1/customers", json={**body, "company": "Race"}, headers=auth)

    responses = fire(live_server.base_url, send)

    assert Counter(r.status_code for r in responses) == Counter({201: 1, 409: 29}), [r.text for r in responses]
    created = next(r.json()["id"] for r in responses if r.status_code == 201)
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"customer_exists"}
    assert {r.json()["customer_id"] for r in responses if r.status_code == 409} == {created}
    with Session(live_server.engine) as session:
        count = session.scalar(
            select(func.count()).select_from(Customer).where(func.lower(Customer.email) == "buyer@cust-race.example")
        )
        assert count == 1


def test_30_edits_to_one_address_at_once_leave_one_customer_with_it(
    live_server: Any, fire: Any, auth: dict[str, str]
) -> None:
    with httpx.Client(base_url=live_server.base_url, headers=auth, timeout=30) as client:
        ids = []
        for i in range(30):
            answer = client.post("/v1/customers", json={"name": f"C{i}", "email": f"c{i}@edit-race.example"})
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])

    def send(client: httpx.Client, i: int) -> httpx.Response:
        return client.patch(f"/v1/customers/{ids[i]}", json={"email": "shared@edit-race.example"}, headers=auth)

    responses = fire(live_server.base_url, send)

    assert Counter(r.status_code for r in responses) == Counter({200: 1, 409: 29}), [r.text for r in responses]
    with Session(live_server.engine) as session:
        count = session.scalar(
            select(func.count()).select_from(Customer).where(Customer.email == "shared@edit-race.example")
        )
        assert count == 1
