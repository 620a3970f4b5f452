"""Leads of one new organisation at the same moment, on PostgreSQL through a real server: 30 contact
requests give it exactly one owner and 30 leads, each mailed to that owner once; 30 trials at once give
one trial and 30 leads, the 29 refused ones included."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.catalog import SalesRouting
from licensing.context import Core
from licensing.models import Lead, Organisation, OutboxMessage

pytestmark = pytest.mark.postgres


@pytest.fixture
def core(core: Core) -> Core:
    routing = SalesRouting(default="owner@sales.example")
    return dataclasses.replace(core, catalog=dataclasses.replace(core.catalog, routing=routing))


def test_30_leads_of_one_new_organisation_at_once_give_it_one_owner(live_server: Any, fire: Any) -> None:
    def send(client: httpx.Client, i: int) -> httpx.Response:
        body = {"email": f"user{i}@Lead-Race.example", "company": "Race", "interest": "quote"}
        return client.post("/v1/contact-requests", json=body)

    responses = fire(live_server.base_url, send)

    assert Counter(r.status_code for r in responses) == Counter({202: 30}), [r.text for r in responses]
    with Session(live_server.engine) as session:
        owners = list(session.execute(select(Organisation.organisation, Organisation.owner)))
        assert owners == [("lead-race.example", "owner@sales.example")]
        assert session.scalar(select(func.count()).select_from(Lead)) == 30
        mails = Counter(
            session.scalars(select(OutboxMessage.to_address).where(OutboxMessage.dedupe_key.startswith("lead:")))
        )
        assert mails == Counter({"owner@sales.example": 30})


def test_30_trials_of_one_organisation_at_once_are_30_leads(live_server: Any, fire: Any) -> None:
    def send(client: httpx.Client, i: int) -> httpx.Response:
        body = {"email": f"user{i}@trial-race.example", "company": "Race", "accept_terms": True}
        return client.post("/v1/trials", json=body)

    responses = fire(live_server.base_url, send)

    assert Counter(r.status_code for r in responses) == Counter({201: 1, 409: 29})
    with Session(live_server.engine) as session:
        outcomes = Counter(session.scalars(select(Lead.outcome)))
        assert outcomes == Counter({"issued": 1, "refused": 29})
        assert session.scalar(select(func.count()).select_from(Organisation)) == 1
