"""HTML pages: the trial and free-license forms, the confirmation link's page and the API reference (the
pricing, checkout and portal pages come with billing), on one layout (``templates/base.html``) with one
stylesheet (``static/site.css``).

A page's template extends ``base.html``; a form in it posts to the same service and renders
``{{ csrf_field() }}``; its POST route is on ``router``, whose ``check_form_post`` dependency refuses a
cross-site post (a 403 page, ``refused.html``). See ``api/security.py`` for widening one page's
Content-Security-Policy (a form that posts to Stripe).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.routing import Match

from api.deps import CoreDep, RateLimitedClient, SessionDep
from api.public import free_ask_of, trial_ask_of
from api.schemas import FreeLicenseRequest, TrialRequest
from api.security import CSRF_FIELD, FormPostRefused, check_form_post, csrf_token, page_policy
from licensing.context import Core
from licensing.kit.errors import DomainError
from licensing.models import License
from licensing.selfserve.requests import (
    TRIAL_USED_MESSAGE,
    Ask,
    Pending,
    by_confirm_token,
    confirm,
    request_license,
    request_status,
    what_is_asked,
)

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
    "name": "Enter your name (up to 200 characters).",
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
    app.state.problem_page = _problem_page


def _problem_page(request: Request, exc: DomainError, headers: dict[str, str] | None) -> Response:
    """An error on a page's route (e.g. the rate limit refusing a form post), as a page in the layout."""
    context = {"title": exc.title, "message": exc.message, "status": exc.status, "form_path": request.url.path}
    return templates.TemplateResponse(request, "problem.html", context, status_code=exc.status, headers=headers)


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


def _field_errors(exc: ValidationError) -> str:
    return " ".join(dict.fromkeys(_FIELD_HELP.get(str(e["loc"][0]), e["msg"]) for e in exc.errors()))


def _self_serve_page(
    request: Request,
    session: Session,
    core: Core,
    client: str,
    *,
    kind: Literal["trial", "free"],
    form: dict[str, Any],
    ask: Callable[[], Ask],
) -> Response:
    """A self-serve form's answer: the license at once (confirmation off), or "check your mail"; the
    form again with the reason when refused. The mail page says the same whether or not mail went out."""
    form_template = f"{kind}.html"
    try:
        result = request_license(session, core, ask(), actor=f"public:{client}")
    except ValidationError as exc:
        return templates.TemplateResponse(
            request, form_template, {"form": form, "error": _field_errors(exc)}, status_code=422
        )
    except DomainError as exc:
        return templates.TemplateResponse(
            request, form_template, {"form": form, "error": exc.message}, status_code=exc.status
        )
    if isinstance(result, Pending):
        context = {"kind": kind, "email": result.request.email}
        return templates.TemplateResponse(request, "check_mail.html", context, status_code=202)
    return _issued_page(request, result, mailed_to=None)


def _issued_page(request: Request, lic: License, *, mailed_to: str | None) -> Response:
    template = "trial_issued.html" if lic.trial else "free_issued.html"
    context = {"license": lic, "license_file": lic.license_file, "mailed_to": mailed_to}
    return templates.TemplateResponse(request, template, context, status_code=201)


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

    def ask() -> Ask:
        payload = TrialRequest.model_validate(
            {
                "email": email,
                "company": company,
                "seats": form_int(seats),
                "installation_id": installation_id.strip() or None,
                "accept_terms": accept_terms == "on",
            }
        )
        return trial_ask_of(payload)

    return _self_serve_page(request, session, core, client, kind="trial", form=form, ask=ask)


@router.get("/free", response_class=HTMLResponse)
def free_form(request: Request) -> Response:
    return templates.TemplateResponse(request, "free.html", {"form": {}, "error": None})


@router.post("/free", response_class=HTMLResponse)
def free_submit(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    client: RateLimitedClient,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    company: Annotated[str, Form()] = "",
    installation_id: Annotated[str, Form()] = "",
) -> Response:
    form = {"email": email, "name": name, "company": company, "installation_id": installation_id}

    def ask() -> Ask:
        payload = FreeLicenseRequest.model_validate(
            {
                "email": email,
                "name": name.strip() or None,
                "company": company.strip() or None,
                "installation_id": installation_id.strip() or None,
            }
        )
        return free_ask_of(payload)

    return _self_serve_page(request, session, core, client, kind="free", form=form, ask=ask)


# --- the confirmation link -----------------------------------------------------------------------
ConfirmToken = Annotated[str, PathParam(max_length=100)]
_CLOSED: dict[str, tuple[int, str, str]] = {
    "used": (
        410,
        "This link was already used",
        "This request is already confirmed; the license was mailed to you.",
    ),
    "expired": (
        410,
        "This link has expired",
        "Confirmation links work for 24 hours. This one was not used in time, so nothing was issued.",
    ),
    "unknown": (
        404,
        "This link is not valid",
        "We do not know this confirmation link. Check that the whole address from the e-mail was opened.",
    ),
    "refused": (409, "This request cannot be confirmed", TRIAL_USED_MESSAGE),
}


def _closed_page(request: Request, outcome: str) -> Response:
    status, heading, message = _CLOSED[outcome]
    context = {"outcome": outcome, "heading": heading, "message": message}
    return templates.TemplateResponse(request, "confirm_closed.html", context, status_code=status)


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(
    request: Request, token: ConfirmToken, session: SessionDep, core: CoreDep, client: RateLimitedClient
) -> Response:
    """What the link will issue, and a Confirm button; nothing is issued on GET.

    Mail scanners (Outlook Safe Links, corporate gateways) and link previews open every link of an
    e-mail before its reader does. A GET that issued would spend the single-use link (and could start
    a trial) before the person ever saw it; so GET only reads, and issuing takes the page's own POST,
    which those robots do not send (and which the CSRF check restricts to this site's page).
    """
    row = by_confirm_token(session, token)
    if row is None:
        return _closed_page(request, "unknown")
    status = request_status(row, core.now())
    if status != "pending_confirmation":
        return _closed_page(request, "used" if status == "issued" else status)
    context = {"request_row": row, "token": token, "facts": what_is_asked(row)}
    return templates.TemplateResponse(request, "confirm.html", context)


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm_submit(
    request: Request, token: ConfirmToken, session: SessionDep, core: CoreDep, client: RateLimitedClient
) -> Response:
    """Issue the license of a pending request, show it and mail it (licensing.selfserve.requests.confirm)."""
    result = confirm(session, core, token, actor=f"public:{client}")
    if result.outcome != "issued" or result.license is None:
        return _closed_page(request, result.outcome)
    return _issued_page(request, result.license, mailed_to=result.license.customer.email)
