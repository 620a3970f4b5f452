"""The customer portal pages (SPEC 5, ``/portal``): sign-in by a link mailed to the customer, then her
licenses (downloads), her subscriptions (Stripe's billing portal), the JWKS and revocation list for
air-gapped installs, and (``/portal/installations``, SPEC 8) activation requests and usage reports to upload
and a license to compare with the newest of its line. The rules live in ``licensing.selfserve.portal`` and
``licensing.installs``; these routes translate them to pages.

The session cookie is HttpOnly, SameSite=Lax, ``Path=/portal`` (sent to the portal's pages alone) and,
when the public URL is https or in production, ``Secure`` with the ``__Secure-`` prefix (a browser
accepts such a cookie only from a secure origin). Not ``__Host-``: that prefix requires ``Path=/``, which
would send the session to every page and API call of the service. It lasts as long as the session row
(``licensing.selfserve.portal.SESSION_TTL``), which alone decides: a signed-out or expired token is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import public
from api.deps import CoreDep, RateLimitedClient, SessionDep
from api.security import allow_form_action, check_form_post, origin_of
from api.web.cookies import SessionCookie, settings_of
from api.web.site import buyer_message, templates
from billing.client import BillingDisabled, is_configured
from billing.portal import InvoiceSummary, billing_portal_url, invoices_of
from licensing.access.signin_links import LinkRefused, LinkState
from licensing.context import Core
from licensing.installs import comparing
from licensing.installs import files as installs_files
from licensing.installs.activation import activate
from licensing.installs.usage import accept_usage_report
from licensing.kit.errors import DomainError, NotFound
from licensing.licenses.buylinks import buy_link
from licensing.licenses.status import status_of
from licensing.models import PortalSession, TrueUp, UsageReport
from licensing.selfserve import portal

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_form_post)])
SESSION_COOKIE = SessionCookie("licensing_portal", "/portal", portal.SESSION_TTL, "lax")
LICENSE_CONTENT_TYPE = "application/x-license-file"
PRIVATE = {"Cache-Control": "no-store"}

LICENSE_STATUS = {
    "active": "Active",
    "grace": "In grace period",
    "expired": "Expired",
    "revoked": "Revoked",
    "superseded": "Replaced",
    "scheduled": "Starts later",
}
SUBSCRIPTION_STATUS = {
    "active": "Active",
    "trialing": "Trial",
    "past_due": "Payment overdue",
    "unpaid": "Unpaid",
    "canceled": "Cancelled",
    "incomplete": "Awaiting payment",
    "incomplete_expired": "Payment not completed",
    "paused": "Paused",
}
INTERVALS = {"month": "monthly", "year": "annual"}
INVOICE_STATUS = {"open": "Due", "paid": "Paid", "void": "Void", "uncollectible": "Uncollectible", "draft": "Draft"}
CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


def _days_left(end: datetime, now: datetime) -> int:
    """Whole days left, counting a part of a day as one (a trial just started has 30 days left)."""
    return max(0, -((now - end) // timedelta(days=1)))


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """A portal page: never cached (it names the visitor's address, or holds a sign-in token)."""
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=PRIVATE)


# --- the session cookie ------------------------------------------------------------------------------
def signed_in(request: Request, session: SessionDep, core: CoreDep) -> PortalSession | None:
    """The visitor's live portal session, if any."""
    return portal.current_session(session, core, SESSION_COOKIE.read(request))


MaybeSignedIn = Annotated[PortalSession | None, Depends(signed_in)]


# --- pages -------------------------------------------------------------------------------------------
def _request_page(
    request: Request,
    *,
    email: str = "",
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
    clear_cookie: bool = False,
) -> Response:
    context = {"email": email, "error": error, "notice": notice}
    response = _page(request, "portal/request.html", context, status_code=status_code)
    if clear_cookie:
        SESSION_COOKIE.clear(request, response)
    return response


def invoice_amount(minor_units: int, currency: str) -> str:
    """An invoice's amount naming its currency: ``$1,234.50 USD``, ``99.00 CHF``."""
    amount = f"{minor_units / 100:,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency.lower(), "")
    return f"{'-' if minor_units < 0 else ''}{symbol}{amount.lstrip('-')} {currency.upper()}"


def _invoices(core: Core, subscriptions: list[Any]) -> tuple[dict[str, list[InvoiceSummary]], str | None]:
    """Each subscription's newest invoices, read from Stripe now (by our subscription id), or a plain note
    saying why there are none to show: the page never fails for them."""
    if not subscriptions:
        return {}, None
    try:
        found = invoices_of(core, [sub.stripe_subscription_id for sub in subscriptions])
    except BillingDisabled:
        return {}, "Invoices cannot be shown here: billing is not set up on this service."
    except DomainError:
        return (
            {},
            "Your invoices could not be read from Stripe just now. Reload the page in a moment, or see them in "
            "the billing portal (Manage billing).",
        )
    return {
        sub.id: found[sub.stripe_subscription_id] for sub in subscriptions if sub.stripe_subscription_id in found
    }, None


def _dashboard(
    request: Request, session: Session, core: Core, me: PortalSession, error: str | None = None, status_code: int = 200
) -> Response:
    # "Manage billing" is answered with a redirect to Stripe's billing portal: the page's CSP must allow it.
    allow_form_action(request, origin_of(settings_of(request).billing_portal_origin))
    subscriptions = portal.subscriptions_of(session, me.email)
    invoices, invoices_note = _invoices(core, subscriptions)
    context: dict[str, Any] = {
        "me": me,
        "lines": portal.licenses_of(session, core, me.email),
        "subscriptions": subscriptions,
        "invoices": invoices,
        "invoices_note": invoices_note,
        "invoice_status": INVOICE_STATUS,
        "invoice_amount": invoice_amount,
        "license_status": LICENSE_STATUS,
        "subscription_status": SUBSCRIPTION_STATUS,
        "intervals": INTERVALS,
        "days_left": lambda end: _days_left(end, core.now()),
        "selling": is_configured(core),  # without Stripe, no Buy button (sales sell)
        "error": error,
    }
    return _page(request, "portal/dashboard.html", context, status_code=status_code)


@router.get("/portal", response_class=HTMLResponse)
def portal_home(request: Request, session: SessionDep, core: CoreDep, me: MaybeSignedIn) -> Response:
    if me is not None:
        return _dashboard(request, session, core, me)
    if "signed-out" in request.query_params:
        return _request_page(request, notice="You have signed out.")
    if SESSION_COOKIE.read(request) is not None:
        return _request_page(
            request, notice="Your session has ended. Sign in again to see your licenses.", clear_cookie=True
        )
    return _request_page(request)


@router.post("/portal", response_class=HTMLResponse)
def portal_request_link(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    client: RateLimitedClient,
    email: Annotated[str, Form()] = "",
) -> Response:
    """The same answer whether or not anything is registered under the address (licensing.selfserve.portal)."""
    try:
        requested = portal.request_sign_in(session, core, email)
    except DomainError as exc:
        return _request_page(request, email=email, error=exc.message, status_code=exc.status)
    context = {"email": requested.email, "minutes": int(portal.LINK_TTL.total_seconds() // 60)}
    return _page(request, "portal/check_mail.html", context)


def _refused_link(request: Request, state: LinkState) -> Response:
    status_code = 404 if state == "unknown" else 410
    context = {"state": state, "minutes": int(portal.LINK_TTL.total_seconds() // 60)}
    return _page(request, "portal/link_refused.html", context, status_code=status_code)


@router.get("/portal/sign-in/{token}", response_class=HTMLResponse)
def portal_sign_in_page(
    request: Request, token: str, session: SessionDep, core: CoreDep, client: RateLimitedClient
) -> Response:
    """Shows a "Sign in" button and uses nothing: only its POST consumes the link.

    Mail scanners (Outlook's Safe Links, corporate gateways, antivirus) fetch every link in an incoming
    e-mail before the recipient sees it; a GET that signed in would use the link up (the customer then
    finds it "already used") and start a session nobody holds. A scanner does not submit forms, so the
    link survives until the customer presses the button; the form is CSRF-protected like every post.
    The token travels in the form's body, not in the POST's address, so no log of a refused post
    names it.
    """
    state = portal.link_state(session, core, token)
    if state != "valid":
        return _refused_link(request, state)
    return _page(request, "portal/sign_in.html", {"token": token})


@router.get("/portal/sign-in", response_class=HTMLResponse)
def portal_sign_in_without_link() -> Response:
    return RedirectResponse("/portal", status_code=303)


@router.post("/portal/sign-in", response_class=HTMLResponse)
def portal_sign_in(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    client: RateLimitedClient,
    token: Annotated[str, Form()] = "",
) -> Response:
    try:
        started = portal.redeem(session, core, token)
    except LinkRefused as exc:
        return _refused_link(request, exc.state)
    response = RedirectResponse("/portal", status_code=303)
    SESSION_COOKIE.set(request, response, started.token)
    return response


@router.post("/portal/sign-out", response_class=HTMLResponse)
def portal_sign_out(request: Request, session: SessionDep, core: CoreDep) -> Response:
    portal.sign_out(session, core, SESSION_COOKIE.read(request))
    response = RedirectResponse("/portal?signed-out", status_code=303)
    SESSION_COOKIE.clear(request, response)
    return response


@router.get("/portal/licenses/{license_id}/file")
def portal_license_file(license_id: str, session: SessionDep, me: MaybeSignedIn) -> Response:
    """One of her licenses as ``<id>.lic``; 404 for any other license."""
    if me is None:
        return RedirectResponse("/portal", status_code=303)
    lic = portal.license_of(session, me.email, license_id)  # NotFound: a 404 page (api.web.site._problem_page)
    return Response(
        lic.license_file,
        media_type=LICENSE_CONTENT_TYPE,
        headers={**PRIVATE, "Content-Disposition": f'attachment; filename="{lic.id}.lic"'},
    )


@router.post("/portal/licenses/{license_id}/buy", response_class=HTMLResponse)
def portal_buy_trial(license_id: str, session: SessionDep, core: CoreDep, me: MaybeSignedIn) -> Response:
    """To checkout from one of her running trials, through a new buy link of it: signed in as the trial's
    holder is the proof that the purchase may replace it (licensing.licenses.buylinks). 404 for a license
    that is not hers, 409 for one that is not a running trial."""
    if me is None:
        return RedirectResponse("/portal", status_code=303)
    lic = portal.license_of(session, me.email, license_id)
    url = buy_link(session, core, lic, actor=portal.actor(me.email))  # Conflict: a problem page
    return RedirectResponse(url, status_code=303)


@router.post("/portal/subscriptions/{subscription_id}/billing", response_class=HTMLResponse)
def portal_manage_billing(
    request: Request, subscription_id: str, session: SessionDep, core: CoreDep, me: MaybeSignedIn
) -> Response:
    """To Stripe's billing portal for this subscription's Stripe customer, coming back to /portal."""
    if me is None:
        return RedirectResponse("/portal", status_code=303)
    try:
        sub = portal.subscription_of(session, me.email, subscription_id)
        url = billing_portal_url(core, sub.stripe_customer_id, f"{settings_of(request).public_url.rstrip('/')}/portal")
    except DomainError as exc:
        message = f"Billing could not be opened: {buyer_message(exc)}"
        return _dashboard(request, session, core, me, error=message, status_code=exc.status)
    return RedirectResponse(url, status_code=303)


# --- for air-gapped installs (public, as on /.well-known/jwks.json and /v1/revocations) --------------
@router.get("/portal/downloads/jwks.json")
def portal_jwks(request: Request, core: CoreDep) -> Response:
    return _attachment(public.jwks(request, core), "jwks.json")


@router.get("/portal/downloads/revocations.lic")
def portal_revocations(request: Request, session: SessionDep, core: CoreDep) -> Response:
    return _attachment(public.revocations(request, session, core), "revocations.lic")


def _attachment(response: Response, filename: str) -> Response:
    """A public document (the same answer as its public address) offered as a file to save."""
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- air-gapped installations: activation requests, usage reports, comparing licenses (SPEC section 8) --
UPLOAD_LIMIT = 1_000_000  # characters, as the readers take
RECEIPT_CONTENT_TYPE = "application/x-license-usage-receipt"
_KINDS = {
    "activate": "activation request",
    "report": "usage report",
    "compare": "license file",
}


class UploadRefused(DomainError):
    status = 422
    code = "invalid_upload"
    title = "Invalid upload"


def _uploaded(kind: str, pasted: str, upload: UploadFile | None) -> str:
    """The file chosen, else the text pasted: the armored text either way."""
    what = _KINDS[kind]
    if upload is not None and upload.filename:
        raw = upload.file.read(4 * UPLOAD_LIMIT + 1)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UploadRefused(f"The file you chose is not a {what}: it is not text.") from None
    else:
        text = pasted
    if not text.strip():
        raise UploadRefused(f"Choose the {what} file, or paste its text.")
    if len(text) > UPLOAD_LIMIT:
        raise UploadRefused(f"That is too long to be a {what}.")
    return text


def _installations(
    request: Request,
    session: Session,
    me: PortalSession,
    *,
    kind: str | None = None,
    error: str | None = None,
    status_code: int = 200,
    pasted: str = "",
) -> Response:
    context: dict[str, Any] = {"me": me, "kind": kind, "error": error, "pasted": pasted}
    return _page(request, "portal/installations.html", context, status_code=status_code)


def _refusal(exc: DomainError) -> str:
    if exc.code == "license_not_found":
        return "That file names a license that is not one of yours (or does not exist)."
    return exc.message


@router.get("/portal/installations", response_class=HTMLResponse)
def portal_installations(request: Request, session: SessionDep, me: MaybeSignedIn) -> Response:
    if me is None:
        return RedirectResponse("/portal", status_code=303)
    return _installations(request, session, me)


@router.post("/portal/activate", response_class=HTMLResponse)
def portal_activate(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    me: MaybeSignedIn,
    request_text: Annotated[str, Form()] = "",
    request_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """An activation request for one of her licenses -> the license bound to that installation."""
    if me is None:
        return RedirectResponse("/portal", status_code=303)
    try:
        text = _uploaded("activate", request_text, request_file)
        named = portal.license_of(session, me.email, installs_files.read_request(text).license_id)
        lic = activate(session, core, text, actor=portal.actor(me.email), customer_id=named.customer_id)
    except DomainError as exc:
        return _installations(
            request, session, me, kind="activate", error=_refusal(exc), status_code=exc.status, pasted=request_text
        )
    context = {"me": me, "license": lic, "named": named}
    return _page(request, "portal/activated.html", context, status_code=201)


@router.post("/portal/usage-reports", response_class=HTMLResponse)
def portal_usage_report(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    me: MaybeSignedIn,
    report_text: Annotated[str, Form()] = "",
    report_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """A usage report of one of her bound licenses -> its receipt (to download) and the overage explained."""
    if me is None:
        return RedirectResponse("/portal", status_code=303)
    try:
        text = _uploaded("report", report_text, report_file)
        _kid, license_id = installs_files.report_routing(text)
        named = portal.license_of(session, me.email, license_id)
        accepted = accept_usage_report(session, core, text, actor=portal.actor(me.email), customer_id=named.customer_id)
    except DomainError as exc:
        return _installations(
            request, session, me, kind="report", error=_refusal(exc), status_code=exc.status, pasted=report_text
        )
    report = session.get(UsageReport, accepted.report_id)
    true_up = session.scalars(select(TrueUp).where(TrueUp.report_id == accepted.report_id)).first()
    context = {"me": me, "accepted": accepted, "report": report, "true_up": true_up}
    return _page(request, "portal/receipt.html", context, status_code=201)


@router.get("/portal/usage-reports/{report_id}/receipt")
def portal_receipt_file(report_id: str, session: SessionDep, me: MaybeSignedIn) -> Response:
    """The receipt of one of her usage reports as ``receipt-<seq>.lic``; 404 for any other."""
    if me is None:
        return RedirectResponse("/portal", status_code=303)
    report = session.get(UsageReport, report_id)
    if report is None:
        raise NotFound("No such usage report.", code="not_found")
    portal.license_of(session, me.email, report.license_id)  # NotFound unless hers
    return Response(
        report.receipt,
        media_type=RECEIPT_CONTENT_TYPE,
        headers={**PRIVATE, "Content-Disposition": f'attachment; filename="receipt-{report.seq}.lic"'},
    )


@router.post("/portal/compare", response_class=HTMLResponse)
def portal_compare(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    me: MaybeSignedIn,
    license_text: Annotated[str, Form()] = "",
    license_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The license installed now (one of hers) against the newest of its line: what installing it changes."""
    if me is None:
        return RedirectResponse("/portal", status_code=303)
    try:
        text = _uploaded("compare", license_text, license_file)
        named = portal.license_of(session, me.email, comparing.license_id_of(core, text))
        compared = comparing.compare_with_newest(session, core, text, customer_id=named.customer_id)
    except DomainError as exc:
        return _installations(
            request, session, me, kind="compare", error=_refusal(exc), status_code=exc.status, pasted=license_text
        )
    newest = compared.newest
    context = {
        "me": me,
        "compared": compared,
        "lines": compared.comparison.lines,
        "warnings": len(compared.comparison.warnings),
        "newest_status": LICENSE_STATUS[status_of(newest, core.now())],
    }
    return _page(request, "portal/compare.html", context)
