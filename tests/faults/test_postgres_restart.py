"""PostgreSQL restarted under load, on a private cluster (never the shared one at 127.0.0.1:5432).

While the database is down, requests that need it fail at once with a 503 ``database_unavailable``
problem (no hang, no 500 traceback) and ``/readyz`` says the database is unreachable; once it is back, the
same processes answer again (the pool's pre-ping replaces the dead connections) and the background loop
sends mail again, without restarting the service.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from faulttools import PrivatePostgres, private_postgres, serve, service_environment, wait_for
from mailtools import smtp_server
from sqlalchemy import exc as sa_exc

from api.app import create_app
from licensing.access.apikeys import create_api_key
from licensing.kit import db
from licensing.kit.db import transaction
from licensing.kit.settings import Settings
from licensing.kit.tokens import new_token
from licensing.selfserve.requests import CONFIRM_PREFIX
from service import migrate
from service.worker import Worker

pytestmark = pytest.mark.slow  # a private cluster: not the shared server the `postgres` mark is about

PROBLEM = "application/problem+json"
CLIENT_TIMEOUT = 15.0  # every call must come back within this, answered
OUTAGE_SECONDS = 3.0  # how long PostgreSQL stays stopped once the service has noticed


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    with private_postgres() as private:
        yield private


def _is_database_unavailable(response: httpx.Response) -> bool:
    if response.status_code != 503 or not response.headers.get("content-type", "").startswith(PROBLEM):
        return False
    body = response.json()
    return bool(body.get("code") == "database_unavailable" and body.get("detail") and "Retry-After" in response.headers)


def test_a_stopped_database_answers_503_problems_and_readyz_says_so(
    cluster: PrivatePostgres, tmp_path: Path, keystore: Any
) -> None:
    url = cluster.create_database("licensing_inprocess")
    migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        keys_dir=keystore.directory,
        public_rate_limit=0,
        worker_in_process=False,
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings)
    with transaction(app.state.sessionmaker) as session:
        _key, token = create_api_key(session, app.state.core, name="faults", role="sales", actor="test")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(app, raise_server_exceptions=False) as client:
        refused = client.post("/v1/licenses/refresh", json={"license_file": "x"})
        assert refused.status_code == 422  # the database answers: the file is checked
        assert client.get("/v1/customers", headers=auth).status_code == 200
        cluster.stop()
        try:
            for request in (
                lambda: client.get("/v1/customers", headers=auth),
                lambda: client.post("/v1/free-licenses", json={"email": "ann@example.com"}),
                lambda: client.get("/v1/revocations"),
            ):
                answer = request()
                assert _is_database_unavailable(answer), (answer.status_code, answer.text)
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("unreachable")
            page = client.get(f"/confirm/{new_token(CONFIRM_PREFIX).secret}", headers={"accept": "text/html"})
            assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        finally:
            cluster.start()
        # The pooled connections died with the server: pre-ping replaces them.
        assert client.get("/readyz").status_code == 200
        assert client.get("/v1/customers", headers=auth).status_code == 200


@dataclass
class Answer:
    kind: str
    started: float
    status: int | None  # None: no answer (a timeout or a dropped connection)
    detail: str
    problem_code: str | None = None
    took: float = 0.0


class Load:
    """Threads sending public and sales API requests back to back, each answer recorded."""

    def __init__(self, base_url: str, auth: dict[str, str], customer_id: str, license_file: str) -> None:
        self.base_url, self.auth, self.customer_id, self.license_file = base_url, auth, customer_id, license_file
        self.answers: list[Answer] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(4)]

    def _request(self, client: httpx.Client, kind: str) -> httpx.Response:
        if kind == "jwks":
            return client.get("/.well-known/jwks.json")
        if kind == "refresh":
            return client.post("/v1/licenses/refresh", json={"license_file": self.license_file})
        body = {"customer_id": self.customer_id, "tier": "enterprise", "seats": 5, "duration_days": 30}
        return client.post("/v1/licenses", json=body, headers=self.auth)

    def _run(self, n: int) -> None:
        kinds = ["refresh", "issue", "jwks"]
        with httpx.Client(base_url=self.base_url, timeout=CLIENT_TIMEOUT) as client:
            i = n
            while not self.stopping.is_set():
                kind = kinds[i % len(kinds)]
                i += 1
                started = time.monotonic()
                try:
                    response = self._request(client, kind)
                except httpx.HTTPError as exc:
                    answer = Answer(kind, started, None, f"{type(exc).__name__}: {exc}")
                else:
                    code = None
                    if response.headers.get("content-type", "").startswith(PROBLEM):
                        code = response.json().get("code")
                    answer = Answer(kind, started, response.status_code, response.text[:300], code)
                    if response.status_code == 503 and not _is_database_unavailable(response):
                        answer.detail = f"not a database_unavailable problem: {answer.detail}"
                answer.took = time.monotonic() - started
                with self.lock:
                    self.answers.append(answer)
                time.sleep(0.02)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(CLIENT_TIMEOUT + 5)
        assert not any(t.is_alive() for t in self.threads), "a client call never came back"

    def since(self, moment: float) -> list[Answer]:
        with self.lock:
            return [a for a in self.answers if a.started >= moment]

    def seen(self, moment: float, kind: str, status: int) -> bool:
        return any(a.kind == kind and a.status == status for a in self.since(moment))


def test_postgres_restarted_under_load_the_service_recovers_by_itself(cluster: PrivatePostgres, tmp_path: Path) -> None:
    url = cluster.create_database("licensing_served")
    with smtp_server() as inbox:
        env = service_environment(
            tmp_path,
            url,
            LICENSING_PUBLIC_RATE_LIMIT="0",
            LICENSING_SELF_SERVE_CONFIRMATION="email",
            LICENSING_SMTP_HOST="127.0.0.1",
            LICENSING_SMTP_PORT=str(inbox.port),
            LICENSING_SMTP_SECURITY="none",
        )
        with serve(tmp_path, env, "--workers", "2") as served:
            auth = served.api_key()
            with served.client(headers=auth) as client:
                customer = client.post("/v1/customers", json={"name": "Ada", "email": "ada@faults.example"})
                assert customer.status_code == 201, customer.text
                issued = client.post(
                    "/v1/licenses",
                    json={"customer_id": customer.json()["id"], "tier": "enterprise", "seats": 5, "duration_days": 30},
                )
                assert issued.status_code == 201, issued.text
            load = Load(served.base_url, auth, customer.json()["id"], issued.json()["license_file"])
            load.start()
            try:
                began = time.monotonic()
                for kind, status in (("refresh", 200), ("issue", 201), ("jwks", 200)):
                    wait_for(lambda k=kind, s=status: load.seen(began, k, s), 60, f"{kind} answering {status}")

                cluster.stop()
                down = time.monotonic()
                for kind in ("refresh", "issue"):
                    wait_for(lambda k=kind: load.seen(down, k, 503), 30, f"{kind} answering 503 while down")
                with served.client() as client:
                    ready = client.get("/readyz")
                assert ready.status_code == 503, ready.text
                assert ready.json()["checks"]["database"].startswith("unreachable")
                wait_for(lambda: "worker.database_unavailable" in served.output(), 30, "the worker noticing")
                load.stopping.wait(OUTAGE_SECONDS)  # the outage itself: the load goes on meanwhile

                cluster.start()
                back = time.monotonic()
                for kind, status in (("refresh", 200), ("issue", 201)):
                    wait_for(lambda k=kind, s=status: load.seen(back, k, s), 60, f"{kind} answering {status} again")
                recovered = time.monotonic()

                # And a restart in one go (pg_ctl restart -m fast): connections in use are cut mid-request.
                cluster.restart()
                again = time.monotonic()
                for kind, status in (("refresh", 200), ("issue", 201)):
                    wait_for(lambda k=kind, s=status: load.seen(again, k, s), 60, f"{kind} answering after a restart")
            finally:
                load.stop()

            answers = load.since(0)
            unanswered = [a for a in answers if a.status is None]
            assert not unanswered, unanswered[:5]
            unexpected = [
                a
                for a in answers
                if a.status not in (200, 201) and not (a.status == 503 and a.problem_code == "database_unavailable")
            ]
            assert not unexpected, unexpected[:5]
            outage = [a for a in answers if a.status == 503]
            print(
                f"\n{len(answers)} requests, {len(outage)} answered 503 database_unavailable; stopped for "
                f"{back - down:.1f} s, answering again {recovered - back:.1f} s after the start; slowest answer "
                f"{max(a.took for a in answers):.2f} s"
            )

            with served.client() as client:
                assert client.get("/readyz").status_code == 200
                # The background loop resumed: a confirmation mail queued now is sent.
                asked = client.post("/v1/free-licenses", json={"email": "bea@faults.example"})
                assert asked.status_code == 202, asked.text
            inbox.wait_for(lambda m: m["To"] == "bea@faults.example", timeout=60)

            events = [json.loads(line) for line in served.output().splitlines() if line.startswith("{")]
            assert not [e for e in events if e.get("event") == "request.failed"], "a 500 with a traceback"
            assert any(e.get("event") == "database.unavailable" for e in events)
            assert any(e.get("event") == "worker.database_unavailable" for e in events)
            assert not [e for e in events if "exception" in e], "a traceback logged for a database outage"
            noted = Counter(f"{e['level']} {e['event']}" for e in events if e.get("level") in ("WARNING", "ERROR"))
            print(f"warnings and errors logged: {dict(noted)}")


def test_connecting_to_postgresql_gives_up_after_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A database host that does not answer at all (a partition, a dropped SYN) must not hold a request
    for the kernel's minutes-long TCP timeout: the driver gives up after ``connect_timeout`` seconds."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(db, "create_engine", lambda url, **kwargs: seen.update(url=url, **kwargs))
    db.make_engine("postgresql+psycopg://licensing@db.internal/licensing")
    assert seen["connect_args"]["connect_timeout"] == db.CONNECT_TIMEOUT_SECONDS
    assert seen["pool_pre_ping"] is True  # dead pooled connections are replaced, not handed to a request
    seen.clear()
    db.make_engine("postgresql+psycopg://licensing@db.internal/licensing?connect_timeout=3")
    assert "connect_timeout" not in seen.get("connect_args", {})  # the operator's own, in the URL, wins


class _DatabaseDown:
    name = "outbox"

    def run_due(self, runtime: Any, limit: int) -> int:
        raise sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_the_background_loop_says_the_database_is_down_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    class FakeRuntime:
        database = "postgresql licensing on db.internal"

    worker = Worker(FakeRuntime(), [_DatabaseDown()])  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="licensing.worker"):
        assert worker.run_once() == 0
    assert worker.failing  # so the loop pauses before the next pass
    [record] = [r for r in caplog.records if r.name == "licensing.worker"]
    assert record.getMessage() == "worker.database_unavailable" and record.levelname == "WARNING"
    assert record.exc_info is None and "connection refused" in record.error  # type: ignore[attr-defined]
