"""The JWKS and the revocation list answer with a strong ETag and 304 Not Modified to a matching
If-None-Match (RFC 9110 section 13.1.2), so a fleet of installs or a CDN polls them cheaply."""

from __future__ import annotations

import re
from typing import Any

import pytest
from api_testkit import Api

from api.conditional import etag_of, none_match

PATHS = ["/.well-known/jwks.json", "/v1/revocations"]


@pytest.mark.parametrize("path", PATHS)
def test_a_strong_etag_of_the_body(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    etag = response.headers["etag"]
    assert re.fullmatch(r'"[A-Za-z0-9_-]{16,}"', etag), etag  # strong: no W/
    assert etag == etag_of(response.content)
    assert client.get(path).headers["etag"] == etag  # the same body, the same tag
    cache = response.headers["cache-control"]
    assert "public" in cache and "max-age=" in cache and "no-store" not in cache


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "header",
    ["{etag}", "W/{etag}", '"other", {etag}', '"a",W/{etag} , "b"', "*"],
)
def test_a_matching_if_none_match_answers_304_without_a_body(client: Any, path: str, header: str) -> None:
    first = client.get(path)
    etag = first.headers["etag"]
    response = client.get(path, headers={"If-None-Match": header.format(etag=etag)})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == first.headers["cache-control"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("header", ['"nope"', 'W/"nope"', "", "garbage", '"' + "x" * 5000 + '"'])
def test_another_tag_gets_the_body(client: Any, path: str, header: str) -> None:
    response = client.get(path, headers={"If-None-Match": header})
    assert response.status_code == 200 and response.content


def test_a_revocation_changes_the_lists_etag(api: Api, client: Any) -> None:
    before = client.get("/v1/revocations").headers["etag"]
    customer = api.customer(email="it@etag-4b1c.example")["id"]
    lic = api.issue(customer, tier="enterprise", seats=5, duration_days=30)["license"]["id"]
    api.revoke(lic)
    response = client.get("/v1/revocations", headers={"If-None-Match": before})
    assert response.status_code == 200 and response.headers["etag"] != before


def test_none_match() -> None:
    tag = etag_of(b"body")
    assert tag != etag_of(b"other body") and tag == etag_of(b"body")
    assert none_match(tag, tag) and none_match(f"W/{tag}", tag) and none_match("*", tag)
    assert none_match(f'"x",  {tag}', tag)
    assert not none_match('"x"', tag) and not none_match("", tag) and not none_match(None, tag)
    assert not none_match(tag[:-1], tag)  # an unterminated tag matches nothing
