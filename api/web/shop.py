"""The self-serve shop: /pricing, /checkout (to Stripe's hosted page), /checkout/success (fulfils the
checkout itself if the webhook has not come yet) and /checkout/cancel. The rules live in ``billing``;
these routes translate a form to its calls and its answers to pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import CoreDep, RateLimitedClient, SessionDep
from api.security import allow_form_action, check_form_post, origin_of
from api.web.site import form_int, money, templates
from billing.checkout import create_checkout, fulfil_checkout
from licensing.catalog import Catalog, Price
from licensing.context import Core
from licensing.kit.errors import DomainError
from licensing.kit.settings import Settings

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_form_post)])

# How the catalog's feature identifiers read on the pricing page.
FEATURE_NAMES = {
    "saml": "SAML single sign-on",
    "ldap": "LDAP and Active Directory",
    "openid": "OpenID Connect",
    "guest_accounts": "Guest accounts",
    "mfa_enforcement": "Enforced multi-factor authentication",
    "custom_branding": "Custom branding",
    "cluster": "High-availability cluster",
    "compliance_export": "Compliance exports",
    "data_retention": "Data retention policies",
    "custom_permissions": "Custom permission schemes",
    "elasticsearch": "Elasticsearch",
    "metrics": "Performance metrics",
    "shared_channels": "Shared channels",
}


def _prices(catalog: Catalog) -> dict[str, Any]:
    offer = catalog.offer("professional")
    by_interval: dict[str, Price] = {price.interval: price for price in offer.prices}
    monthly, annual = by_interval["month"], by_interval["year"]
    saving = round(100 * (12 * monthly.unit_amount - annual.unit_amount) / (12 * monthly.unit_amount))
    return {
        "monthly": monthly,
        "annual": annual,
        "currency": monthly.currency,
        "annual_saving": saving,
        "seat_min": offer.seats.minimum,
        "seat_max": offer.seats.maximum,
        "feature_names": FEATURE_NAMES,
    }


@router.get("/pricing", response_class=HTMLResponse)
def pricing(request: Request, core: CoreDep) -> Response:
    catalog = core.catalog
    settings: Settings = request.app.state.settings
    professional = catalog.tier_features["professional"]
    context = {
        **_prices(catalog),
        "professional_features": professional,
        "enterprise_features": [f for f in catalog.tier_features["enterprise"] if f not in professional],
        "sales_email": settings.sales_email,
    }
    return templates.TemplateResponse(request, "shop/pricing.html", context)


def _checkout_page(
    request: Request, core: Core, form: dict[str, Any], error: str | None = None, status_code: int = 200
) -> Response:
    settings: Settings = request.app.state.settings
    # The form is answered with a redirect to Stripe's hosted page: the page's CSP must allow it.
    allow_form_action(request, origin_of(settings.checkout_origin))
    prices = _prices(core.catalog)
    seats = form.get("seats")
    unit = prices["annual" if form.get("interval") != "month" else "monthly"]
    total = (
        money(unit.unit_amount * seats, unit.currency) + (" per year" if unit.interval == "year" else " per month")
        if isinstance(seats, int) and prices["seat_min"] <= seats <= prices["seat_max"]
        else ""
    )
    context = {**prices, "form": form, "error": error, "total": total}
    return templates.TemplateResponse(request, "shop/checkout.html", context, status_code=status_code)


@router.get("/checkout", response_class=HTMLResponse)
def checkout_form(
    request: Request,
    core: CoreDep,
    interval: Annotated[str, Query(max_length=10)] = "year",
    seats: Annotated[int, Query(ge=1, le=100_000)] = 10,
) -> Response:
    form = {"interval": "month" if interval == "month" else "year", "seats": seats, "email": "", "company": ""}
    return _checkout_page(request, core, form)


@router.post("/checkout", response_class=HTMLResponse)
def checkout_submit(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    client: RateLimitedClient,
    interval: Annotated[str, Form()] = "",
    seats: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    company: Annotated[str, Form()] = "",
) -> Response:
    form = {"interval": interval, "seats": form_int(seats), "email": email, "company": company}
    try:
        started = create_checkout(
            session,
            core,
            interval=interval,
            seats=form_int(seats) or 0,
            email=email,
            company=company,
            actor=f"public:{client}",  # as POST /v1/checkout/sessions: the audit log names the client
        )
    except DomainError as exc:
        return _checkout_page(request, core, form, exc.message, status_code=exc.status)
    return RedirectResponse(started.url, status_code=303)


@router.get("/checkout/success", response_class=HTMLResponse)
def checkout_success(
    request: Request, session: SessionDep, core: CoreDep, session_id: Annotated[str, Query(max_length=255)] = ""
) -> Response:
    """Fulfils the checkout if the webhook has not yet: the buyer never waits on a webhook (SPEC 6)."""
    context: dict[str, Any] = {"license": None, "pending": False, "error": None}
    try:
        outcome = fulfil_checkout(session, core, session_id) if session_id else None
    except DomainError as exc:
        context["error"] = exc.message
        return templates.TemplateResponse(request, "shop/success.html", context, status_code=exc.status)
    if outcome is not None and outcome.status == "issued" and outcome.license is not None:
        context.update(license=outcome.license, license_file=outcome.license.license_file)
    elif outcome is not None and outcome.status == "pending":
        context["pending"] = True
    elif outcome is not None and outcome.status == "unlicensable":
        context["error"] = (
            "This subscription is not for our Professional price at a number of users we license, so nothing was "
            "issued. Our sales team has been told; write to them if this is a mistake."
        )
        return templates.TemplateResponse(request, "shop/success.html", context, status_code=409)
    elif outcome is not None and outcome.status == "failed":
        context["error"] = "This checkout was not paid (it expired, or the payment failed). Nothing was issued."
        return templates.TemplateResponse(request, "shop/success.html", context, status_code=409)
    else:
        context["error"] = "This link names no checkout of ours. If you paid, your license is in your e-mail."
        return templates.TemplateResponse(request, "shop/success.html", context, status_code=404)
    return templates.TemplateResponse(request, "shop/success.html", context)


@router.get("/checkout/cancel", response_class=HTMLResponse)
def checkout_cancel(request: Request) -> Response:
    return templates.TemplateResponse(request, "shop/cancel.html", {})
