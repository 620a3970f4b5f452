"""Real concurrency: the app served by a real uvicorn server on 127.0.0.1, on PostgreSQL only.

Starlette's TestClient runs one request at a time, so it cannot show a race. Here a uvicorn server
runs in a background thread on a socket bound to a free loopback port, and ``fire`` sends N requests
at the same moment: N threads, each with its own HTTP connection (opened beforehand), released
together by a ``threading.Barrier``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from livetools import serve_in_thread
from sqlalchemy import Engine

from licensing.kit.settings import Settings

CONCURRENCY = 30
START_TIMEOUT = 20.0
REQUEST_TIMEOUT = 60.0


@pytest.fixture
def database_url(pg_url: str) -> str:
    """Every fixture built on ``database_url`` (settings, engine, API keys) uses PostgreSQL here."""
    return pg_url


@dataclass
class LiveServer:
    base_url: str
    engine: Engine


@pytest.fixture
def live_server(settings: Settings, core, engine: Engine) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The app on a real uvicorn server in a background thread, sharing the test's PostgreSQL engine."""
    from api.app import create_app

    pool_capacity = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
    assert pool_capacity >= CONCURRENCY, f"the pool holds {pool_capacity} connections, fewer than {CONCURRENCY}"
    app = create_app(settings, core=core, engine=engine)
    with serve_in_thread(app) as base_url:
        yield LiveServer(base_url=base_url, engine=engine)


Send = Callable[[httpx.Client, int], httpx.Response]


@pytest.fixture
def fire() -> Callable[..., list[httpx.Response]]:
    """``fire(base_url, send, count=30)``: see :func:`send_at_once`."""
    return send_at_once


def send_at_once(base_url: str, send: Send, count: int = CONCURRENCY) -> list[httpx.Response]:
    """Send ``count`` requests at once, each from its own thread over its own connection.

    Each thread opens its connection first (GET /healthz), then all wait at a barrier and send
    together. Returns the responses in thread order; any exception in a thread fails the test.
    """
    barrier = threading.Barrier(count, timeout=REQUEST_TIMEOUT)
    responses: list[httpx.Response | None] = [None] * count
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, limits=limits) as client:
                assert client.get("/healthz").status_code == 200
                barrier.wait()
                responses[index] = send(client, index)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,), name=f"client-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT * 2)
    assert not any(t.is_alive() for t in threads), "a client thread did not finish"
    if errors:
        raise errors[0]
    assert all(r is not None for r in responses)
    return [r for r in responses if r is not None]
