"""Seeing each request: its id, one JSON access line, and the HTTP metrics.

The id is the caller's ``X-Request-ID`` when it is sane (at most 128 characters of a safe set, so it
can go into a log line as it is), else a new one; it is answered in ``X-Request-ID`` and every log line
written while the request is served carries it (:data:`licensing.kit.logs.request_id`). The access line
and the metrics name the route template (``/confirm/{token}``), never the path: a path may hold a
secret (a confirmation or sign-in token), and templates are few, so they make good metric labels.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from licensing.kit import metrics
from licensing.kit.logs import request_id

log = logging.getLogger("licensing.access")
HEADER = b"x-request-id"
SANE_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")
UNMATCHED = "unmatched"  # no route: one label for every unknown path (scanners would make thousands)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-ID when sane, else a new one."""
    for name, value in scope.get("headers") or []:
        if name == HEADER:
            text: str = value.decode("latin-1")
            if SANE_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The template of the route that answered (set by the router as ``scope["route"]``), else constant."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestLog:
    """Pure ASGI (no body buffering): outermost, so every answer carries the id and is counted."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500  # what the caller gets if the app raises before answering
        logged = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, logged
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode())]}
            elif message["type"] == "http.response.body" and not message.get("more_body", False) and not logged:
                # Counted before the answer's last bytes go: a scrape the caller makes next sees it.
                logged = True
                self._log(scope, status, started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # The 500 is answered outside (Starlette's ServerErrorMiddleware, api.errors): the id stays set
            # for its log line and header (this task serves this one request).
            if not logged:
                self._log(scope, status, started)
            raise
        if not logged:
            self._log(scope, status, started)
        request_id.reset(token)

    def _log(self, scope: Scope, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        route = route_of(scope)
        method = scope.get("method", "") if scope.get("method") in METHODS else "OTHER"
        metrics.http_requests.labels(method=method, route=route, status=str(status)).inc()
        metrics.http_duration.labels(route=route).observe(seconds)
        client = scope.get("client")
        log.info(
            "http.request",
            extra={
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "client": client[0] if client else None,
            },
        )
