"""The API reference: Swagger UI at /docs and ReDoc at /redoc, from assets served here (no CDN)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from api.security import page_policy
from api.web.site import templates

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> Response:
    # Swagger UI shows images as data: URLs (icons in its stylesheet).
    page_policy(request).add("img-src", "data:")
    return templates.TemplateResponse(request, "docs/swagger.html", _docs_context(request, "API reference"))


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> Response:
    # ReDoc draws with data: images, runs its search index in a worker made from a blob: URL, and
    # writes its generated styles into <style> elements that carry the nonce given in its options.
    policy = page_policy(request).add("img-src", "data:").add("worker-src", "blob:")
    context = {**_docs_context(request, "API reference"), "style_nonce": policy.nonce("style-src")}
    return templates.TemplateResponse(request, "docs/redoc.html", context)


def _docs_context(request: Request, title: str) -> dict[str, Any]:
    app: FastAPI = request.app
    return {"title": f"{title}: {app.title}", "openapi_url": request.scope.get("root_path", "") + str(app.openapi_url)}
