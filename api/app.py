"""The FastAPI application."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from api import errors, pages, public, sales
from api.deps import RateLimiter, reject_nul_in_url
from api.middleware import BodySizeLimit
from licensing import __version__
from licensing.core import Core
from licensing.db import make_engine, make_sessionmaker
from licensing.logs import configure_logging
from licensing.settings import Settings, get_settings

DESCRIPTION = """
Issues Ed25519-signed license files for self-hosted software and lets sales ops manage them.

* **Public**: the JWKS, the signed revocation list, 30-day trials, free licenses, license refresh.
* **Sales ops**: customers, licenses (issue, list, download, renew, revoke) and the audit log, with
  `Authorization: Bearer <api key>` (roles admin > sales > readonly).

Errors are `application/problem+json` with a stable `code`. A POST with an `Idempotency-Key` header
replays its first answer for the same key and body, and answers 409 `idempotency_conflict` for the
same key with another body.
"""


def create_app(settings: Settings | None = None, *, core: Core | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    engine = engine or make_engine(settings.database_url)
    app = FastAPI(
        title="Licensing service",
        version=__version__,
        description=DESCRIPTION,
        dependencies=[Depends(reject_nul_in_url)],
        openapi_tags=[
            {"name": "public", "description": "No authentication."},
            {"name": "customers"},
            {"name": "licenses"},
            {"name": "audit"},
            {"name": "operation"},
            {"name": "pages"},
        ],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.core = core or Core.from_settings(settings)
    app.state.rate_limiter = RateLimiter(settings.public_rate_limit)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    errors.install(app)
    app.include_router(public.router)
    app.include_router(sales.router)
    app.include_router(pages.router)
    logging.getLogger("licensing.api").info("app.started", extra={"database": engine.dialect.name})
    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()
