"""LICENSING_PUBLIC_RATE_LIMIT: requests per minute per client address on the public endpoints."""

from __future__ import annotations

from typing import Any

from api_testkit import check_problem
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from licensing.core import Core
from licensing.settings import Settings

LIMIT = 3


def test_public_endpoints_are_rate_limited(
    settings: Settings, core: Core, engine: Engine, auth: dict[str, str]
) -> None:
    app = create_app(settings.model_copy(update={"public_rate_limit": LIMIT}), core=core, engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        # The window is a clock minute, so at most one window boundary falls inside a quick burst:
        # 2 * LIMIT + 1 requests must meet the limit at least once.
        answers = [client.post("/v1/licenses/refresh", json={"license_file": "x"}) for _ in range(2 * LIMIT + 1)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited, [a.status_code for a in answers]
        assert {a.status_code for a in answers} <= {422, 429}
        body = check_problem(limited[0], 429, "rate_limited")
        assert "minute" in body["detail"]
        assert limited[0].headers["retry-after"] == "60"
        # Sales ops and the key set are not limited.
        for _ in range(2 * LIMIT + 1):
            assert client.get("/v1/customers", headers=auth).status_code == 200
            assert client.get("/.well-known/jwks.json").status_code == 200


def test_a_limit_of_zero_turns_it_off(client: Any) -> None:
    for _ in range(40):
        check_problem(client.post("/v1/licenses/refresh", json={"license_file": "x"}), 422, "invalid_license")
