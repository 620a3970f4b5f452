"""``licensing serve --workers 2``: /metrics counts every worker's requests, whichever worker answers the
scrape (prometheus-client's multiprocess mode, in a private directory serve makes and removes)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from livetools import Served, serve_process, served_environment
from prometheus_client.parser import text_string_to_metric_families
from test_serve_process import _worker_processes

REQUESTS = 40
ROUTE = "/v1/self-serve-requests/{request_id}"


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Served]:
    env = served_environment(
        tmp_path, f"sqlite:///{tmp_path / 'data' / 'licensing.db'}", LICENSING_PUBLIC_RATE_LIMIT="0"
    )
    yield from serve_process(tmp_path, env, "--workers", "2")


def _count(served: Served) -> float:
    with served.client() as client:  # a new connection: either worker may answer
        response = client.get("/metrics")
    assert response.status_code == 200, response.text
    total = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "licensing_http_requests_total" and sample.labels.get("route") == ROUTE:
                total += sample.value
    return total


def _metrics_dir(served: Served) -> Path:
    [worker, *_] = _worker_processes(served.proc.pid)
    environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
    [value] = [v for v in environ if v.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
    return Path(value.split(b"=", 1)[1].decode())


def test_the_counts_are_every_workers(two_workers: Served) -> None:
    served = two_workers
    directory = _metrics_dir(served)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert len(_worker_processes(served.proc.pid)) == 2
    for i in range(REQUESTS):
        with httpx.Client(base_url=served.base_url, timeout=30) as client:  # a new connection each
            answer = client.get(f"/v1/self-serve-requests/ssr_{i}", headers={"Authorization": "Bearer nope"})
            assert answer.status_code == 404
    # Every scrape, whichever worker answers it, sees all of them.
    assert [_count(served) for _ in range(6)] == [REQUESTS] * 6
    # Files of both workers (each writes its own).
    pids = {p.stem.rsplit("_", 1)[1] for p in directory.glob("*.db")}
    assert {str(p) for p in _worker_processes(served.proc.pid)} <= pids


def test_serve_removes_the_directory_it_made(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"  # serve's temporary directory (TMPDIR): nobody else's runs in it
    temp.mkdir()
    env = served_environment(tmp_path, f"sqlite:///{tmp_path / 'data' / 'licensing.db'}", TMPDIR=str(temp))
    servers = serve_process(tmp_path, env)  # one worker: serve's own process serves
    served = next(servers)
    [made] = temp.glob("licensing-metrics-*")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert _count_route(served, "/readyz") >= 1
    assert any(made.glob("*.db"))
    for _ in servers:  # stops it
        pass
    assert not made.exists()


def _count_route(served: Served, route: str) -> float:
    with served.client() as client:
        text = client.get("/metrics").text
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "licensing_http_requests_total" and s.labels.get("route") == route
    )


def test_an_operators_directory_is_emptied_on_start(tmp_path: Path) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    stale = directory / "counter_999999.db"
    stale.write_bytes(b"stale")
    env = served_environment(
        tmp_path, f"sqlite:///{tmp_path / 'data' / 'licensing.db'}", PROMETHEUS_MULTIPROC_DIR=str(directory)
    )
    servers = serve_process(tmp_path, env, "--workers", "2")
    served = next(servers)
    try:
        assert not stale.exists()
        assert _count_route(served, "/readyz") >= 1
    finally:
        for _ in servers:
            pass
    assert directory.is_dir()  # the operator's: kept
