"""HTML pages: the trial form (the pricing, checkout and portal pages come with billing)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api.deps import CoreDep, RateLimitedClient, SessionDep
from api.public import start_trial
from api.schemas import TrialRequest
from licensing.errors import DomainError

router = APIRouter(include_in_schema=False)
# What to tell a person about a field the form's validation refused (pydantic's wording is for programs).
_FIELD_HELP = {
    "email": "Enter your work e-mail address (up to 320 characters).",
    "company": "Enter your company's name (up to 200 characters).",
    "seats": "Seats must be a whole number from 1 to 1000.",
    "installation_id": "The installation id may contain only letters, digits and . _ : - (up to 200 characters).",
}
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _form_int(text: str) -> int | None:
    """A form's number field: None when empty, -1 (refused by validation) when not a small whole number."""
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else -1


@router.get("/")
def index() -> Response:
    return RedirectResponse("/trial", status_code=307)


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
                "seats": _form_int(seats),
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
