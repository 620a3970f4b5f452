"""SPEC section 8's races on PostgreSQL through a real server, 30 requests released at once: activating one
license gives one bound license, and one usage report is stored once (one receipt, one true-up)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from airgaptools import DAY, day_start
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.airgap import InstallationKey, activation_request, usage_report
from licensing.models import ActivationRequest, InstallationBinding, License, TrueUp, UsageReport

pytestmark = pytest.mark.postgres


def _count(engine: Any, model: Any, *where: Any) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _sold(base_url: str, auth: dict[str, str]) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, headers=auth, timeout=30) as client:
        customer = client.post(
            "/v1/customers", json={"name": "Race", "email": "ops@airgap-race.example", "company": "Race"}
        )
        assert customer.status_code == 201, customer.text
        body = {"customer_id": customer.json()["id"], "tier": "enterprise", "seats": 10, "duration_days": 365}
        issued = client.post("/v1/licenses", json=body)
        assert issued.status_code == 201, issued.text
        result: dict[str, Any] = issued.json()
        return result


@pytest.mark.parametrize("shape", ["one request", "one installation", "thirty installations"])
def test_concurrent_activations_of_one_license_bind_it_once(
    live_server: Any, fire: Any, auth: dict[str, str], shape: str
) -> None:
    sold = _sold(live_server.base_url, auth)
    keys = [InstallationKey.generate() for _ in range(30 if shape == "thirty installations" else 1)]
    one = activation_request(keys[0], "inst-0", license_text=sold["license_file"])

    def send(client: httpx.Client, i: int) -> httpx.Response:
        if shape == "one request":
            request = one
        elif shape == "one installation":
            request = activation_request(keys[0], "inst-0", license_text=sold["license_file"])
        else:
            request = activation_request(keys[i], f"inst-{i}", license_text=sold["license_file"])
        return client.post("/v1/activations", json={"request": request}, headers=auth)

    responses = fire(live_server.base_url, send)
    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses if r.status_code >= 500]
    bound = {r.json()["license"]["id"] for r in responses if r.status_code == 201}
    assert len(bound) == 1
    if shape == "thirty installations":
        refused = [r for r in responses if r.status_code == 409]
        assert len(refused) == 29 and {r.json()["code"] for r in refused} == {"already_activated"}
    else:
        assert all(r.status_code == 201 for r in responses)
    engine = live_server.engine
    line = sold["license"]["line_id"]
    assert _count(engine, License, License.line_id == line) == 2  # the license sold and the bound one
    assert _count(engine, InstallationBinding) == 1
    requests = _count(engine, ActivationRequest)
    assert requests == (1 if shape != "one installation" else 30)


def test_concurrent_posts_of_one_report_store_it_once(live_server: Any, fire: Any, auth: dict[str, str]) -> None:
    sold = _sold(live_server.base_url, auth)
    key = InstallationKey.generate()
    with httpx.Client(base_url=live_server.base_url, headers=auth, timeout=30) as client:
        activated = client.post(
            "/v1/activations", json={"request": activation_request(key, "inst-1", license_text=sold["license_file"])}
        )
        assert activated.status_code == 201, activated.text
    bound = activated.json()["license"]
    start = day_start(datetime.now(UTC)) - 10 * DAY
    report = usage_report(
        key,
        license_id=bound["id"],
        installation_id="inst-1",
        seq=1,
        prev=None,
        period_start=start,
        period_end=start + 3 * DAY,
        daily=[(start, 8), (start + DAY, 14), (start + 2 * DAY, 11)],
    )

    def send(client: httpx.Client, i: int) -> httpx.Response:
        return client.post("/v1/usage-reports", json={"report": report}, headers=auth)

    responses = fire(live_server.base_url, send)
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["receipt"] for r in responses}) == 1
    assert {r.json()["overage"] for r in responses} == {4}
    engine = live_server.engine
    assert _count(engine, UsageReport) == 1
    assert _count(engine, TrueUp) == 1
