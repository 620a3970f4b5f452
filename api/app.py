"""The FastAPI application."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from prometheus_client import multiprocess
from sqlalchemy import Engine
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import checkout, errors, installs, leads, metrics, public, sales, web
from api.deps import reject_nul_in_url
from api.middleware import BodySizeLimit, redirect_slashes_to
from api.observe import RequestLog
from api.ratelimit import PublicRateLimit, rate_limit_storage
from api.schemas import StripeEventBody
from api.security import SecurityHeaders
from billing.webhooks import MAX_BODY_BYTES as WEBHOOK_MAX_BODY_BYTES
from licensing import __version__, context
from licensing.context import Core
from licensing.kit import metrics as kit_metrics
from licensing.kit.db import read_sessionmaker
from licensing.kit.logs import configure_logging
from licensing.kit.settings import Settings, get_settings
from service.worker import build_worker

DESCRIPTION = """
Issues Ed25519-signed license files for self-hosted software and lets sales ops manage them.

* **Public**: the JWKS, the signed revocation list, 30-day trials, free licenses, license refresh,
  Professional checkout through Stripe and Stripe's webhooks.
* **Sales ops**: customers, licenses (issue, list, download, renew, revoke), subscriptions and the audit
  log, with `Authorization: Bearer <api key>` (roles admin > sales > readonly).

Errors are `application/problem+json` with a stable `code`. A POST with an `Idempotency-Key` header
replays its first answer for the same key and body, and answers 409 `idempotency_conflict` for the
same key with another body.
"""


def create_app(settings: Settings | None = None, *, core: Core | None = None, engine: Engine | None = None) -> FastAPI:
    """The service's ASGI app. In production it refuses to start (raises
    :class:`~licensing.context.StartupRefused`) with a development key or placeholder secrets, however
    it is started (``licensing serve``, or ``uvicorn --factory api.app:create_app``)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    runtime = context.start(settings, core=core, engine=engine)
    log = logging.getLogger("licensing.api")
    if warning := context.development_key_warning(runtime.core.keys):
        log.warning("keys.development", extra={"detail": warning})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The background loop in-process (SPEC section 4: one process is a complete service), unless
        # LICENSING_WORKER_IN_PROCESS=false because `licensing worker` runs it apart.
        worker = None
        if settings.worker_in_process:
            worker = build_worker(runtime)
            worker.start()
        app.state.worker = worker
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            if metrics_dir := kit_metrics.multiprocess_dir():  # this worker's live gauges go with it
                multiprocess.mark_process_dead(os.getpid(), metrics_dir)  # type: ignore[no-untyped-call]

    app = FastAPI(
        lifespan=lifespan,
        title="Licensing service",
        version=__version__,
        description=DESCRIPTION,
        dependencies=[Depends(reject_nul_in_url)],
        docs_url=None,  # /docs and /redoc are pages (api/web/docs.py): assets served here, a strict CSP
        redoc_url=None,
        openapi_tags=[
            {"name": "public", "description": "No authentication."},
            {"name": "customers"},
            {"name": "licenses"},
            {"name": "subscriptions", "description": "Self-serve subscriptions, as Stripe reports them."},
            {"name": "audit"},
            {"name": "operation"},
            {"name": "pages"},
        ],
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.engine = runtime.engine
    app.state.sessionmaker = runtime.sessions
    app.state.read_sessionmaker = read_sessionmaker(runtime.engine, runtime.sessions)
    app.state.core = runtime.core
    app.state.rate_limiter = PublicRateLimit(settings.public_rate_limit, rate_limit_storage(settings.redis_url_value()))
    app.state.worker = None
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        per_path={
            checkout.WEBHOOK_PATH: max(settings.max_body_bytes, WEBHOOK_MAX_BODY_BYTES),
            # An air-gap file may be as long as the readers take (a million characters, as a license file).
            **{path: max(settings.max_body_bytes, installs.MAX_BODY_BYTES) for path in installs.FILE_PATHS},
        },
    )
    # X-Forwarded-For is believed only from LICENSING_TRUSTED_PROXIES (none by default): from anyone else it
    # would let a caller choose the address that the rate limit, the audit log and idempotency scopes see.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.add_middleware(SecurityHeaders, settings=settings)
    # Outermost: every answer (refusals by the middleware above too) carries the request id, is logged
    # and counted; the client it logs is the one ProxyHeadersMiddleware settled on.
    app.add_middleware(RequestLog)
    errors.install(app)
    app.include_router(public.router)
    app.include_router(checkout.router)
    app.include_router(sales.router)
    app.include_router(leads.router)
    app.include_router(installs.router)
    app.include_router(metrics.router)
    metrics.install(app.state, runtime)
    web.install(app)
    redirect_slashes_to(app.router, settings.public_url)
    _describe_problems(app)
    log.info("app.started", extra={"database": runtime.database})
    return app


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An error (RFC 9457). `code` is stable; some problems add fields such as `field` or `errors`.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "examples": [
        {
            "type": "https://licensing.invalid/problems/trial_already_used",
            "title": "Conflict",
            "status": 409,
            "detail": "This organisation has already had a trial. Contact sales for an extension.",
            "code": "trial_already_used",
        }
    ],
}


def _describe_problems(app: FastAPI) -> None:
    """Document errors as they are sent: problem+json, not FastAPI's default validation shape."""
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = default()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Problem"] = PROBLEM_SCHEMA
        schemas["StripeEventBody"] = StripeEventBody.model_json_schema()
        problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    if status[0] in "45":
                        response["content"] = problem
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
