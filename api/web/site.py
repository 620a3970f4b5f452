"""What every page shares: one layout (``templates/base.html``) with one stylesheet (``static/site.css``),
the template helpers (CSRF field, money, dates), form helpers and the error pages.

A page's template extends ``base.html``; a form in it posts to the same service and renders
``{{ csrf_field() }}``; its POST route is on a router with the ``check_form_post`` dependency, which
refuses a cross-site post (a 403 page, ``refused.html``). See ``api/security.py`` for widening one
page's Content-Security-Policy (a form that posts to Stripe). The areas' pages are in the modules beside
this one; ``api.web.install`` registers them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.routing import Match

from api.security import CSRF_FIELD, FormPostRefused, csrf_token
from billing.client import BillingDisabled
from licensing.kit.errors import DomainError
from licensing.kit.settings import Settings

PRODUCT_NAME = "Licensing"
# The site's navigation, in this order; a link shows once its page is served (GET routed).
NAVIGATION = (("Pricing", "/pricing"), ("Trial", "/trial"), ("Free", "/free"), ("Portal", "/portal"))
HERE = Path(__file__).parent
# Swagger UI and ReDoc, as shipped (offline) by the fastapi-offline package.
DOCS_ASSETS_PACKAGE = ("fastapi_offline", "static")

# A page that shows a license file (or another visitor's secret) is theirs alone: no cache keeps it.
NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter(include_in_schema=False)


def _site(request: Request) -> dict[str, Any]:
    """What the layout shows on every page."""
    root = request.scope.get("root_path", "")
    settings: Settings | None = getattr(request.app.state, "settings", None)
    return {
        # The operator's terms and privacy notice, else the service's own pages saying they are not published.
        "terms_url": (settings.terms_url if settings else None) or root + "/terms",
        "privacy_url": (settings.privacy_url if settings else None) or root + "/privacy",
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


def money(minor_units: int, currency: str) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower())
    amount = f"{minor_units / 100:,.2f}".removesuffix(".00")
    # A price names its currency (SPEC 6): "$10 USD", not just "$10" (the dollar of which country?).
    return f"{symbol}{amount} {currency.upper()}" if symbol else f"{amount} {currency.upper()}"


def day(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d")


def last_day(end: datetime | None) -> str:
    """The last day of a half-open period ending at ``end`` (a usage report's ends at the start of the day
    after its last)."""
    return "" if end is None else day(end - timedelta(seconds=1))


templates.env.globals["money"] = money
templates.env.filters["day"] = day
templates.env.filters["last_day"] = last_day


def install_layout(app: FastAPI) -> None:
    """The assets every page uses, the API reference's assets and the pages of errors."""
    # The vendored docs assets first: /static would otherwise answer for /static/vendor too.
    app.mount("/static/vendor", StaticFiles(packages=[DOCS_ASSETS_PACKAGE]), name="vendor")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(FormPostRefused, _refused)  # type: ignore[arg-type]
    app.state.problem_page = _problem_page
    app.state.not_found_page = _not_found_page


def buyer_message(exc: DomainError) -> str:
    """What a buyer's page says for ``exc``: its message, but never the operator's side of it (a setting
    to set): online payment off is "write to sales" for a buyer."""
    if isinstance(exc, BillingDisabled):
        return "Online payment is not available on this service. Our sales team sells licenses: contact them."
    return exc.message


def _not_found_page(request: Request) -> Response:
    """A page no route serves, asked for by a browser: a page in the layout with the ways back."""
    return templates.TemplateResponse(request, "not_found.html", {}, status_code=404)


def _problem_page(request: Request, exc: DomainError, headers: dict[str, str] | None) -> Response:
    """An error on a page's route (e.g. the rate limit refusing a form post), as a page in the layout."""
    context = {"title": exc.title, "message": buyer_message(exc), "status": exc.status, "form_path": request.url.path}
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


@router.get("/terms", response_class=HTMLResponse)
def terms(request: Request) -> Response:
    """The service's own stand-in until the operator publishes terms (``terms_url``; the pages link it then)."""
    return templates.TemplateResponse(request, "legal.html", {"document": "terms", "name": "Terms of service"})


@router.get("/privacy", response_class=HTMLResponse)
def privacy(request: Request) -> Response:
    """The stand-in for the operator's privacy notice (``privacy_url``), as /terms."""
    return templates.TemplateResponse(request, "legal.html", {"document": "privacy", "name": "Privacy notice"})
