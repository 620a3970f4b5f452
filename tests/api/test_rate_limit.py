"""LICENSING_PUBLIC_RATE_LIMIT: requests per minute per client address on the public endpoints."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from api_testkit import check_problem
from fastapi.testclient import TestClient
from limits.storage import MemoryStorage
from pydantic import SecretStr
from sqlalchemy import Engine

from api.app import create_app
from api.ratelimit import PublicRateLimit, rate_limit_storage
from licensing.context import Core
from licensing.kit.settings import Settings

LIMIT = 3


def test_public_endpoints_are_rate_limited(
    settings: Settings, core: Core, engine: Engine, auth: dict[str, str]
) -> None:
    app = create_app(settings.model_copy(update={"public_rate_limit": LIMIT}), core=core, engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        # 2 * LIMIT + 1 requests must meet the limit at least once, whatever the window.
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


REDIS_URL = "redis://127.0.0.1:6379/0"


def _limiter_in_redis(per_minute: int, prefix: str) -> PublicRateLimit:
    return PublicRateLimit(per_minute, rate_limit_storage(REDIS_URL, key_prefix=prefix))


def test_workers_sharing_redis_count_against_one_window(settings: Settings, core: Core, engine: Engine) -> None:
    """Two app processes (here: two apps) with LICENSING_REDIS_URL share each address's count."""
    configured = settings.model_copy(update={"public_rate_limit": LIMIT, "redis_url": SecretStr(REDIS_URL)})
    prefix = f"licensing-test:{uuid.uuid4().hex}"  # this test's own keys (the suite runs in parallel)
    first, second = (create_app(configured, core=core, engine=engine) for _ in range(2))
    for app in (first, second):
        assert app.state.rate_limiter.shared and not isinstance(app.state.rate_limiter.storage, MemoryStorage)
        app.state.rate_limiter = _limiter_in_redis(LIMIT, prefix)
    with TestClient(first) as one, TestClient(second) as two:
        # A window starts at an address's first request, so a quick burst stays in one. Alternating between
        # the two apps, each alone would see at most two of these four requests and allow them all.
        codes = [
            (one if n % 2 else two).post("/v1/licenses/refresh", json={"license_file": "x"}).status_code
            for n in range(LIMIT + 1)
        ]
        assert codes == [422] * LIMIT + [429]
        answer = one.post("/v1/licenses/refresh", json={"license_file": "x"})
        check_problem(answer, 429, "rate_limited")
        assert 55 <= int(answer.headers["retry-after"]) <= 60  # the window's rest, from Redis
        ready = two.get("/readyz").json()
        assert ready["checks"]["rate_limit_storage"] == "ok"


def test_an_unreachable_redis_counts_in_memory_and_readyz_says_so(
    settings: Settings, core: Core, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    configured = settings.model_copy(update={"public_rate_limit": 2, "redis_url": SecretStr(dead)})
    app = create_app(configured, core=core, engine=engine)
    with TestClient(app) as client, caplog.at_level(logging.WARNING, logger="licensing.api"):
        codes = [client.post("/v1/licenses/refresh", json={"license_file": "x"}).status_code for _ in range(4)]
        assert codes == [422, 422, 429, 429]  # never 500: counted in this process's memory meanwhile
        ready = client.get("/readyz")
        assert ready.status_code == 200  # a rate limit outage keeps the replica in the load balancer
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["rate_limit_storage"].startswith("unreachable")
    warnings = [r for r in caplog.records if r.getMessage() == "ratelimit.unavailable"]
    assert len(warnings) == 1  # once a minute, not once a request
    assert "127.0.0.1:1" in str(getattr(warnings[0], "error", ""))


def test_the_redis_address_must_be_redis(settings: Settings) -> None:
    with pytest.raises(ValueError, match="LICENSING_REDIS_URL"):
        Settings(database_url=settings.database_url, redis_url="http://127.0.0.1:6379")
    assert Settings(database_url=settings.database_url, redis_url="rediss://cache.internal:6380/2").redis_url
