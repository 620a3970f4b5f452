"""OpenAPI document, /docs, /redoc, /healthz and /readyz."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest

import api.schemas
from licensing.signing.keys import KeyStore

# SPEC section 5 endpoints that exist today, with their methods.
ENDPOINTS = {
    "/.well-known/jwks.json": {"get"},
    "/v1/revocations": {"get"},
    "/v1/trials": {"post"},
    "/v1/free-licenses": {"post"},
    "/v1/licenses/refresh": {"post"},
    "/v1/customers": {"get", "post"},
    "/v1/customers/{customer_id}": {"get"},
    "/v1/licenses": {"get", "post"},
    "/v1/licenses/{license_id}": {"get"},
    "/v1/licenses/{license_id}/file": {"get"},
    "/v1/licenses/{license_id}/renew": {"post"},
    "/v1/licenses/{license_id}/revoke": {"post"},
    "/v1/audit-events": {"get"},
    "/v1/subscriptions": {"get"},
    "/v1/subscriptions/{subscription_id}": {"get"},
    "/v1/checkout/sessions": {"post"},
    "/v1/webhooks/stripe": {"post"},
    "/healthz": {"get"},
    "/readyz": {"get"},
}
SALES_OPS = {
    path for path in ENDPOINTS if path.startswith(("/v1/customers", "/v1/audit-events", "/v1/subscriptions"))
} | {
    "/v1/licenses",
    "/v1/licenses/{license_id}",
    "/v1/licenses/{license_id}/file",
    "/v1/licenses/{license_id}/renew",
    "/v1/licenses/{license_id}/revoke",
}


@pytest.fixture
def openapi(client: Any) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_openapi_lists_every_endpoint(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.")
    for path, methods in ENDPOINTS.items():
        assert path in openapi["paths"], path
        assert methods <= set(openapi["paths"][path]), (path, set(openapi["paths"][path]))
        for method in methods:
            operation = openapi["paths"][path][method]
            assert operation.get("summary") or operation.get("description"), (method, path)


def test_sales_endpoints_declare_bearer_auth(openapi: dict[str, Any]) -> None:
    schemes = openapi["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"].lower() == "bearer" for s in schemes.values())
    for path in SALES_OPS:
        for method in ENDPOINTS[path]:
            assert openapi["paths"][path][method].get("security"), (method, path)
    for path in (
        "/v1/trials",
        "/v1/free-licenses",
        "/v1/licenses/refresh",
        "/.well-known/jwks.json",
        "/v1/checkout/sessions",
        "/v1/webhooks/stripe",
    ):
        for method in ENDPOINTS[path]:
            assert not openapi["paths"][path][method].get("security"), (method, path)


def test_every_json_request_body_has_a_valid_example(openapi: dict[str, Any]) -> None:
    seen = set()
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            ref = content["application/json"]["schema"]["$ref"]
            name = ref.rsplit("/", 1)[1]
            schema = openapi["components"]["schemas"][name]
            examples = schema.get("examples") or ([schema["example"]] if "example" in schema else [])
            assert examples, f"{method.upper()} {path}: request schema {name} has no example"
            # The examples are real requests: the API's own model accepts them.
            model = getattr(api.schemas, name)
            for example in examples:
                model.model_validate(example)
            seen.add(path)
    assert {p for p, m in ENDPOINTS.items() if "post" in m} <= seen


def test_every_json_response_model_has_a_valid_example(openapi: dict[str, Any]) -> None:
    """/docs shows an example answer for every endpoint that answers with a JSON model."""
    checked = set()
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if not status.startswith("2") or "$ref" not in schema:
                    continue
                name = schema["$ref"].rsplit("/", 1)[1]
                examples = openapi["components"]["schemas"][name].get("examples")
                assert examples, f"{method.upper()} {path}: response schema {name} has no example"
                for example in examples:
                    getattr(api.schemas, name).model_validate(example)
                checked.add((method, path))
    assert ("get", "/v1/licenses") in checked
    assert ("post", "/v1/licenses/refresh") in checked


def test_errors_are_documented_as_problems(openapi: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in openapi["components"]["schemas"]
    problem = openapi["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    documented = 0
    for operations in openapi["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    assert set(response["content"]) == {"application/problem+json"}
                    documented += 1
    assert documented > 20


def test_docs_page(client: Any) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


class _References(HTMLParser):
    """Every URL an HTML page makes the browser load or follow, and every inline script or style."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [v for k, v in attrs if v and k in {"src", "href", "action", "spec-url", "data-openapi-url"}]
        if "style" in values:
            self.inline.append(f"style attribute on <{tag}>")
        if any(k.startswith("on") for k in values):
            self.inline.append(f"event handler on <{tag}>")
        self._open = tag if tag in {"script", "style"} and not values.get("src") else None

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.inline.append(f"inline <{self._open}>: {data.strip()[:60]}")

    def handle_endtag(self, tag: str) -> None:
        self._open = None


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_nothing_from_another_host(client: Any, path: str) -> None:
    """Air-gapped operators read the API docs too: every asset comes from the service itself."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html), "the page names another host"
    parser = _References()
    parser.feed(html)
    assert parser.inline == [], "inline script or style would need 'unsafe-inline' in the CSP"
    scripts = [u for u in parser.urls if u.endswith(".js")]
    assert scripts, "the page loads no script of its own"
    assert "/openapi.json" in parser.urls
    for url in (u for u in parser.urls if not u.startswith("#")):
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
        if url.endswith(".js"):
            assert "javascript" in asset.headers["content-type"], url
    # Swagger UI and ReDoc are the real bundles (a few hundred kilobytes at least), not stubs.
    assert max(len(client.get(u).content) for u in scripts) > 500_000


def test_healthz(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz(client: Any, keystore: KeyStore) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["signing_key"].startswith("ok")
    [key] = keystore.list_keys()
    assert key.kid in body["checks"]["signing_key"]


def test_readyz_without_a_signing_key_is_503(client: Any, keystore: KeyStore) -> None:
    state = keystore.directory / "keyring.json"
    assert state.exists()
    state.rename(state.with_suffix(".away"))
    try:
        response = client.get("/readyz")
    finally:
        state.with_suffix(".away").rename(state)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready" and body["checks"]["database"] == "ok"
    assert not body["checks"]["signing_key"].startswith("ok")
    assert client.get("/readyz").status_code == 200
