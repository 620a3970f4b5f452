"""The trailing-slash redirect: its Location names the service's public address (LICENSING_PUBLIC_URL),
never the host a caller put in its ``Host`` header (an open redirect, and a poisoned cache behind a CDN)."""

from __future__ import annotations

from typing import Any

from licensing.kit.settings import Settings


def test_the_redirect_ignores_the_host_header(client: Any, settings: Settings) -> None:
    response = client.get("/v1/revocations/?x=1", headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code in (307, 308), response.text
    location = response.headers["location"]
    assert "evil.example" not in location
    assert location == settings.public_url.rstrip("/") + "/v1/revocations?x=1"


def test_a_post_is_redirected_alike(client: Any, settings: Settings) -> None:
    response = client.post("/v1/trials/", json={}, headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code in (307, 308), response.text
    assert response.headers["location"] == settings.public_url.rstrip("/") + "/v1/trials"


def test_unknown_paths_still_answer_404(client: Any) -> None:
    response = client.get("/v1/no-such-thing/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 404
    assert "location" not in response.headers
