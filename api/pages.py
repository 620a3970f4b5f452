"""HTML pages: the trial form and the API reference (the pricing, checkout and portal pages come with
billing), on one layout (``templates/base.html``) with one stylesheet (``static/site.css``).

A page's template extends ``base.html``; a form in it posts to the same service and renders
``{{ csrf_field() }}``; its POST route is on ``router``, whose ``check_form_post`` dependency refuses a
cross-site post (a 403 page, ``refused.html``). See ``api/security.py`` for widening one page's
Content-Security-Policy (a form that posts to Stripe).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from pydantic import ValidationError
from starlette.routing import Match

from api.deps import CoreDep, RateLimitedClient, SessionDep
from api.public import start_trial
from api.schemas import TrialRequest
from api.security import CSRF_FIELD, FormPostRefused, check_form_post, csrf_token, page_policy
from licensing.errors import DomainError

PRODUCT_NAME = "Licensing"
# The site's navigation, in this order; a link shows once its page is served (GET routed).
NAVIGATION = (("Pricing", "/pricing"), ("Trial", "/trial"), ("Free", "/free"), ("Portal", "/portal"))
HERE = Path(__file__).parent
# Swagger UI and ReDoc, as shipped (offline) by the fastapi-offline package.
DOCS_ASSETS_PACKAGE = ("fastapi_offline", "static")

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_form_post)])
# What to tell a person about a field the form's validation refused (pydantic's wording is for programs).
_FIELD_HELP = {
    "email": "Enter your work e-mail address (up to 254 characters).",
    "company": "Enter your company's name (up to 200 characters).",
    "seats": "Seats must be a whole number from 1 to 1000.",
    "installation_id": "The installation id may contain only letters, digits and . _ : - (up to 200 characters).",
}


def _site(request: Request) -> dict[str, Any]:
    """What the layout shows on every page."""
    root = request.scope.get("root_path", "")
    return {
        "product_name": PRODUCT_NAME,
        "navigation": [(label, root + path) for label, path in NAVIGATION if _serves_page(request.app, path)],
        "current_path": request.url.path,
        "static": root + "/static",
        "root": root,
    }


def _serves_page(app: FastAPI, path: str) -> bool:
    scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
    return any(route.matches(scope)[0] is Match.FULL for route in app.router.routes)


@pass_context
def _csrf_field(context: Context) -> Markup:
    token = csrf_token(context["request"])
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


templates = Jinja2Templates(directory=HERE / "templates", context_processors=[_site])
templates.env.globals["csrf_field"] = _csrf_field


def install(app: FastAPI) -> None:
    """The pages, the API reference, their assets and the 403 page of a refused form post."""
    # The shop's and the customer portal's routes, on this module's router.
    from api import checkout_pages, portal_pages  # noqa: F401

    # The vendored docs assets first: /static would otherwise answer for /static/vendor too.
    app.mount("/static/vendor", StaticFiles(packages=[DOCS_ASSETS_PACKAGE]), name="vendor")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    app.add_exception_handler(FormPostRefused, _refused)  # type: ignore[arg-type]


def _refused(request: Request, exc: FormPostRefused) -> Response:
    return templates.TemplateResponse(
        request, "refused.html", {"message": exc.message, "form_path": request.url.path}, status_code=403
    )


def form_int(text: str) -> int | None:
    """A form's number field: None when empty, -1 (refused by validation) when not a small whole number."""
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else -1


@router.get("/")
def index() -> Response:
    return RedirectResponse("/pricing", status_code=307)


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


@router.get("/trial", response_class=HTMLResponse)
def trial_form(request: Request) -> Response:
    return templates.TemplateResponse(request, "trial.html", {"form": {"seats": 250}, "error": None})


@router.post("/trial", response_class=HTMLResponse)
def trial_submit(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    client: RateLimitedClient,
    email: Annotated[str, Form()] = "",
    company: Annotated[str, Form()] = "",
    seats: Annotated[str, Form()] = "",
    installation_id: Annotated[str, Form()] = "",
    accept_terms: Annotated[str | None, Form()] = None,
) -> Response:
    form = {
        "email": email,
        "company": company,
        "seats": seats,
        "installation_id": installation_id,
        "accept_terms": accept_terms == "on",
    }
    try:
        payload = TrialRequest.model_validate(
            {
                "email": email,
                "company": company,
                "seats": form_int(seats),
                "installation_id": installation_id.strip() or None,
                "accept_terms": accept_terms == "on",
            }
        )
        lic = start_trial(session, core, payload, client)
    except ValidationError as exc:
        message = " ".join(dict.fromkeys(_FIELD_HELP.get(str(e["loc"][0]), e["msg"]) for e in exc.errors()))
        return templates.TemplateResponse(request, "trial.html", {"form": form, "error": message}, status_code=422)
    except DomainError as exc:
        session.rollback()
        return templates.TemplateResponse(
            request, "trial.html", {"form": form, "error": exc.message}, status_code=exc.status
        )
    return templates.TemplateResponse(
        request, "trial_issued.html", {"license": lic, "license_file": lic.license_file}, status_code=201
    )
