"""The self-serve shop: /pricing, /checkout (to Stripe's hosted page), /checkout/success (fulfils the
checkout itself if the webhook has not come yet) and /checkout/cancel. The rules live in ``billing``;
these routes translate a form to its calls and its answers to pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import CoreDep, RateLimitedClient, RuntimeDep, SessionDep
from api.security import allow_form_action, check_form_post, origin_of
from api.web.site import NO_STORE, buyer_message, form_int, money, templates
from billing.checkout import create_checkout, fulfil_checkout
from billing.client import is_configured
from licensing.catalog import Catalog, Price
from licensing.context import Core
from licensing.kit.errors import DomainError
from licensing.kit.settings import Settings
from licensing.licenses.buylinks import trial_of

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_form_post)])
# How long after the checkout completed the success page shows the license (it is e-mailed, and in the portal).
SHOW_LICENSE_FOR = timedelta(hours=1)

TRIAL_LINK_GONE = (
    "This buy link does not work any more: the trial has ended, or was replaced or revoked. You can still buy "
    "below; the purchase then starts a license of its own."
)
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


def _terms(settings: Settings, currency: str) -> str:
    """What the prices are in, and whether tax is added (SPEC 6: prices name their currency)."""
    tax = "plus applicable tax, worked out at checkout" if settings.stripe_automatic_tax else "no tax is added"
    return f"Prices in {currency.upper()}; {tax}."


@router.get("/pricing", response_class=HTMLResponse)
def pricing(request: Request, core: CoreDep) -> Response:
    catalog = core.catalog
    settings: Settings = request.app.state.settings
    professional = catalog.tier_features["professional"]
    context = {
        **_prices(catalog),
        "professional_features": professional,
        "enterprise_features": [f for f in catalog.tier_features["enterprise"] if f not in professional],
        "price_terms": _terms(settings, catalog.offer("professional").prices[0].currency),
        "selling": is_configured(core),  # without Stripe, Buy is Contact sales (SPEC 6)
        "automatic_tax": settings.stripe_automatic_tax,
        "trial_days": catalog.offer("professional_trial").term_days,
        "trial_seat_max": catalog.offer("professional_trial").seats.maximum,
        "grace_days": catalog.offer("professional").grace_days,
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
    terms = _terms(settings, prices["currency"])
    context = {
        **prices,
        "form": form,
        "error": error,
        "total": total,
        "price_terms": terms,
        "selling": is_configured(core),  # without Stripe: no form to fill in for nothing, but Contact sales
    }
    return templates.TemplateResponse(request, "shop/checkout.html", context, status_code=status_code)


@router.get("/checkout", response_class=HTMLResponse)
def checkout_form(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    interval: Annotated[str, Query(max_length=10)] = "year",
    seats: Annotated[int, Query(ge=1, le=100_000)] = 10,
    trial: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """The checkout form; from a trial's buy link (``?trial=``), filled in from the trial, and the purchase
    replaces it (licensing.licenses.buylinks). Opening the link only reads: mail scanners may fetch it."""
    form: dict[str, Any] = {
        "interval": "month" if interval == "month" else "year",
        "seats": seats,
        "email": "",
        "company": "",
        "trial_token": "",
    }
    if not trial:
        return _checkout_page(request, core, form)
    replaced = trial_of(session, core, trial)
    if replaced is None:
        return _checkout_page(request, core, form, TRIAL_LINK_GONE, status_code=410)
    customer = replaced.customer
    form.update(
        seats=replaced.seats or seats,
        email=customer.email,
        company=customer.company or "",
        trial_token=trial,
        replaces=replaced,
    )
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
    trial_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    form: dict[str, Any] = {"interval": interval, "seats": form_int(seats), "email": email, "company": company}
    replaced = trial_of(session, core, trial_token) if trial_token else None
    form.update(trial_token=trial_token if replaced else "", replaces=replaced)
    try:
        started = create_checkout(
            session,
            core,
            interval=interval,
            seats=form_int(seats) or 0,
            email=email,
            company=company,
            trial_token=trial_token or None,
            actor=f"public:{client}",  # as POST /v1/checkout/sessions: the audit log names the client
        )
    except DomainError as exc:
        return _checkout_page(request, core, form, buyer_message(exc), status_code=exc.status)
    return RedirectResponse(started.url, status_code=303)


@router.get("/checkout/success", response_class=HTMLResponse)
def checkout_success(
    request: Request,
    runtime: RuntimeDep,
    client: RateLimitedClient,
    session_id: Annotated[str, Query(max_length=255)] = "",
) -> Response:
    """Fulfils the checkout if the webhook has not yet: the buyer never waits on a webhook (SPEC 6).
    Only a session of one of our checkouts is read from Stripe, and only until its license is issued;
    no transaction is open while Stripe answers (``fulfil_checkout``). The license is shown for
    ``SHOW_LICENSE_FOR`` after the checkout completed; later the page sends the buyer to the portal."""
    context: dict[str, Any] = {"license": None, "pending": False, "elsewhere": False, "error": None}
    try:
        outcome = fulfil_checkout(runtime, session_id, reuse_issued=True) if session_id else None
    except DomainError as exc:
        context["error"] = buyer_message(exc)
        return _success_page(request, context, exc.status)
    if outcome is not None and outcome.status == "issued" and outcome.license is not None:
        shown_until = outcome.completed_at + SHOW_LICENSE_FOR if outcome.completed_at is not None else None
        if shown_until is not None and runtime.core.now() < shown_until:
            context.update(license=outcome.license, license_file=outcome.license.license_file)
        else:  # a link kept in a history or a log shows the license no more: it is mailed and in the portal
            context["elsewhere"] = True
    elif outcome is not None and outcome.status == "pending":
        context["pending"] = True
    elif outcome is not None and outcome.status == "unlicensable":
        context["error"] = (
            "This subscription is not for our Professional price at a number of users we license, so nothing was "
            "issued. Our sales team has been told; contact them if this is a mistake."
        )
        return _success_page(request, context, 409)
    elif outcome is not None and outcome.status == "failed":
        context["error"] = "This checkout was not paid (it expired, or the payment failed). Nothing was issued."
        return _success_page(request, context, 409)
    else:
        context["error"] = "This link names no checkout of ours. If you paid, your license is in your e-mail."
        return _success_page(request, context, 404)
    return _success_page(request, context, 200)


def _success_page(request: Request, context: dict[str, Any], status_code: int) -> Response:
    # The buyer's own page (it may show their license): never kept by a cache or the browser's history.
    return templates.TemplateResponse(request, "shop/success.html", context, status_code=status_code, headers=NO_STORE)


@router.get("/checkout/cancel", response_class=HTMLResponse)
def checkout_cancel(request: Request) -> Response:
    return templates.TemplateResponse(request, "shop/cancel.html", {})
