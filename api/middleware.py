"""ASGI middleware: refuse request bodies over a size limit before reading them (the limit is the same
for every route but the few given their own: Stripe's webhooks, whose real payloads exceed the default);
redirect a path with or without its trailing slash to the public address."""

from __future__ import annotations

import json

from starlette._utils import get_route_path
from starlette.datastructures import URL
from starlette.responses import RedirectResponse
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PROBLEM, TYPE_BASE


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        # Read the body here, up to the limit (a chunked one declares no length), and hand it on whole:
        # refusing from inside the app's receive would surface as FastAPI's 400 "error parsing the body".
        chunks: list[bytes] = []
        seen = 0
        first: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                first = message  # the client went away; let the app see it
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await self._refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if first is None:
            first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        pending: Message | None = first

        async def replay() -> Message:
            nonlocal pending
            if pending is not None:
                message, pending = pending, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = json.dumps(
            {
                "type": TYPE_BASE + "payload_too_large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"Request bodies are limited to {limit} bytes.",
                "code": "payload_too_large",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def redirect_slashes_to(router: Router, public_url: str) -> None:
    """Starlette's trailing-slash redirect (``/v1/trials/`` to ``/v1/trials``), with its ``Location`` on
    ``public_url`` (``LICENSING_PUBLIC_URL``): Starlette builds it from the request's ``Host`` header, which
    any caller chooses (an open redirect, and a cache poisoned with it behind a CDN)."""
    base = URL(public_url.rstrip("/"))
    not_found = router.default
    router.redirect_slashes = False

    async def default(scope: Scope, receive: Receive, send: Send) -> None:
        route_path = get_route_path(scope)
        if scope["type"] == "http" and route_path != "/":
            other = dict(scope)
            other["path"] = scope["path"].rstrip("/") if route_path.endswith("/") else scope["path"] + "/"
            if any(route.matches(other)[0] is not Match.NONE for route in router.routes):
                query = scope.get("query_string", b"").decode("latin-1")
                # The public URL is the app's root: the path below it (without any ASGI root_path).
                below = route_path.rstrip("/") if route_path.endswith("/") else route_path + "/"
                location = base.replace(path=base.path + below, query=query)
                await RedirectResponse(str(location))(scope, receive, send)
                return
        await not_found(scope, receive, send)

    router.default = default
