"""``licensing serve`` as a real process, spoken to over real TCP on 127.0.0.1.

The process is configured only through its environment (SPEC section 7), as an operator would;
the CLI commands run with the same environment act on the same database and keys. One case on a
SQLite file with one worker (and a public rate limit of 5 a minute), one with ``--workers 2`` on a
PostgreSQL database of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from livetools import Served, serve_process, served_environment
from pgtools import fresh_database, unique_name

from licensing.verify import Keyring, load_revocations, verify

RATE_LIMIT = 5


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Served]:
    env = served_environment(
        tmp_path, f"sqlite:///{tmp_path / 'data' / 'licensing.db'}", LICENSING_PUBLIC_RATE_LIMIT=str(RATE_LIMIT)
    )
    yield from serve_process(tmp_path, env)


@pytest.fixture
def pg_served_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for the served process; dropped afterwards."""
    with fresh_database(unique_name("licensing_serve")) as url:
        yield url


@pytest.fixture
def pg_server(tmp_path: Path, pg_served_database: str) -> Iterator[Served]:
    # Trials issued at once, so that the trial rule across workers shows in two answers.
    env = served_environment(
        tmp_path, pg_served_database, LICENSING_PUBLIC_RATE_LIMIT="0", LICENSING_SELF_SERVE_CONFIRMATION="none"
    )
    yield from serve_process(tmp_path, env, "--workers", "2")


def _worker_processes(pid: int) -> list[int]:
    """The uvicorn worker processes under ``pid`` (multiprocessing spawns them with ``spawn_main``)."""
    workers = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in cmdline:
            workers.append(int(child))
    return workers


def _verify_with_cli(served: Served, tmp_path: Path, license_file: str, jwks: dict[str, Any]) -> dict[str, Any]:
    (tmp_path / "license.lic").write_text(license_file, "utf-8")
    (tmp_path / "jwks.json").write_text(json.dumps(jwks), "utf-8")
    checked = served.cli("verify", str(tmp_path / "license.lic"), "--jwks", str(tmp_path / "jwks.json"), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result: dict[str, Any] = json.loads(checked.stdout)
    return result


def test_serve_on_sqlite_issues_verifiable_licenses_and_rate_limits(sqlite_server: Served, tmp_path: Path) -> None:
    served = sqlite_server
    # No key was configured: serve made a development key and said so loudly.
    assert "DEVELOPMENT SIGNING KEY" in served.output()
    assert (tmp_path / "data" / "licensing.db").is_file()

    with served.client() as client:
        ready = client.get("/readyz")
        assert ready.json()["status"] == "ready"
        jwks = client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    keys = jwks.json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "OKP" and keys[0]["alg"] == "EdDSA"

    auth = served.api_key()
    with served.client(headers=auth) as client:
        customer = client.post("/v1/customers", json={"name": "Ada", "email": "ada@serve.example", "company": "Serve"})
        assert customer.status_code == 201, customer.text
        issued = client.post(
            "/v1/licenses",
            json={"customer_id": customer.json()["id"], "tier": "enterprise", "seats": 40, "duration_days": 90},
        )
    assert issued.status_code == 201, issued.text
    license_id = issued.json()["license"]["id"]

    result = _verify_with_cli(served, tmp_path, issued.json()["license_file"], jwks.json())
    assert result["ok"] is True and result["status"] == "valid"
    assert result["license"]["jti"] == license_id
    assert result["license"]["iss"] == "serve-test" and result["license"]["seats"] == 40
    # And the same file with the JWKS the CLI publishes from the same keys directory.
    published = served.cli("keys", "jwks")
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout) == jwks.json()

    # The public rate limit: RATE_LIMIT requests a minute per address, then 429 with Retry-After.
    # A new one-minute window may start during the burst, so only "the first RATE_LIMIT pass and
    # some later one is refused" is certain.
    answers = []
    with served.client() as client:
        for i in range(2 * RATE_LIMIT + 2):
            answers.append(client.post("/v1/free-licenses", json={"email": f"free{i}@serve.example"}))
    # The product default confirms self-serve requests by e-mail: 202 until the limit.
    assert [a.status_code for a in answers[:RATE_LIMIT]] == [202] * RATE_LIMIT
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert {a.status_code for a in answers} == {202, 429}
    for answer in refused:
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "rate_limited" and answer.json()["status"] == 429
        assert int(answer.headers["retry-after"]) > 0
    # The sales-ops API is not limited.
    with served.client(headers=auth) as client:
        assert client.get(f"/v1/licenses/{license_id}").status_code == 200


@pytest.mark.postgres
def test_serve_with_two_workers_on_postgresql(pg_server: Served, tmp_path: Path) -> None:
    """All state is in the database: each request on a new connection, whichever worker answers."""
    served = pg_server
    assert len(_worker_processes(served.proc.pid)) == 2
    with served.client() as client:
        jwks = client.get("/.well-known/jwks.json").json()
    keyring = Keyring.from_jwks(jwks)
    auth = served.api_key()

    with served.client(headers=auth) as client:
        customer = client.post("/v1/customers", json={"name": "Bo", "email": "bo@workers.example"})
        assert customer.status_code == 201, customer.text
    with served.client(headers=auth) as client:
        issued = client.post(
            "/v1/licenses",
            json={"customer_id": customer.json()["id"], "tier": "professional", "seats": 20, "duration_days": 30},
        )
        assert issued.status_code == 201, issued.text
    first = issued.json()
    assert _verify_with_cli(served, tmp_path, first["license_file"], jwks)["license"]["jti"] == first["license"]["id"]

    with served.client(headers=auth) as client:
        renewed = client.post(f"/v1/licenses/{first['license']['id']}/renew", json={"duration_days": 365, "seats": 30})
        assert renewed.status_code == 201, renewed.text
    second = renewed.json()
    for _ in range(4):  # several connections, so both workers are likely asked
        with served.client() as client:
            refreshed = client.post("/v1/licenses/refresh", json={"license_file": first["license_file"]})
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["changed"] is True
        assert verify(refreshed.json()["license_file"], keyring).id == second["license"]["id"]

    with served.client(headers=auth) as client:
        revoked = client.post(f"/v1/licenses/{second['license']['id']}/revoke", json={"reason": "chargeback"})
        assert revoked.status_code == 200, revoked.text
    for _ in range(4):
        with served.client() as client:
            listing = client.get("/v1/revocations")
            refused = client.post("/v1/licenses/refresh", json={"license_file": first["license_file"]})
        assert second["license"]["id"] in load_revocations(listing.text, keyring)
        assert refused.status_code == 403 and refused.json()["code"] == "revoked"

    with served.client() as client:
        trial = client.post(
            "/v1/trials", json={"email": "x@workers-trial.example", "company": "W", "accept_terms": True}
        )
        again = client.post(
            "/v1/trials", json={"email": "y@workers-trial.example", "company": "W", "accept_terms": True}
        )
    assert trial.status_code == 201, trial.text
    assert again.status_code == 409 and again.json()["code"] == "trial_already_used"
