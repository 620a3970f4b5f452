"""The /contact page: ask sales to get in touch (``POST /v1/contact-requests``'s form), prefilled from the
query (email, company, interest, seats), as the refused-trial page links it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.deps import CoreDep, RateLimitedClient, SessionDep
from api.leads import record_contact_request
from api.schemas import ContactRequest
from api.security import check_form_post
from api.web.site import form_int, templates
from licensing.kit.errors import DomainError

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_form_post)])

INTERESTS = {
    "enterprise": "Enterprise edition",
    "quote": "A quote for Professional",
    "trial_extension": "A longer trial",
    "other": "Something else",
}
_FIELD_HELP = {
    "email": "Enter your work e-mail address (up to 254 characters).",
    "company": "Enter your company's name (up to 200 characters).",
    "name": "Enter your name (up to 200 characters).",
    "seats": "Seats must be a whole number of at least 1.",
    "interest": "Choose what you would like to talk about.",
    "message": "The message can be up to 5,000 characters.",
}
Prefill = Annotated[str, Query(max_length=320)]


def _page(request: Request, form: dict[str, Any], error: str | None, status_code: int = 200) -> Response:
    context = {"form": form, "error": error, "interests": INTERESTS}
    return templates.TemplateResponse(request, "contact/contact.html", context, status_code=status_code)


@router.get("/contact", response_class=HTMLResponse)
def contact_form(
    request: Request, email: Prefill = "", company: Prefill = "", interest: Prefill = "", seats: Prefill = ""
) -> Response:
    wanted = form_int(seats)  # None when empty, -1 when not a number: neither is prefilled
    form = {
        "email": email,
        "company": company,
        "interest": interest if interest in INTERESTS else "enterprise",
        "seats": str(wanted) if wanted is not None and wanted > 0 else "",
    }
    return _page(request, form, None)


@router.post("/contact", response_class=HTMLResponse)
def contact_submit(
    request: Request,
    session: SessionDep,
    core: CoreDep,
    client: RateLimitedClient,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    company: Annotated[str, Form()] = "",
    interest: Annotated[str, Form()] = "",
    seats: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
) -> Response:
    form = {"email": email, "name": name, "company": company, "interest": interest, "seats": seats, "message": message}
    try:
        payload = ContactRequest.model_validate(
            {
                "email": email,
                "name": name.strip() or None,
                "company": company,
                "interest": interest,
                "seats": form_int(seats),
                "message": message.strip() or None,
            }
        )
        record_contact_request(session, core, payload, client)
    except ValidationError as exc:
        help_text = " ".join(dict.fromkeys(_FIELD_HELP.get(str(e["loc"][0]), e["msg"]) for e in exc.errors()))
        return _page(request, form, help_text, status_code=422)
    except DomainError as exc:
        return _page(request, form, exc.message, status_code=exc.status)
    return templates.TemplateResponse(request, "contact/sent.html", {"email": payload.email}, status_code=202)
