"""The site's pages, one module per area, on one layout (:mod:`api.web.site`)."""

from __future__ import annotations

from fastapi import FastAPI

from api.web import console, contact, docs, portal, selfserve, shop, site


def install(app: FastAPI) -> None:
    """The layout's assets and error pages, then every area's pages."""
    site.install_layout(app)
    console.install(app)
    for router in (
        site.router,
        docs.router,
        selfserve.router,
        contact.router,
        shop.router,
        portal.router,
        console.router,
    ):
        app.include_router(router)
