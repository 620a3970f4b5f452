"""Conditional GETs (RFC 9110 section 13.1.2): a strong ETag from a body's hash, and whether an
``If-None-Match`` header matches it, so that a matching poll is answered 304 Not Modified."""

from __future__ import annotations

import base64
import hashlib

from fastapi import Request
from fastapi.responses import Response

MAX_HEADER_CHARS = 4096  # a real If-None-Match holds a few tags; a longer one is not looked through


def etag_of(body: bytes) -> str:
    """A strong entity tag: the body's SHA-256, base64url (the same bytes, the same tag, on every worker)."""
    return '"' + base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("=") + '"'


def none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match: header`` matches ``etag``: ``*``, or a list of entity tags compared weakly
    (``W/"x"`` matches ``"x"``, as the RFC asks for If-None-Match)."""
    if not header or len(header) > MAX_HEADER_CHARS:
        return False
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    for candidate in header.split(","):
        tag = candidate.strip().removeprefix("W/")
        if len(tag) >= 2 and tag[0] == tag[-1] == '"' and tag == opaque:
            return True
    return False


def conditional(request: Request, response: Response, cache_control: str) -> Response:
    """``response`` with its ETag and ``Cache-Control``, or 304 with no body when the client has it."""
    etag = etag_of(bytes(response.body))
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if request.method in ("GET", "HEAD") and none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response
