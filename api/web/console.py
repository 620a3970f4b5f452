"""The sales console (SPEC 5, Console; ``/console``): the sales operations of the API for people, in the
site's layout, usable without JavaScript. Every page calls the same service functions as the API (the
shared ones of :mod:`api.sales` and :mod:`api.leads` where the API's handler holds logic), inside the
request's transaction; the rules live in the core.

* **Who.** Staff members (``licensing staff add``) sign in by an e-mailed single-use link
  (:mod:`licensing.staff.signin`). The session cookie is HttpOnly, SameSite=Strict, ``Path=/console``,
  and ``Secure`` (with the ``__Secure-`` prefix) when the public URL is https. A page without a live
  session redirects to the sign-in page; a post without one is refused with a 403 page.
* **Roles.** As the API's (admin > sales > readonly): readonly reads; every change (and every form
  that makes one) answers a 403 page to it.
* **Cross-site posts.** Every post must carry an ``Origin`` (or, without one, a ``Referer``) of the
  service's public URL (``LICENSING_PUBLIC_URL``); a signed-in post also carries the session's own form
  token (:func:`licensing.staff.signin.csrf_token`), the sign-in forms the site's CSRF token.
* **Audit.** Every change is recorded with the actor ``staff:<address>``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.deps import CoreDep, RateLimitedClient, SessionDep
from api.idempotent import records_secret
from api.leads import organisation_out
from api.sales import customer_created, customer_updated, issue_request, preview_of, renewed
from api.schemas import (
    CustomerCreate,
    CustomerUpdate,
    LicenseCreate,
    LicensePreview,
    LicenseRenew,
    LicenseRevoke,
    LicenseSend,
    OrganisationPatch,
)
from api.security import SAFE_METHODS, check_form_post, origin_of
from api.web.cookies import SessionCookie, settings_of
from api.web.site import templates
from licensing.access import idempotency
from licensing.access.apikeys import role_includes
from licensing.access.signin_links import LinkRefused, LinkState
from licensing.context import Core
from licensing.installs.trueups import STATUSES as TRUE_UP_STATUSES
from licensing.installs.trueups import list_true_ups
from licensing.kit.errors import DomainError, NotFound
from licensing.leads.organisations import organisation_detail, organisations_with_leads, set_owner
from licensing.licenses import queries
from licensing.licenses.customers import get_customer
from licensing.licenses.issuance import get_license, issue_license, license_claims
from licensing.licenses.preview import Preview
from licensing.licenses.revocations import revoke_license
from licensing.licenses.status import Status, status_of
from licensing.mail.sending import send_license
from licensing.models import Customer, License, StaffSession, Subscription, UsageReport
from licensing.staff import signin
from licensing.staff.members import actor

router = APIRouter(prefix="/console", include_in_schema=False)
STATUSES: tuple[Status, ...] = ("active", "grace", "scheduled", "expired", "superseded", "revoked")
SESSION_COOKIE = SessionCookie("licensing_console", "/console", signin.SESSION_MAX, "strict")
CSRF_FIELD = "console_csrf"
PRIVATE = {"Cache-Control": "no-store"}
PAGE_SIZE = 50
TIERS = ("professional", "enterprise", "free")
SUBSCRIPTION_STATUSES = (
    "active",
    "trialing",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "paused",
)
NOTICES = {
    "issued": "The license is signed and issued.",
    "renewed": "The renewal is signed and issued; it replaces the license before it.",
    "revoked": "The line is revoked; the revocation list is signed again.",
    "sent": "The license file is queued to be e-mailed.",
    "created": "The customer is created.",
    "saved": "The changes are saved.",
    "owner": "The owner is changed.",
}
_LIST_SPLIT = re.compile(r"[\s,]+")


# --- refusals ----------------------------------------------------------------------------------------
class ConsoleRefused(Exception):
    """A console request refused with a 403 page: no session, a bad form token, or a role too low."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class SignInNeeded(Exception):
    """A console page asked for without a live session: to the sign-in page."""

    def __init__(self, ended: bool) -> None:
        super().__init__("sign in")
        self.ended = ended


def _refused_page(request: Request, exc: ConsoleRefused) -> Response:
    context = {"reason": exc.reason, "message": exc.message, "me": None}
    return templates.TemplateResponse(request, "console/forbidden.html", context, status_code=403, headers=PRIVATE)


def _to_sign_in(request: Request, exc: SignInNeeded) -> Response:
    response = RedirectResponse("/console/sign-in" + ("?ended" if exc.ended else ""), status_code=303)
    if exc.ended:
        SESSION_COOKIE.clear(request, response)
    return response


def install(app: Any) -> None:
    app.add_exception_handler(ConsoleRefused, _refused_page)
    app.add_exception_handler(SignInNeeded, _to_sign_in)


# --- cookie and origin -------------------------------------------------------------------------------
_CROSS_ORIGIN = "The form was sent from another website. The console accepts forms only from its own pages."


async def check_origin(request: Request) -> None:
    """Every console post comes from a page of the service's public origin: its ``Origin``, or without
    one its ``Referer``, must be that origin; a post with neither is refused too."""
    if request.method in SAFE_METHODS:
        return
    own = origin_of(settings_of(request).public_url)
    origin = request.headers.get("origin")
    referer = request.headers.get("referer")
    sent = origin.strip().lower() if origin is not None else origin_of(referer) if referer else None
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site" or sent != own:
        raise ConsoleRefused("cross_origin", _CROSS_ORIGIN)


router.dependencies.append(Depends(check_origin))


# --- who is signed in --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Staff:
    """The signed-in member as the pages see it."""

    email: str
    role: str
    csrf: str  # the session's form token

    @property
    def actor(self) -> str:
        return actor(self.email)

    @property
    def may_change(self) -> bool:
        return role_includes(self.role, "sales")


def _staff(row: StaffSession, token: str) -> Staff:
    return Staff(row.staff.email, row.staff.role, signin.csrf_token(token))


def viewer(request: Request, session: SessionDep, core: CoreDep) -> Staff:
    """A page's reader: any live session, else to the sign-in page."""
    token = SESSION_COOKIE.read(request)
    row = signin.current_session(session, core, token)
    if row is None or token is None:
        raise SignInNeeded(ended=token is not None)
    return _staff(row, token)


_READONLY = "Your role (readonly) may look but not change anything. Ask an admin for the sales role."


def editor_page(me: Annotated[Staff, Depends(viewer)]) -> Staff:
    """A form that makes a change: sales or admin; readonly gets the 403 page."""
    if not me.may_change:
        raise ConsoleRefused("readonly", _READONLY)
    return me


async def _form(request: Request) -> FormData:
    return await request.form()


def _poster(request: Request, session: Session, core: Core, form: FormData) -> Staff:
    token = SESSION_COOKIE.read(request)
    row = signin.current_session(session, core, token)
    if row is None or token is None:
        raise ConsoleRefused("signed_out", "You are not signed in (or your session has ended). Sign in again.")
    presented = form.get(CSRF_FIELD)
    if not isinstance(presented, str) or not signin.csrf_matches(token, presented):
        raise ConsoleRefused("bad_token", "The form's security token is missing or out of date. Open the form again.")
    return _staff(row, token)


def member(request: Request, session: SessionDep, core: CoreDep, form: Annotated[FormData, Depends(_form)]) -> Staff:
    """A post of any signed-in member (signing out)."""
    return _poster(request, session, core, form)


def changer(request: Request, session: SessionDep, core: CoreDep, form: Annotated[FormData, Depends(_form)]) -> Staff:
    """A post that changes something: a live session, its form token, and the sales role (or admin)."""
    me = _poster(request, session, core, form)
    if not me.may_change:
        raise ConsoleRefused("readonly", _READONLY)
    return me


Viewer = Annotated[Staff, Depends(viewer)]
EditorPage = Annotated[Staff, Depends(editor_page)]
Member = Annotated[Staff, Depends(member)]
Changer = Annotated[Staff, Depends(changer)]
Posted = Annotated[FormData, Depends(_form)]


# --- rendering ---------------------------------------------------------------------------------------
def _page(request: Request, name: str, me: Staff | None, context: dict[str, Any], status_code: int = 200) -> Response:
    """A console page: never cached (it holds the session's form token and customers' data)."""
    notice = NOTICES.get(request.query_params.get("done", ""))
    full = {"me": me, "csrf_field_name": CSRF_FIELD, "notice": notice, **context}
    return templates.TemplateResponse(request, name, full, status_code=status_code, headers=PRIVATE)


def _see(path: str, done: str | None = None) -> Response:
    return RedirectResponse(path + (f"?done={done}" if done else ""), status_code=303)


Errors = dict[str, str]


def _validated(model: type[BaseModel], body: dict[str, Any]) -> Any:
    """``body`` as ``model`` (the API's wire shape): the same checks as the API's."""
    return model.model_validate(body)


_MESSAGES = {
    "int_parsing": "Give a whole number.",
    "int_type": "Give a whole number.",
    "datetime_from_date_parsing": "Give a date.",
    "datetime_parsing": "Give a date.",
}


def _pydantic_errors(exc: ValidationError) -> Errors:
    """The wire shape's refusals, by field, in words for the form."""
    errors: Errors = {}
    for error in exc.errors():
        name = ".".join(str(p) for p in error.get("loc", ()) if not isinstance(p, int)) or "form"
        message = _MESSAGES.get(str(error.get("type")), str(error.get("msg", "invalid")).removeprefix("Value error, "))
        errors.setdefault(name, message)
    return errors


def _domain_errors(exc: DomainError) -> Errors:
    return {str(exc.extra.get("field") or "form"): exc.message}


def _attempt(work: Callable[[], Any]) -> tuple[Any, Errors, int]:
    """Run ``work`` (validation, then a service call) and collect what the form should say."""
    try:
        return work(), {}, 200
    except ValidationError as exc:
        return None, _pydantic_errors(exc), 422
    except DomainError as exc:
        return None, _domain_errors(exc), exc.status


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _number(text: str) -> int | str:
    """A number field: an int, or the text itself (refused by validation with a clear message)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else text


def _day(text: str) -> str:
    """A date field (``YYYY-MM-DD``) as the API's time: midnight UTC; anything else goes to validation."""
    return f"{text}T00:00:00Z" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else text


def _names(text: str) -> list[str]:
    return [name for name in _LIST_SPLIT.split(text.strip()) if name]


# --- sign-in -----------------------------------------------------------------------------------------
SiteForm = Depends(check_form_post)


@router.get("", response_class=HTMLResponse)
def console_home(me: Viewer) -> Response:
    return _see("/console/leads")


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> Response:
    notice = None
    if "ended" in request.query_params:
        notice = "Your session has ended. Sign in again."
    elif "signed-out" in request.query_params:
        notice = "You have signed out."
    return _page(request, "console/sign_in.html", None, {"email": "", "error": None, "sign_in_notice": notice})


@router.post("/sign-in", response_class=HTMLResponse, dependencies=[SiteForm])
def request_link(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    client: RateLimitedClient,
    email: Annotated[str, Form()] = "",
) -> Response:
    """The same answer for a member's address and any other (licensing.staff.signin)."""
    try:
        requested = signin.request_sign_in(session, core, email)
    except DomainError as exc:
        context = {"email": email, "error": exc.message, "sign_in_notice": None}
        return _page(request, "console/sign_in.html", None, context, status_code=exc.status)
    minutes = int(signin.LINK_TTL.total_seconds() // 60)
    return _page(request, "console/check_mail.html", None, {"email": requested.email, "minutes": minutes})


def _link_refused(request: Request, state: LinkState) -> Response:
    minutes = int(signin.LINK_TTL.total_seconds() // 60)
    status_code = 404 if state == "unknown" else 410
    return _page(request, "console/link_refused.html", None, {"state": state, "minutes": minutes}, status_code)


@router.get("/sign-in/{token}", response_class=HTMLResponse)
def link_page(request: Request, token: str, session: SessionDep, core: CoreDep, client: RateLimitedClient) -> Response:
    """A button that signs in; the GET uses nothing up (mail scanners fetch links)."""
    state = signin.link_state(session, core, token)
    if state != "valid":
        return _link_refused(request, state)
    return _page(request, "console/link.html", None, {"token": token})


@router.post("/session", response_class=HTMLResponse, dependencies=[SiteForm])
def start_session(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    client: RateLimitedClient,
    token: Annotated[str, Form()] = "",
) -> Response:
    try:
        started = signin.redeem(session, core, token)
    except LinkRefused as exc:
        return _link_refused(request, exc.state)
    response = _see("/console/leads")
    SESSION_COOKIE.set(request, response, started.token)
    return response


@router.post("/sign-out", response_class=HTMLResponse)
def sign_out(request: Request, session: SessionDep, core: CoreDep, me: Member) -> Response:
    signin.sign_out(session, core, SESSION_COOKIE.read(request))
    response = RedirectResponse("/console/sign-in?signed-out", status_code=303)
    SESSION_COOKIE.clear(request, response)
    return response


# --- leads and organisations -------------------------------------------------------------------------
@router.get("/leads", response_class=HTMLResponse)
def leads_page(
    request: Request,
    session: SessionDep,
    me: Viewer,
    kind: Annotated[str, Query(max_length=10)] = "",
    owner: Annotated[str, Query(max_length=320)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    kind = kind if kind in ("pql", "mql") else ""
    rows, more = organisations_with_leads(
        session, owner=owner or None, kind=kind or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    query = {"kind": kind, "owner": owner}
    context = {
        "rows": rows,
        "kind": kind,
        "owner": owner,
        "page": page,
        "next_page": "?" + urlencode({**query, "page": page + 1}) if more else None,
        "previous_page": "?" + urlencode({**query, "page": page - 1}) if page > 1 else None,
    }
    return _page(request, "console/leads.html", me, context)


def _organisation_page(
    request: Request,
    session: Session,
    core: Core,
    me: Staff,
    organisation: str,
    *,
    owner_input: str | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    """An organisation with its history: events about it, its customers and their licenses."""
    detail = organisation_detail(session, organisation)
    out = organisation_out(session, detail, core.now())
    subjects = [detail.organisation, *(c.id for c in detail.customers), *(lic.id for lic in detail.licenses)]
    history = queries.list_audit_events(session, limit=PAGE_SIZE, cursor=None, subject_ids=subjects).items
    context = {
        "org": out,
        "history": history,
        "owner_input": out.owner or "" if owner_input is None else owner_input,
        "errors": errors or {},
    }
    return _page(request, "console/organisation.html", me, context, status_code=status_code)


@router.get("/organisations/{organisation}", response_class=HTMLResponse)
def organisation_page(request: Request, organisation: str, session: SessionDep, core: CoreDep, me: Viewer) -> Response:
    return _organisation_page(request, session, core, me, organisation[:320])


@router.post("/organisations/{organisation}/owner", response_class=HTMLResponse)
def reassign_owner(
    request: Request, organisation: str, session: SessionDep, core: CoreDep, me: Changer, form: Posted
) -> Response:
    owner = _text(form, "owner")
    _, errors, status_code = _attempt(
        lambda: set_owner(
            session, core, me.actor, organisation[:320], _validated(OrganisationPatch, {"owner": owner or None}).owner
        )
    )
    if errors:
        return _organisation_page(
            request, session, core, me, organisation[:320], errors=errors, owner_input=owner, status_code=status_code
        )
    return _see(f"/console/organisations/{organisation_detail(session, organisation[:320]).organisation}", "owner")


# --- customers ---------------------------------------------------------------------------------------
@router.get("/customers", response_class=HTMLResponse)
def customers_page(
    request: Request,
    session: SessionDep,
    me: Viewer,
    q: Annotated[str, Query(max_length=320)] = "",
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    found = queries.list_customers(session, limit=PAGE_SIZE, cursor=cursor, search=q or None)
    next_page = "?" + urlencode({"q": q, "cursor": found.next_cursor}) if found.next_cursor else None
    return _page(request, "console/customers.html", me, {"customers": found.items, "q": q, "next_page": next_page})


def _customer_form(
    request: Request, me: Staff, values: dict[str, str], errors: Errors, status_code: int = 200, **extra: Any
) -> Response:
    context = {"values": values, "errors": errors, **extra}
    return _page(request, "console/customer_new.html", me, context, status_code=status_code)


@router.get("/customers/new", response_class=HTMLResponse)
def new_customer_page(request: Request, me: EditorPage) -> Response:
    return _customer_form(request, me, {}, {})


@router.post("/customers", response_class=HTMLResponse)
def create_customer_post(request: Request, session: SessionDep, core: CoreDep, me: Changer, form: Posted) -> Response:
    values = {name: _text(form, name) for name in ("name", "email", "company")}
    body: dict[str, Any] = {**values, "company": values["company"] or None}
    body["allow_duplicate"] = _text(form, "allow_duplicate") == "yes"
    try:
        customer = customer_created(session, core, me.actor, _validated(CustomerCreate, body))
    except ValidationError as exc:
        return _customer_form(request, me, values, _pydantic_errors(exc), 422)
    except DomainError as exc:
        existing = exc.extra.get("customer_id") if exc.code == "customer_exists" else None
        return _customer_form(request, me, values, _domain_errors(exc), exc.status, existing=existing)
    return _see(f"/console/customers/{customer.id}", "created")


def _customer_page(
    request: Request,
    session: Session,
    core: Core,
    me: Staff,
    customer_id: str,
    values: dict[str, str] | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    customer = get_customer(session, customer_id)
    licenses = queries.list_licenses(session, core.now(), limit=PAGE_SIZE, cursor=None, customer_id=customer.id)
    later = queries.successors(session, licenses.items)
    now = core.now()
    context = {
        "customer": customer,
        "licenses": [(lic, status_of(lic, now, lic.id in later)) for lic in licenses.items],
        "values": values or {"name": customer.name, "email": customer.email, "company": customer.company or ""},
        "errors": errors or {},
    }
    return _page(request, "console/customer.html", me, context, status_code=status_code)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(request: Request, customer_id: str, session: SessionDep, core: CoreDep, me: Viewer) -> Response:
    return _customer_page(request, session, core, me, customer_id[:40])


@router.post("/customers/{customer_id}", response_class=HTMLResponse)
def edit_customer_post(
    request: Request, customer_id: str, session: SessionDep, core: CoreDep, me: Changer, form: Posted
) -> Response:
    values = {name: _text(form, name) for name in ("name", "email", "company")}
    body = {"name": values["name"], "email": values["email"], "company": values["company"] or None}
    _, errors, status_code = _attempt(
        lambda: customer_updated(session, core, me.actor, customer_id[:40], _validated(CustomerUpdate, body))
    )
    if errors:
        return _customer_page(request, session, core, me, customer_id[:40], values, errors, status_code)
    return _see(f"/console/customers/{customer_id[:40]}", "saved")


# --- licenses: list and one --------------------------------------------------------------------------
@router.get("/licenses", response_class=HTMLResponse)
def licenses_page(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    me: Viewer,
    status: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    chosen = next((known for known in STATUSES if known == status), None)
    now = core.now()
    found = queries.list_licenses(session, now, limit=PAGE_SIZE, cursor=cursor, status=chosen)
    later = queries.successors(session, found.items)
    next_page = "?" + urlencode({"status": status, "cursor": found.next_cursor}) if found.next_cursor else None
    context = {
        "licenses": [(lic, status_of(lic, now, lic.id in later)) for lic in found.items],
        "status": chosen or "",
        "statuses": STATUSES,
        "next_page": next_page,
    }
    return _page(request, "console/licenses.html", me, context)


def _line(session: Session, core: Core, lic: License) -> list[tuple[License, str]]:
    """The license's line, newest first, with each one's status."""
    now = core.now()
    rows = queries.line_of(session, lic.line_id)
    later = queries.successors(session, rows)
    return [(row, status_of(row, now, row.id in later)) for row in rows]


def _license_page(
    request: Request,
    session: Session,
    core: Core,
    me: Staff,
    license_id: str,
    *,
    send_to: str = "",
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    lic = get_license(session, license_id)
    line = _line(session, core, lic)
    status = next(state for row, state in line if row.id == lic.id)
    context = {
        "lic": lic,
        "status": status,
        "claims": license_claims(lic, core.issuer),
        "line": line,
        "newest": line[0][0],
        "send_to": send_to,
        "errors": errors or {},
    }
    return _page(request, "console/license.html", me, context, status_code=status_code)


@router.get("/licenses/new", response_class=HTMLResponse)
def new_license_page(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    me: EditorPage,
    customer_id: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return _issue_form(request, session, core, me, {"customer_id": customer_id, "tier": "professional"}, {})


@router.get("/licenses/{license_id}", response_class=HTMLResponse)
def license_page(request: Request, license_id: str, session: SessionDep, core: CoreDep, me: Viewer) -> Response:
    return _license_page(request, session, core, me, license_id[:40])


@router.get("/licenses/{license_id}/file")
def license_file(license_id: str, session: SessionDep, me: Viewer) -> Response:
    lic = get_license(session, license_id[:40])
    return Response(
        lic.license_file,
        media_type="application/x-license-file",
        headers={**PRIVATE, "Content-Disposition": f'attachment; filename="{lic.id}.lic"'},
    )


@router.post("/licenses/{license_id}/send", response_class=HTMLResponse)
def send_post(
    request: Request, license_id: str, session: SessionDep, core: CoreDep, me: Changer, form: Posted
) -> Response:
    to = _text(form, "to")
    _, errors, status_code = _attempt(
        lambda: send_license(session, core, me.actor, license_id[:40], _validated(LicenseSend, {"to": to or None}).to)
    )
    if errors:
        return _license_page(
            request, session, core, me, license_id[:40], send_to=to, errors=errors, status_code=status_code
        )
    return _see(f"/console/licenses/{license_id[:40]}", "sent")


@router.get("/licenses/{license_id}/revoke", response_class=HTMLResponse)
def revoke_page(request: Request, license_id: str, session: SessionDep, core: CoreDep, me: EditorPage) -> Response:
    lic = get_license(session, license_id[:40])
    context = {"lic": lic, "line": _line(session, core, lic), "reason": "", "errors": {}}
    return _page(request, "console/revoke.html", me, context)


@router.post("/licenses/{license_id}/revoke", response_class=HTMLResponse)
def revoke_post(
    request: Request, license_id: str, session: SessionDep, core: CoreDep, me: Changer, form: Posted
) -> Response:
    reason = _text(form, "reason")
    _, errors, status_code = _attempt(
        lambda: revoke_license(
            session, core, me.actor, license_id[:40], _validated(LicenseRevoke, {"reason": reason}).reason
        )
    )
    if errors:
        lic = get_license(session, license_id[:40])
        context = {"lic": lic, "line": _line(session, core, lic), "reason": reason, "errors": errors}
        return _page(request, "console/revoke.html", me, context, status_code=status_code)
    return _see(f"/console/licenses/{license_id[:40]}", "revoked")


# --- issuing -----------------------------------------------------------------------------------------
ISSUE_FIELDS = (
    "customer_id",
    "tier",
    "seats",
    "custom_features",
    "starts_at",
    "expires_at",
    "duration_days",
    "grace_days",
    "installation_id",
    "note",
)


def _issue_values(form: FormData) -> dict[str, Any]:
    """The issuing form as typed (kept for the page when it is refused)."""
    values: dict[str, Any] = {name: _text(form, name) for name in ISSUE_FIELDS}
    values["trial"] = _text(form, "trial") == "yes"
    values["unlimited"] = _text(form, "unlimited") == "yes"
    values["features"] = [f for f in form.getlist("features") if isinstance(f, str) and f]
    return values


def _issue_body(values: dict[str, Any]) -> dict[str, Any]:
    """The `POST /v1/licenses` body the form stands for."""
    body: dict[str, Any] = {"customer_id": values["customer_id"] or None, "tier": values["tier"] or None}
    if values["trial"]:
        body["trial"] = True
    if values["unlimited"]:
        body["seats"] = None  # unlimited seats (enterprise), as the API's "seats": null
    elif values["seats"]:
        body["seats"] = _number(values["seats"])
    if values["features"]:
        body["features"] = values["features"]
    if custom := _names(values["custom_features"]):
        body["custom_features"] = custom
    for name in ("starts_at", "expires_at"):
        if values[name]:
            body[name] = _day(values[name])
    for name in ("duration_days", "grace_days"):
        if values[name]:
            body[name] = _number(values[name])
    for name in ("installation_id", "note"):
        if values[name]:
            body[name] = values[name]
    return body


def _issue_form(
    request: Request,
    session: Session,
    core: Core,
    me: Staff,
    values: dict[str, Any],
    errors: Errors,
    status_code: int = 200,
) -> Response:
    context = {
        "values": {**{name: "" for name in ISSUE_FIELDS}, "trial": False, "unlimited": False, "features": [], **values},
        "errors": errors,
        "customer": _customer_or_none(session, values.get("customer_id", "")),
        "catalog_features": sorted(core.catalog.known_features),
        "tier_features": core.catalog.tier_features,
        "tiers": TIERS,
    }
    return _page(request, "console/license_new.html", me, context, status_code=status_code)


def _customer_or_none(session: Session, customer_id: str) -> Customer | None:
    return session.get(Customer, customer_id) if customer_id else None


def _preview_page(
    request: Request, session: Session, core: Core, me: Staff, values: dict[str, Any], preview: Preview
) -> Response:
    context = {
        "values": values,
        "preview": preview,
        "customer": _customer_or_none(session, values.get("customer_id", "")),
        "hidden": [*_hidden_fields(values), ("once", secrets.token_urlsafe(18))],
    }
    return _page(request, "console/license_preview.html", me, context)


def _hidden_fields(values: dict[str, Any]) -> list[tuple[str, str]]:
    """The form's fields as hidden inputs, so that Sign posts exactly what was previewed."""
    pairs: list[tuple[str, str]] = [(name, str(values[name])) for name in ISSUE_FIELDS if values.get(name)]
    pairs += [(name, "yes") for name in ("trial", "unlimited") if values.get(name)]
    pairs += [("features", feature) for feature in values.get("features", [])]
    return pairs


@router.post("/licenses/new", response_class=HTMLResponse)
def change_issue_form(request: Request, session: SessionDep, core: CoreDep, me: Changer, form: Posted) -> Response:
    """Back from the preview to the form, with what was typed."""
    return _issue_form(request, session, core, me, _issue_values(form), {})


@router.post("/licenses/preview", response_class=HTMLResponse)
def preview_issue(request: Request, session: SessionDep, core: CoreDep, me: Changer, form: Posted) -> Response:
    values = _issue_values(form)
    preview, errors, status_code = _attempt(
        lambda: preview_of(session, core, me.actor, _validated(LicensePreview, _issue_body(values)))
    )
    if errors:
        return _issue_form(request, session, core, me, values, errors, status_code)
    return _preview_page(request, session, core, me, values, preview)


@router.post("/licenses", response_class=HTMLResponse)
def sign_issue(request: Request, session: SessionDep, core: CoreDep, me: Changer, form: Posted) -> Response:
    """Sign what the preview showed. The preview's form carries a one-time key (``once``): signing twice
    (a double click, a reload that posts again) issues one license and shows it both times, through
    the API's idempotency records (scope ``console:<address>``)."""
    values = _issue_values(form)
    once = _text(form, "once")

    def issue() -> str:
        payload = _validated(LicenseCreate, _issue_body(values))
        with session.begin_nested():  # a refusal below takes the key's reservation back with it
            reserved: idempotency.Reservation | None = None
            if once:
                fingerprint = idempotency.request_fingerprint(
                    "POST", "/console/licenses", payload.model_dump_json().encode()
                )
                found = idempotency.reserve(
                    session, f"console:{me.email}", once, fingerprint, core.now(), secret=records_secret(request)
                )
                if isinstance(found, idempotency.Replay):
                    return found.body
                reserved = found
            lic = issue_license(session, core, issue_request(session, core, me.actor, payload))
            if reserved is not None:
                idempotency.complete(reserved, 201, lic.id)
            return lic.id

    license_id, errors, status_code = _attempt(issue)
    if errors:
        return _issue_form(request, session, core, me, values, errors, status_code)
    return _see(f"/console/licenses/{license_id}", "issued")


# --- renewing ----------------------------------------------------------------------------------------
RENEW_FIELDS = ("duration_days", "expires_at", "seats", "custom_features", "note")


def _renew_values(form: FormData) -> dict[str, Any]:
    return {name: _text(form, name) for name in RENEW_FIELDS}


def _renew_body(lic: License, values: dict[str, Any]) -> dict[str, Any]:
    """The `POST /v1/licenses/{id}/renew` body the form stands for."""
    body: dict[str, Any] = {}
    for name in ("duration_days", "seats"):
        if values[name]:
            body[name] = _number(values[name])
    if values["expires_at"]:
        body["expires_at"] = _day(values["expires_at"])
    if lic.tier == "enterprise":
        body["custom_features"] = _names(values["custom_features"])  # what the form shows replaces them
    if values["note"]:
        body["note"] = values["note"]
    return body


def _renew_form(
    request: Request,
    session: Session,
    core: Core,
    me: Staff,
    lic: License,
    values: dict[str, Any],
    errors: Errors,
    status_code: int = 200,
) -> Response:
    context = {"lic": lic, "values": values, "errors": errors}
    return _page(request, "console/renew.html", me, context, status_code=status_code)


@router.get("/licenses/{license_id}/renew", response_class=HTMLResponse)
def renew_page(request: Request, license_id: str, session: SessionDep, core: CoreDep, me: EditorPage) -> Response:
    lic = get_license(session, license_id[:40])
    custom = " ".join(f for f in lic.features if f not in core.catalog.known_features)
    values = {"duration_days": "365", "expires_at": "", "seats": "", "custom_features": custom, "note": ""}
    return _renew_form(request, session, core, me, lic, values, {})


@router.post("/licenses/{license_id}/renew/change", response_class=HTMLResponse)
def change_renew_form(
    request: Request, license_id: str, session: SessionDep, core: CoreDep, me: Changer, form: Posted
) -> Response:
    lic = get_license(session, license_id[:40])
    return _renew_form(request, session, core, me, lic, _renew_values(form), {})


@router.post("/licenses/{license_id}/renew/preview", response_class=HTMLResponse)
def preview_renewal(
    request: Request, license_id: str, session: SessionDep, core: CoreDep, me: Changer, form: Posted
) -> Response:
    lic = get_license(session, license_id[:40])
    values = _renew_values(form)
    preview, errors, status_code = _attempt(
        lambda: preview_of(
            session, core, me.actor, _validated(LicensePreview, {"renews": lic.id, **_renew_body(lic, values)})
        )
    )
    if errors:
        return _renew_form(request, session, core, me, lic, values, errors, status_code)
    context = {
        "lic": lic,
        "values": values,
        "preview": preview,
        "hidden": [(name, values[name]) for name in RENEW_FIELDS if values[name]],
    }
    return _page(request, "console/renew_preview.html", me, context)


@router.post("/licenses/{license_id}/renew", response_class=HTMLResponse)
def sign_renewal(
    request: Request, license_id: str, session: SessionDep, core: CoreDep, me: Changer, form: Posted
) -> Response:
    lic = get_license(session, license_id[:40])
    values = _renew_values(form)
    new, errors, status_code = _attempt(
        lambda: renewed(session, core, me.actor, lic.id, _validated(LicenseRenew, _renew_body(lic, values)))
    )
    if errors:
        return _renew_form(request, session, core, me, lic, values, errors, status_code)
    return _see(f"/console/licenses/{new.id}", "renewed")


# --- subscriptions, the audit log, true-ups ----------------------------------------------------------
@router.get("/subscriptions", response_class=HTMLResponse)
def subscriptions_page(
    request: Request,
    session: SessionDep,
    me: Viewer,
    status: Annotated[str, Query(max_length=30)] = "",
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    chosen = status if status in SUBSCRIPTION_STATUSES else ""
    found = queries.list_subscriptions(session, limit=PAGE_SIZE, cursor=cursor, status=chosen or None)
    next_page = "?" + urlencode({"status": chosen, "cursor": found.next_cursor}) if found.next_cursor else None
    context = {
        "subscriptions": found.items,
        "status": chosen,
        "statuses": SUBSCRIPTION_STATUSES,
        "next_page": next_page,
    }
    return _page(request, "console/subscriptions.html", me, context)


@router.get("/subscriptions/{subscription_id}", response_class=HTMLResponse)
def subscription_page(
    request: Request, subscription_id: str, session: SessionDep, core: CoreDep, me: Viewer
) -> Response:
    sub = session.get(Subscription, subscription_id[:40])
    if sub is None:
        raise NotFound(f"No subscription {subscription_id[:40]!r}.", code="subscription_not_found")
    now = core.now()
    licenses = queries.list_licenses(session, now, limit=PAGE_SIZE, cursor=None, subscription_id=sub.id).items
    later = queries.successors(session, licenses)
    context = {"sub": sub, "licenses": [(lic, status_of(lic, now, lic.id in later)) for lic in licenses]}
    return _page(request, "console/subscription.html", me, context)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    me: Viewer,
    action: Annotated[str, Query(max_length=100)] = "",
    actor_filter: Annotated[str, Query(alias="actor", max_length=200)] = "",
    subject_id: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    found = queries.list_audit_events(
        session,
        limit=PAGE_SIZE,
        cursor=cursor,
        action=action or None,
        actor=actor_filter or None,
        subject_id=subject_id or None,
    )
    filters = {"action": action, "actor": actor_filter, "subject_id": subject_id}
    next_page = "?" + urlencode({**filters, "cursor": found.next_cursor}) if found.next_cursor else None
    context = {"events": found.items, "filters": filters, "next_page": next_page}
    return _page(request, "console/audit.html", me, context)


@router.get("/true-ups", response_class=HTMLResponse)
def true_ups_page(
    request: Request,
    session: SessionDep,
    me: Viewer,
    status: Annotated[str, Query(max_length=30)] = "",
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Usage reports over the licensed seats (SPEC section 8), newest first: self-serve ones raised in
    Stripe by the background loop, sales lines' recorded for sales to invoice."""
    chosen = next((s for s in TRUE_UP_STATUSES if s == status), None)
    found = list_true_ups(session, limit=PAGE_SIZE, cursor=cursor, status=chosen)
    report_ids = [row.report_id for row in found.items]
    reports = {r.id: r for r in session.scalars(select(UsageReport).where(UsageReport.id.in_(report_ids)))}
    customer_ids = {row.customer_id for row in found.items}
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))}
    next_page = "?" + urlencode({"status": chosen or "", "cursor": found.next_cursor}) if found.next_cursor else None
    context = {
        "true_ups": [(row, reports[row.report_id], customers[row.customer_id]) for row in found.items],
        "status": chosen or "",
        "statuses": TRUE_UP_STATUSES,
        "next_page": next_page,
    }
    return _page(request, "console/true_ups.html", me, context)


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _epoch(seconds: int | None) -> str:
    return "" if seconds is None else _when(datetime.fromtimestamp(seconds, UTC))


templates.env.filters["when"] = _when
templates.env.filters["epoch"] = _epoch
