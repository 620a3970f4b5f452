"""Security headers: a Content-Security-Policy that allows no other host on every HTML page (the API
docs included), the usual hardening headers everywhere, HSTS only behind an https public URL; a page
may add a form-action host (the coming checkout posts to Stripe); the secret that signs form tokens."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import allow_form_action, signing_secret
from licensing.context import Core
from licensing.kit.settings import Settings

HTML_PAGES = ["/trial", "/docs", "/redoc"]
API_ANSWERS = ["/healthz", "/.well-known/jwks.json", "/openapi.json", "/v1/no-such-thing", "/static/site.css"]
REAL_SECRET = "9f2c4e1a7b3d5f608e1c2a4b6d8f0e13579bdf2468ace0"


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """Headers do not depend on the database: SQLite alone."""
    return sqlite_url


def parse_csp(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0] not in directives, f"{words[0]} given twice"
            directives[words[0]] = words[1:]
    return directives


def is_host_free(source: str) -> bool:
    """A source that names no host: a keyword, a nonce or hash, or the data:/blob: scheme."""
    return bool(
        re.fullmatch(r"'(self|none|strict-dynamic|(nonce|sha256|sha384|sha512)-[A-Za-z0-9+/=_-]+)'", source)
    ) or (source in {"data:", "blob:"})


def assert_hardened(headers: Any) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] in {"no-referrer", "same-origin"}
    assert "camera=()" in headers["permissions-policy"]
    assert "geolocation=()" in headers["permissions-policy"]


@pytest.mark.parametrize("path", HTML_PAGES)
def test_every_html_page_allows_no_other_host(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert_hardened(response.headers)
    assert "strict-transport-security" not in response.headers  # the public URL is http
    csp = parse_csp(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] in (["'none'"], ["'self'"])
    for directive in ("script-src", "style-src"):
        sources = csp.get(directive, csp["default-src"])
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, (directive, sources)
    for directive, sources in csp.items():
        if directive in {"default-src", "frame-ancestors", "form-action", "base-uri", "object-src"}:
            continue
        assert all(is_host_free(s) or s == "'self'" for s in sources), (directive, sources)


@pytest.mark.parametrize("path", API_ANSWERS)
def test_api_answers_are_hardened_too(client: Any, path: str) -> None:
    response = client.get(path)
    assert_hardened(response.headers)
    csp = parse_csp(response.headers["content-security-policy"])
    if not response.headers["content-type"].startswith("text/html"):
        # Nothing but a page loads anything: JSON, the license file, the stylesheet load nothing.
        assert csp["default-src"] == ["'none'"]
        assert csp["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize("path", ["/trial", "/healthz", "/docs"])
def test_strict_transport_security_only_behind_an_https_public_url(settings: Settings, core: Core, path: str) -> None:
    for public_url, expected in (("https://licensing.example.net", True), ("http://127.0.0.1:8000", False)):
        app = create_app(settings.model_copy(update={"public_url": public_url}), core=core)
        with TestClient(app) as client:
            response = client.get(path)
        assert response.status_code == 200
        if expected:
            hsts = response.headers["strict-transport-security"]
            max_age = int(re.fullmatch(r"max-age=(\d+).*", hsts).group(1))  # type: ignore[union-attr]
            assert max_age >= 180 * 24 * 3600
        else:
            assert "strict-transport-security" not in response.headers
        app.state.engine.dispose()


@pytest.fixture
def app_with_checkout(app: FastAPI) -> FastAPI:
    """The coming checkout page in miniature: its form posts to (then redirects to) a payment host."""

    @app.get("/test-checkout", response_class=HTMLResponse, include_in_schema=False)
    def checkout(request: Request) -> HTMLResponse:
        allow_form_action(request, "https://pay.example.net")
        return HTMLResponse('<form method="post" action="/checkout"><button>Pay</button></form>')

    return app


def test_a_page_can_add_a_form_action_host_for_itself_alone(app_with_checkout: FastAPI) -> None:
    with TestClient(app_with_checkout) as client:
        checkout = parse_csp(client.get("/test-checkout").headers["content-security-policy"])
        assert checkout["form-action"] == ["'self'", "https://pay.example.net"]
        assert checkout["default-src"] == ["'self'"] and checkout["frame-ancestors"] == ["'none'"]
        # Another page, and the same page again, are not widened by it.
        assert parse_csp(client.get("/trial").headers["content-security-policy"])["form-action"] == ["'self'"]
        again = parse_csp(client.get("/test-checkout").headers["content-security-policy"])
        assert again["form-action"] == ["'self'", "https://pay.example.net"]


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "https:",
        "pay.example.net",
        "https://pay.example.net/path",
        "https://pay.example.net; script-src *",
        "https://pay.example.net 'unsafe-inline'",
        "javascript:alert(1)",
        "https://",
        "",
    ],
)
def test_only_an_origin_can_be_added(app: FastAPI, origin: str) -> None:
    @app.get("/test-bad-origin", response_class=HTMLResponse, include_in_schema=False)
    def bad(request: Request) -> HTMLResponse:
        allow_form_action(request, origin)
        return HTMLResponse("<p>no</p>")

    with TestClient(app, raise_server_exceptions=True) as client, pytest.raises(ValueError, match="origin"):
        client.get("/test-bad-origin")


# --- the secret that signs form tokens ----------------------------------------------------------------
def test_production_requires_a_real_secret_key() -> None:
    base: dict[str, Any] = {
        "env": "production",
        "stripe_webhook_secret": "whsec_9b1c4d7e2f0a8c6b5d3e1f7a9c2b4d6e",
        "stripe_secret_key": "sk_live_51Hq8ZtLkq2vX0p9A7bC3dE5fG",
        # What production also refuses at its development defaults (tests/licensing/kit/test_settings.py).
        "issuer": "licenses.example.com",
        "public_url": "https://licenses.example.com",
        "sales_email": "sales@example.com",
        "mail_from": "licenses@example.com",
        "self_serve_confirmation": "none",
        "_env_file": None,
    }
    for missing in ({}, {"secret_key": "change-me-please-change-me-please"}, {"secret_key": "short"}):
        problems = Settings(**base, **missing).production_problems()
        assert any("LICENSING_SECRET_KEY" in p for p in problems), (missing, problems)
    assert Settings(**base, secret_key=REAL_SECRET).production_problems() == []


def test_development_secret_is_shared_on_disk_by_every_worker(tmp_path: Path) -> None:
    settings = Settings(keys_dir=tmp_path / "keys", _env_file=None)  # type: ignore[call-arg]
    first = signing_secret(settings)
    assert len(first) >= 32
    [stored] = [p for p in (tmp_path / "keys").iterdir() if p.name == "secret_key"]
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stored.stat().st_uid == os.getuid()
    # Another worker (another Settings, another process reading the same folder) derives the same.
    assert signing_secret(Settings(keys_dir=tmp_path / "keys", _env_file=None)) == first  # type: ignore[call-arg]
    # Another installation does not.
    assert signing_secret(Settings(keys_dir=tmp_path / "other", _env_file=None)) != first  # type: ignore[call-arg]


def test_the_folders_made_for_the_development_secret_are_owner_only(tmp_path: Path) -> None:
    signing_secret(Settings(keys_dir=tmp_path / "data" / "keys", _env_file=None))  # type: ignore[call-arg]
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "keys").stat().st_mode) == 0o700


def test_a_configured_secret_key_is_used_and_no_file_is_written(tmp_path: Path) -> None:
    settings = Settings(keys_dir=tmp_path / "keys", secret_key=REAL_SECRET, _env_file=None)  # type: ignore[call-arg]
    again = Settings(keys_dir=tmp_path / "elsewhere", secret_key=REAL_SECRET, _env_file=None)  # type: ignore[call-arg]
    assert signing_secret(settings) == signing_secret(again)
    assert not (tmp_path / "keys" / "secret_key").exists()


def test_production_never_makes_up_a_secret(tmp_path: Path) -> None:
    settings = Settings(env="production", keys_dir=tmp_path / "keys", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(RuntimeError, match="LICENSING_SECRET_KEY"):
        signing_secret(settings)
    assert not (tmp_path / "keys" / "secret_key").exists()
