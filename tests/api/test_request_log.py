"""Every request gets an id (X-Request-ID: the caller's when sane, else a new one), answered and carried
by every log line written while it is served, and one JSON access line naming the route template, never
a path that holds a token (SPEC section 7)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from api_testkit import confirmation_path

from licensing.kit.logs import JsonFormatter


@pytest.fixture
def self_serve_confirmation() -> str:
    return "email"


class Lines(logging.Handler):
    """Every log record, formatted as the service writes it (one JSON line each)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def access(self) -> list[dict[str, Any]]:
        entries = [json.loads(line) for line in self.lines]
        return [e for e in entries if e["logger"] == "licensing.access" and e["event"] == "http.request"]


@pytest.fixture
def lines(client: Any) -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_sane_request_id_is_echoed(client: Any, lines: Lines) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123.DEF_9:x"})
    assert response.headers["x-request-id"] == "abc-123.DEF_9:x"
    [entry] = lines.access()
    assert entry["request_id"] == "abc-123.DEF_9:x"


def test_a_request_without_one_gets_a_new_one(client: Any, lines: Lines) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert first and second and first != second
    assert [e["request_id"] for e in lines.access()] == [first, second]


@pytest.mark.parametrize(
    "insane",
    ["x" * 129, "with space", "new\\nline", "<script>", 'a"b', "ünïcode", "semi;colon", "%0d%0a"],
)
def test_an_insane_request_id_is_replaced(client: Any, lines: Lines, insane: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": insane.encode()})
    rid = response.headers["x-request-id"]
    assert rid != insane and 1 <= len(rid) <= 128 and rid.isalnum()
    assert insane not in "\n".join(lines.lines)


def test_the_access_line(client: Any, lines: Lines) -> None:
    response = client.get("/v1/revocations", headers={"X-Request-ID": "req-access-1"})
    assert response.status_code == 200
    [entry] = lines.access()
    assert entry["request_id"] == "req-access-1" and entry["level"] == "INFO"
    assert entry["method"] == "GET" and entry["route"] == "/v1/revocations" and entry["status"] == 200
    assert isinstance(entry["duration_ms"], (int, float)) and entry["duration_ms"] >= 0
    assert entry["client"] == "testclient"


def test_lines_written_during_the_request_carry_its_id(client: Any, lines: Lines) -> None:
    response = client.post(
        "/v1/trials",
        json={"email": "ada@rid-5c3e.example", "company": "R", "accept_terms": True},
        headers={"X-Request-ID": "req-trial-1"},
    )
    assert response.status_code == 202
    entries = [json.loads(line) for line in lines.lines]
    inside = [e for e in entries if e["event"] == "mail.enqueued"]
    assert inside and all(e["request_id"] == "req-trial-1" for e in inside)


def test_unmatched_routes_are_logged_as_one_constant(client: Any, lines: Lines) -> None:
    assert client.get("/wp-admin/secret-token-Zq9").status_code == 404
    [entry] = lines.access()
    assert entry["route"] == "unmatched" and entry["status"] == 404
    assert "secret-token-Zq9" not in "\n".join(lines.lines)


def test_a_path_with_a_token_never_reaches_a_log_line(client: Any, lines: Lines) -> None:
    asked = client.post("/v1/trials", json={"email": "bo@rid-5c3e.example", "company": "R", "accept_terms": True})
    path = confirmation_path(client.app, asked.json()["id"])
    token = path.rsplit("/", 1)[1]
    assert client.get(path).status_code == 200
    assert client.get(path + "x").status_code in (404, 410, 200)
    entries = lines.access()
    assert any(e["route"] == "/confirm/{token}" for e in entries)
    text = "\n".join(lines.lines)
    assert token not in text and token[:24] not in text


def test_an_unexpected_error_is_logged_with_the_id_and_without_the_path(app: Any, lines: Lines) -> None:
    from fastapi.testclient import TestClient

    def boom(token: str) -> None:
        raise RuntimeError("boom")

    app.add_api_route("/boom/{token}", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom/tok-Hh7Kk2Pp9Qq", headers={"X-Request-ID": "req-boom-1"})
    assert response.status_code == 500 and response.json()["code"] == "internal_error"
    assert response.headers["x-request-id"] == "req-boom-1"
    entries = [json.loads(line) for line in lines.lines]
    [failed] = [e for e in entries if e["event"] == "request.failed"]
    assert failed["request_id"] == "req-boom-1" and failed["route"] == "/boom/{token}"
    [entry] = lines.access()
    assert entry["status"] == 500 and entry["request_id"] == "req-boom-1"
    assert "tok-Hh7Kk2Pp9Qq" not in "\n".join(lines.lines)
