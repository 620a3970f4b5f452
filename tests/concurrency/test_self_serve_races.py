"""Confirmation links followed at the same moment, on PostgreSQL through a real server: one request
confirmed 30 times issues one license; 30 pending requests of one organisation confirmed together
yield one trial (the others are refused, trial_already_used)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.models import License, OutboxMessage, SelfServeRequest, TrialClaim

pytestmark = pytest.mark.postgres

LINK = re.compile(r"/confirm/(ssc_[A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def self_serve_confirmation() -> str:
    return "email"


def _ask(base_url: str, email: str) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post("/v1/trials", json={"email": email, "company": "Race", "accept_terms": True})
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body


def _link(engine: Any, request_id: str) -> str:
    with Session(engine) as session:
        text = session.scalars(
            select(OutboxMessage.text_body).where(OutboxMessage.dedupe_key == f"confirm:{request_id}")
        ).one()
    match = LINK.search(text)
    assert match, text
    return match.group(0)


def _form(base_url: str, path: str) -> tuple[dict[str, str], dict[str, str]]:
    """A visitor's CSRF cookie and the confirmation form's fields, fetched from the page beforehand."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        page = client.get(path)
        assert page.status_code == 200, page.text
        match = CSRF.search(page.text)
        assert match
        return dict(client.cookies), {"csrf_token": match.group(1)}


def _count(engine: Any, query: Any) -> int:
    with Session(engine) as session:
        return int(session.scalar(query) or 0)


def test_one_link_confirmed_at_once_30_times_issues_one_license(live_server: Any, fire: Any) -> None:
    pending = _ask(live_server.base_url, "it@one-link.example")
    path = _link(live_server.engine, pending["id"])
    cookies, form = _form(live_server.base_url, path)

    def send(client: httpx.Client, i: int) -> httpx.Response:
        client.cookies.update(cookies)
        return client.post(path, data=form)

    responses = fire(live_server.base_url, send)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({201: 1, 410: 29}), statuses
    assert all("already confirmed" in r.text for r in responses if r.status_code == 410)
    engine = live_server.engine
    assert _count(engine, select(func.count()).select_from(License)) == 1
    assert _count(engine, select(func.count()).select_from(TrialClaim)) == 1
    assert (
        _count(
            engine,
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("license:")),
        )
        == 1
    )
    with Session(engine) as session:
        row = session.get(SelfServeRequest, pending["id"])
        assert row is not None and row.status == "issued" and row.license_id is not None


def test_requests_of_one_organisation_confirmed_at_once_yield_one_trial(live_server: Any, fire: Any) -> None:
    count = 30
    requests = [_ask(live_server.base_url, f"user{i}@Race-Org.example") for i in range(count)]
    paths = [_link(live_server.engine, r["id"]) for r in requests]
    forms = [_form(live_server.base_url, path) for path in paths]

    def send(client: httpx.Client, i: int) -> httpx.Response:
        cookies, form = forms[i]
        client.cookies.update(cookies)
        return client.post(paths[i], data=form)

    responses = fire(live_server.base_url, send, count)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({201: 1, 409: count - 1}), statuses
    assert all("no longer available" in r.text for r in responses if r.status_code == 409)
    engine = live_server.engine
    assert _count(engine, select(func.count()).select_from(License)) == 1
    assert _count(engine, select(func.count()).select_from(TrialClaim)) == 1
    with Session(engine) as session:
        rows = Counter((row.status, row.refusal_code) for row in session.scalars(select(SelfServeRequest)))
    assert rows == Counter({("issued", None): 1, ("refused", "trial_already_used"): count - 1})
