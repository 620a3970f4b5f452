"""Rendering errors as application/problem+json (RFC 9457) with a stable ``code``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.observe import route_of
from licensing.kit.db import is_database_unavailable, unavailable_reason
from licensing.kit.errors import DomainError, ServiceUnavailable, ValidationFailed
from licensing.kit.logs import request_id

log = logging.getLogger("licensing.api")
PROBLEM = "application/problem+json"
TYPE_BASE = "https://licensing.invalid/problems/"

_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def problem(
    status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, "code": code, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


# Renders a DomainError raised on a page's route (a form post over the rate limit, say) as an HTML page;
# set on app.state.problem_page by api.web.install.
ProblemPage = Callable[[Request, DomainError, "dict[str, str] | None"], Response]
_API_PREFIXES = ("/v1/", "/.well-known/", "/healthz", "/readyz", "/openapi.json")


def is_page_request(request: Request) -> bool:
    """A browser asking for one of the pages (not the JSON API): it gets an HTML error page."""
    path = request.url.path.removeprefix(request.scope.get("root_path", ""))
    return not path.startswith(_API_PREFIXES) and "text/html" in request.headers.get("accept", "")


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error.get('msg')}" if where else str(error.get("msg"))


def _allowed_methods(request: Request) -> str:
    """``Allow`` of a 405: every method the app routes for this path. FastAPI has a route per method,
    and Starlette's 405 names only the first route's (``Allow: POST`` where GET is served too)."""

    def routed(method: str) -> bool:
        scope = {**request.scope, "method": method}
        return any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes)

    return ", ".join(method for method in _METHODS if routed(method))


DATABASE_WARN_EVERY_SECONDS = 10.0


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    retry_after = 5


class _Throttle:
    """At most once every ``seconds`` (a log line a request would flood the log during an outage)."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self._last, self._skipped, self._lock = seconds, -float("inf"), 0, threading.Lock()

    def __call__(self) -> int | None:
        """None when it is too soon, else how many times it was too soon since the last time."""
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.seconds:
                self._skipped += 1
                return None
            self._last, skipped, self._skipped = now, self._skipped, 0
            return skipped


def install(app: FastAPI) -> None:
    database_warning = _Throttle(DATABASE_WARN_EVERY_SECONDS)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        retry_after = str(getattr(exc, "retry_after", 60))
        headers = {401: {"WWW-Authenticate": "Bearer"}, 429: {"Retry-After": retry_after}}.get(exc.status)
        if isinstance(exc, DatabaseUnavailable):
            headers = {"Retry-After": str(exc.retry_after)}
        page: ProblemPage | None = getattr(request.app.state, "problem_page", None)
        if page is not None and is_page_request(request):
            return page(request, exc, headers)
        return problem(exc.status, exc.code, exc.title, exc.message, headers=headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(400, "malformed_json", "Malformed JSON", "The request body is not valid JSON.")
        invalid = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "message": e.get("msg"),
                "type": e.get("type"),
            }
            for e in errors
        ]
        detail = "; ".join(_describe(e) for e in errors[:5])
        page: ProblemPage | None = getattr(request.app.state, "problem_page", None)
        if page is not None and is_page_request(request):
            # A page's address with a query it cannot take (a cut or edited link), opened in a browser.
            fields = ", ".join(sorted({str(e.get("loc", ("", "?"))[-1]) for e in errors}))
            message = f"This page's address has a value it cannot use ({fields}): {detail}. Go back and try again."
            return page(request, ValidationFailed(message), None)
        return problem(422, "validation_error", "Invalid request", detail, errors=invalid)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        not_found_page: Callable[[Request], Response] | None = getattr(request.app.state, "not_found_page", None)
        if exc.status_code == 404 and "route" not in request.scope and not_found_page and is_page_request(request):
            # No route at all (a mistyped or stale link), asked for by a browser: a page with the ways back.
            # A route's own 404 (a license not found), a 405 and any API client keep problem+json.
            return not_found_page(request)
        is_json = "json" in request.headers.get("content-type", "")
        if exc.status_code == 400 and is_json and isinstance(exc.__cause__, (ValueError, RecursionError)):
            # FastAPI's "error parsing the body": JSON that is not UTF-8, or nested past the parser's limit.
            return problem(400, "malformed_json", "Malformed JSON", "The request body is not valid JSON.")
        code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405 and (allowed := _allowed_methods(request)):
            headers = {**(headers or {}), "Allow": allowed}
        return problem(exc.status_code, code, title, str(exc.detail), headers=headers)

    @app.exception_handler(sa_exc.SQLAlchemyError)
    async def _database(request: Request, exc: sa_exc.SQLAlchemyError) -> Response:
        if not is_database_unavailable(exc):
            return await _unexpected(request, exc)
        # 503 at once (the driver fails fast on a refused or dropped connection), never a traceback:
        # the client retries, and the pool's pre-ping replaces dead connections when the database is back.
        if (unlogged := database_warning()) is not None:
            log.warning(
                "database.unavailable",
                extra={
                    "route": route_of(request.scope),
                    "error": unavailable_reason(exc),
                    "unlogged_since_last": unlogged,
                },
            )
        return await _domain(
            request, DatabaseUnavailable("The database is not reachable right now; try again in a few seconds.")
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The route template, not the path (it may hold a token); the request id, still set (api.observe).
        log.exception("request.failed", extra={"route": route_of(request.scope)})
        rid = request_id.get()
        return problem(
            500,
            "internal_error",
            "Internal error",
            "Something went wrong on our side; it has been logged.",
            headers={"X-Request-ID": rid} if rid else None,
        )
