"""Request dependencies as named aliases: the session (one transaction per request), the core,
the authenticated API key by role, the client address and the public rate limit."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from api.ratelimit import PublicRateLimit
from licensing.access.apikeys import authenticate, require_role
from licensing.context import Core, Runtime
from licensing.kit.errors import Unauthorized, ValidationFailed
from licensing.models import ApiKey


def _finish(session: Session, failed: bool) -> None:
    """End a unit of work: roll back (``failed``) or commit, rolling back when the commit fails; then
    close, which gives the connection back to the pool."""
    try:
        if failed:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@asynccontextmanager
async def _unit_of_work(factory: sessionmaker[Session]) -> AsyncIterator[Session]:
    # Opened on the event loop: a session does no I/O until its first statement takes a connection, so
    # a hop to the thread pool and back for it would be pure cost. The commit or rollback does I/O: a
    # worker thread runs it, under a limiter of its own as FastAPI runs a sync dependency's exit (giving
    # a connection back must never wait for a thread held by a request that waits for a connection),
    # and FastAPI shields a dependency's exit from cancellation.
    session = factory()
    try:
        yield session
    except BaseException:
        await anyio.to_thread.run_sync(_finish, session, True, limiter=anyio.CapacityLimiter(1))
        raise
    await anyio.to_thread.run_sync(_finish, session, False, limiter=anyio.CapacityLimiter(1))


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's unit of work: committed when the handler returns, rolled back when it raises."""
    async with _unit_of_work(request.app.state.sessionmaker) as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """A session for a handler that only reads, in one statement: on PostgreSQL without a transaction
    (autocommit), which spares the BEGIN and COMMIT round trips of a poll every install makes; a single
    statement is consistent on its own. Elsewhere (SQLite), the request's unit of work."""
    async with _unit_of_work(request.app.state.read_sessionmaker) as session:
        yield session


# The small dependencies below do no I/O, so they are async: they run on the event loop instead of costing
# each request a hop to the thread pool and back (sync ones do; see benchmarks/api.py).
async def reject_nul_in_url(request: Request) -> None:
    """Refuse NUL in the path or query: PostgreSQL cannot compare text with it, so a lookup would fail."""
    if "\x00" in request.scope.get("path", "") or any(
        "\x00" in name or "\x00" in value for name, value in request.query_params.multi_items()
    ):
        raise ValidationFailed("The address must not contain NUL (%00) characters.", code="invalid_url")


async def get_core(request: Request) -> Core:
    core: Core = request.app.state.core
    return core


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# scope="function": commit before the response is sent, so a failed commit is never answered 2xx.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
CoreDep = Annotated[Core, Depends(get_core)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_bearer = HTTPBearer(auto_error=False, description="An API key made with `licensing apikeys create`.")


def _api_key(role: str):  # type: ignore[no-untyped-def]
    def dependency(
        session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> ApiKey:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("Send an API key as `Authorization: Bearer <key>`.", code="missing_api_key")
        key = authenticate(session, credentials.credentials)
        require_role(key, role)
        return key

    return dependency


ReadKey = Annotated[ApiKey, Depends(_api_key("readonly"))]
SalesKey = Annotated[ApiKey, Depends(_api_key("sales"))]
AdminKey = Annotated[ApiKey, Depends(_api_key("admin"))]


def client_key(host: str) -> str:
    """Who a client is, from its IP address: an IPv4 address itself; an IPv6 client by its /64 (one
    network hands a whole /64 to a host, which can rotate its address inside it at will), an IPv4-mapped
    IPv6 address as the IPv4 one. Anything that is not an address is ``unknown``."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


async def client_address(request: Request) -> str:
    """The client: the socket's address, or what a trusted proxy forwarded (see api.app), as
    :func:`client_key` names it (an IPv6 client is its /64). The rate limit counts it, idempotency
    scopes and the audit log's ``public:`` actors name it. Anything that is not an address (a proxy
    passing on a client's junk) is not believed."""
    return client_key(request.client.host if request.client else "")


ClientAddress = Annotated[str, Depends(client_address)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (a poll token), else None."""
    return credentials.credentials if credentials is not None and credentials.scheme.lower() == "bearer" else None


async def public_rate_limit(request: Request, address: ClientAddress) -> str:
    limiter: PublicRateLimit = request.app.state.rate_limiter
    await limiter.hit(address)
    return address


RateLimitedClient = Annotated[str, Depends(public_rate_limit)]
