"""GET /metrics (SPEC section 7): Prometheus text for the operator's scraper alone, counting requests by
route template and status, licenses issued, self-serve outcomes, and the outbox read from the database.
(One process here; tests/service/test_serve_metrics.py counts across worker processes.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from api_testkit import Api, check_problem, confirm_link, confirmation_path
from fastapi.testclient import TestClient
from livetools import serve_in_thread
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import Engine

from api.app import create_app
from licensing.context import Core
from licensing.kit.settings import Settings

TOKEN = "metrics-token-0f3a9c2e7b"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def self_serve_confirmation() -> str:
    return "email"


@pytest.fixture
def client(settings: Settings, core: Core, engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}), core=core, engine=engine)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as test_client:
        yield test_client


def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_route_template_and_status(client: Any) -> None:
    before = scrape(client)
    for _ in range(3):
        assert client.get("/v1/self-serve-requests/ssr_nope", headers={"Authorization": "Bearer x"}).status_code == 404
    assert client.get("/no/such/page").status_code == 404
    after = scrape(client)
    route = "/v1/self-serve-requests/{request_id}"
    key = {"method": "GET", "route": route, "status": "404"}
    assert (
        value(after, "licensing_http_requests_total", **key) - value(before, "licensing_http_requests_total", **key)
        == 3
    )
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "licensing_http_requests_total", **unmatched) >= 1
    assert not any("ssr_nope" in str(labels) or "/no/such" in str(labels) for _name, labels in after)
    count = "licensing_http_request_duration_seconds_count"
    assert value(after, count, route=route) - value(before, count, route=route) == 3


def test_licenses_self_serve_and_outbox(client: Any, api: Api, clock: Any) -> None:
    before = scrape(client)
    customer = api.customer(email="m@metrics-7a2b.example")["id"]
    api.issue(customer, tier="enterprise", seats=5, duration_days=30)
    asked = client.post("/v1/trials", json={"email": "ada@metrics-8c4d.example", "company": "M", "accept_terms": True})
    assert asked.status_code == 202
    clock.set(clock() + timedelta(minutes=5))
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("licensing_licenses_issued_total", tier="enterprise", source="api") == 1
    assert delta("licensing_self_serve_requests_total", kind="trial", outcome="requested") == 1
    # The confirmation mail waits in the outbox (nothing sends it here): read from the database.
    assert value(after, "licensing_outbox_backlog") >= 1
    assert value(after, "licensing_outbox_oldest_unsent_age_seconds") >= 300

    confirmed = confirm_link(client, confirmation_path(client.app, asked.json()["id"]))
    assert confirmed.status_code == 201
    again = scrape(client)
    assert (
        value(again, "licensing_licenses_issued_total", tier="professional", source="trial")
        - value(after, "licensing_licenses_issued_total", tier="professional", source="trial")
        == 1
    )
    assert (
        value(again, "licensing_self_serve_requests_total", kind="trial", outcome="issued")
        - value(after, "licensing_self_serve_requests_total", kind="trial", outcome="issued")
        == 1
    )


def test_a_refused_request_issues_nothing_counted(client: Any, api: Api) -> None:
    before = scrape(client)
    customer = api.customer(email="n@metrics-7a2b.example")["id"]
    response = api.post("/v1/licenses", {"customer_id": customer, "tier": "professional"})  # no seats: 422
    assert response.status_code == 422
    after = scrape(client)
    assert value(after, "licensing_licenses_issued_total", tier="professional", source="api") == value(
        before, "licensing_licenses_issued_total", tier="professional", source="api"
    )


def test_without_the_token_metrics_are_refused(client: Any) -> None:
    check_problem(client.get("/metrics"), 403, "metrics_forbidden")
    check_problem(client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 403, "metrics_forbidden")


def test_without_a_token_only_loopback_unforwarded_callers_scrape(
    settings: Settings, core: Core, engine: Engine
) -> None:
    import httpx

    # The TestClient's peer is "testclient": not this machine's loopback.
    with TestClient(create_app(settings, core=core, engine=engine)) as test_client:
        check_problem(test_client.get("/metrics"), 403, "metrics_forbidden")
    with serve_in_thread(create_app(settings, core=core, engine=engine)) as base:
        assert httpx.get(f"{base}/metrics", timeout=30).status_code == 200
        # Through a reverse proxy on this host: not from inside.
        assert httpx.get(f"{base}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=30).status_code == 403
    trusting = settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    with serve_in_thread(create_app(trusting, core=core, engine=engine)) as base:
        assert httpx.get(f"{base}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=30).status_code == 403
