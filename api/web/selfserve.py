"""The self-serve pages: /trial and /free (the license at once, or "check your mail"), and the
confirmation link's page /confirm/{token} (what will be issued, and a Confirm button whose POST issues).
The rules live in ``licensing.selfserve``; these routes translate a form to its calls and back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.deps import CoreDep, RateLimitedClient, SessionDep
from api.public import free_ask_of, trial_ask_of
from api.schemas import FreeLicenseRequest, TrialRequest
from api.security import check_form_post
from api.web.site import NO_STORE, form_int, templates
from licensing.context import Core
from licensing.kit.errors import DomainError
from licensing.models import License
from licensing.selfserve.requests import (
    TRIAL_USED,
    TRIAL_USED_MESSAGE,
    Ask,
    Pending,
    by_confirm_token,
    confirm,
    request_license,
    request_status,
    what_is_asked,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_form_post)])

# What to tell a person about a field the form's validation refused (pydantic's wording is for programs).
_FIELD_HELP = {
    "email": "Enter your work e-mail address (up to 254 characters).",
    "company": "Enter your company's name (up to 200 characters).",
    "name": "Enter your name (up to 200 characters).",
    "seats": "Seats must be a whole number from 1 to 1000.",
    "installation_id": "The installation id may contain only letters, digits and . _ : - (up to 200 characters).",
}


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
    form_template = f"selfserve/{kind}.html"
    try:
        result = request_license(session, core, ask(), actor=f"public:{client}")
    except ValidationError as exc:
        return templates.TemplateResponse(
            request, form_template, {"form": form, "error": _field_errors(exc)}, status_code=422
        )
    except DomainError as exc:
        context = {"form": form, "error": exc.message, "contact_url": _contact_url(exc, kind, form)}
        return templates.TemplateResponse(request, form_template, context, status_code=exc.status)
    if isinstance(result, Pending):
        context = {"kind": kind, "email": result.request.email}
        return templates.TemplateResponse(request, "selfserve/check_mail.html", context, status_code=202)
    return _issued_page(request, result, mailed_to=None)


def _contact_url(exc: DomainError, kind: str, form: dict[str, Any]) -> str | None:
    """For a refused trial: /contact to ask for a longer one, prefilled with what was typed."""
    if kind != "trial" or exc.code != TRIAL_USED:
        return None
    query = {"interest": "trial_extension", "email": form.get("email") or "", "company": form.get("company") or ""}
    return "/contact?" + urlencode({k: v for k, v in query.items() if v})


def _issued_page(request: Request, lic: License, *, mailed_to: str | None) -> Response:
    template = "selfserve/trial_issued.html" if lic.trial else "selfserve/free_issued.html"
    context = {"license": lic, "license_file": lic.license_file, "mailed_to": mailed_to}
    return templates.TemplateResponse(request, template, context, status_code=201, headers=NO_STORE)


@router.get("/trial", response_class=HTMLResponse)
def trial_form(request: Request) -> Response:
    return templates.TemplateResponse(request, "selfserve/trial.html", {"form": {"seats": 250}, "error": None})


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
    return templates.TemplateResponse(request, "selfserve/free.html", {"form": {}, "error": None})


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
    return templates.TemplateResponse(request, "selfserve/confirm_closed.html", context, status_code=status)


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
    return templates.TemplateResponse(request, "selfserve/confirm.html", context)


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm_submit(
    request: Request, token: ConfirmToken, session: SessionDep, core: CoreDep, client: RateLimitedClient
) -> Response:
    """Issue the license of a pending request, show it and mail it (licensing.selfserve.requests.confirm)."""
    result = confirm(session, core, token, actor=f"public:{client}")
    if result.outcome != "issued" or result.license is None:
        return _closed_page(request, result.outcome)
    return _issued_page(request, result.license, mailed_to=result.license.customer.email)
