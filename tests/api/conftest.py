"""Fixtures of the HTTP API tests: the ``api`` wrapper, the published JWKS and an independent
(PyJWT) decoder of license files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from api_testkit import Api, unarmor


@pytest.fixture
def client(client: Any) -> Iterator[Any]:
    """The shared test client, failing the test if any answer was a server error."""
    server_errors: list[str] = []

    def record(response: Any) -> None:
        intended = response.request.url.path == "/readyz" and response.status_code == 503
        if response.status_code >= 500 and not intended:
            server_errors.append(f"{response.request.method} {response.request.url} -> {response.status_code}")

    client.event_hooks["response"].append(record)
    yield client
    client.event_hooks["response"].remove(record)
    assert not server_errors, f"server errors: {server_errors}"


@pytest.fixture
def api(client: Any, auth: dict[str, str], session_factory: Callable[[], Any]) -> Api:
    return Api(client, auth, session_factory)


@pytest.fixture
def jwks(client: Any) -> dict[str, Any]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture
def pyjwt_decode(jwks: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """Verify an armored license file with PyJWT, given only the published JWKS."""

    def decode(license_file: str, **options: Any) -> dict[str, Any]:
        compact = unarmor(license_file)
        header = jwt.get_unverified_header(compact)
        assert header["alg"] == "EdDSA"
        [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
        key = jwt.PyJWK(jwk)
        claims: dict[str, Any] = jwt.decode(compact, key=key, algorithms=["EdDSA"], options=options or None)
        return claims

    return decode
