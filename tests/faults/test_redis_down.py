"""Redis stopped: the public rate limit counts in the process's memory meanwhile (logged at most once a
minute), ``/readyz`` says so while staying 200 (a rate limit outage must not take every replica out of the
load balancer), and once Redis is back the counts are in Redis again.

Unit tests on :class:`api.ratelimit.PublicRateLimit` with a private ``redis-server`` (never the shared one),
then ``licensing serve --workers 2`` against a private Redis stopped and started again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
import redis
from faulttools import private_redis, serve, service_environment, wait_for

from api import ratelimit
from api.ratelimit import PublicRateLimit, RateLimited, rate_limit_storage

pytestmark = pytest.mark.slow

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def _hit(limiter: PublicRateLimit, address: str) -> bool:
    """Whether a request from ``address`` is let through."""
    try:
        asyncio.run(limiter.hit(address))
    except RateLimited:
        return False
    return True


def _redis_keys(url: str, prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return list(client.scan_iter(match=f"{prefix}*"))
    finally:
        client.close()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "ratelimit.unavailable"]


def test_an_unreachable_redis_counts_in_memory_and_warns_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    limiter = PublicRateLimit(3, rate_limit_storage(DEAD_REDIS))
    assert limiter.shared
    with caplog.at_level(logging.WARNING, logger="licensing.api"):
        answers = [_hit(limiter, "203.0.113.7") for _ in range(5)]
        assert answers == [True, True, True, False, False]  # counted, not waved through
        assert _hit(limiter, "203.0.113.8")  # each address has its own count
    [warning] = _warnings(caplog)  # once a minute, not once a request
    assert "127.0.0.1:1" in str(getattr(warning, "error", ""))
    assert "memory" in str(getattr(warning, "detail", ""))
    assert limiter.degraded


def test_the_warning_comes_again_after_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    limiter = PublicRateLimit(100, rate_limit_storage(DEAD_REDIS), retry_seconds=0)
    with caplog.at_level(logging.WARNING, logger="licensing.api"):
        for _ in range(5):
            assert _hit(limiter, "203.0.113.7")
        assert len(_warnings(caplog)) == 1
        limiter._warned_at -= ratelimit.WARN_EVERY_SECONDS  # a minute later
        assert _hit(limiter, "203.0.113.7") and _hit(limiter, "203.0.113.7")
    assert len(_warnings(caplog)) == 2


def test_redis_stopped_then_back_counts_in_memory_then_in_redis_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = "licensing-faults"
    with private_redis(tmp_path) as server:
        limiter = PublicRateLimit(3, rate_limit_storage(server.url, key_prefix=prefix), retry_seconds=0)
        assert _hit(limiter, "198.51.100.1") and _hit(limiter, "198.51.100.1")
        assert _redis_keys(server.url, prefix), "counted in Redis while it answers"
        assert not limiter.degraded

        server.stop()
        with caplog.at_level(logging.INFO, logger="licensing.api"):
            # The memory count starts from nothing: three more pass, the fourth is refused.
            assert [_hit(limiter, "198.51.100.1") for _ in range(4)] == [True, True, True, False]
            assert limiter.degraded and not limiter.check()

            server.start()  # an empty Redis (no persistence) on the same port
            assert _hit(limiter, "198.51.100.1")
        assert not limiter.degraded and limiter.check()
        assert _redis_keys(server.url, prefix), "counted in Redis again once it is back"
        assert [r.getMessage() for r in caplog.records if r.name == "licensing.api"] == [
            "ratelimit.unavailable",
            "ratelimit.recovered",
        ]


def test_readyz_stays_ready_but_degraded_without_redis_and_the_service_logs_it(tmp_path: Path) -> None:
    limit = 5
    with private_redis(tmp_path) as server:
        env = service_environment(
            tmp_path,
            f"sqlite:///{tmp_path / 'data' / 'licensing.db'}",
            LICENSING_REDIS_URL=server.url,
            LICENSING_PUBLIC_RATE_LIMIT=str(limit),
            LICENSING_WORKER_IN_PROCESS="false",
        )
        with serve(tmp_path, env, "--workers", "2") as served, served.client() as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["rate_limit_storage"] == "ok"
            assert client.post("/v1/licenses/refresh", json={"license_file": "x"}).status_code == 422
            assert _redis_keys(server.url, "licensing:ratelimit"), "the service counts in Redis"

            server.stop()
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text  # still in the load balancer
            body = ready.json()
            assert body["status"] == "degraded"
            assert body["checks"]["database"] == "ok"
            assert body["checks"]["rate_limit_storage"].startswith("unreachable")
            # Each worker counts in its memory: with two workers at most 2 x limit pass in a window
            # (a window may end during the burst, so only "the first pass, some later one is refused").
            codes = [
                client.post("/v1/licenses/refresh", json={"license_file": "x"}).status_code for _ in range(6 * limit)
            ]
            assert set(codes) <= {422, 429} and 429 in codes, codes
            wait_for(lambda: "ratelimit.unavailable" in served.output(), 20, "the fallback logged")
            events = [json.loads(line) for line in served.output().splitlines() if line.startswith("{")]
            unavailable = [e for e in events if e.get("event") == "ratelimit.unavailable"]
            assert 1 <= len(unavailable) <= 2, unavailable  # once a minute per worker, not once a request
            assert unavailable[0]["level"] == "WARNING" and "memory" in unavailable[0]["detail"]

            server.start()

            def counting_in_redis_again() -> bool:
                client.post("/v1/licenses/refresh", json={"license_file": "x"})
                return bool(_redis_keys(server.url, "licensing:ratelimit"))

            wait_for(counting_in_redis_again, 30, "the service counting in Redis again", poll=0.5)
            wait_for(lambda: client.get("/readyz").json()["status"] == "ready", 30, "/readyz ready again")
            assert client.get("/readyz").json()["checks"]["rate_limit_storage"] == "ok"
