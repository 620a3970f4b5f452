"""Helpers for the HTTP API tests: a small client wrapper, problem+json checks and row counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.models import ApiKey, AuditEvent, Customer, IdempotencyRecord, License, OutboxMessage, TrialClaim

PROBLEM = "application/problem+json"


def check_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with our fields; returns its body."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM), response.headers["content-type"]
    body: dict[str, Any] = response.json()
    for name in ("type", "title", "status", "detail", "code"):
        assert name in body, f"{name} missing from {body}"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["type"], str) and body["type"].endswith("/" + body["code"])
    if code is not None:
        assert body["code"] == code, f"expected code {code}, got {body}"
    return body


def unarmor(text: str) -> str:
    """The compact JWS inside an armor block, stripped by hand (not with the code under test)."""
    lines = [line.strip() for line in text.strip().splitlines()]
    assert lines[0].startswith("-----BEGIN ") and lines[-1].startswith("-----END "), text
    return "".join(lines[1:-1])


def aware(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None
    return value.astimezone(UTC)


def ts(value: datetime) -> int:
    return int(value.timestamp())


class Api:
    """The test client with a sales key, and shortcuts for the common calls."""

    def __init__(self, client: Any, auth: dict[str, str], session_factory: Callable[[], Any]) -> None:
        self.client = client
        self.auth = auth
        self.session_factory = session_factory

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers={**self.auth, **kwargs.pop("headers", {})}, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.client.post(path, json=body, headers={**self.auth, **kwargs.pop("headers", {})}, **kwargs)

    def customer(self, email: str = "ada@example.com", name: str = "Ada Lovelace", company: str | None = "Example Ltd"):
        response = self.post("/v1/customers", {"name": name, "email": email, "company": company})
        assert response.status_code == 201, response.text
        return response.json()

    def issue(self, customer_id: str, **body: Any) -> dict[str, Any]:
        response = self.post("/v1/licenses", {"customer_id": customer_id, **body})
        assert response.status_code == 201, response.text
        issued: dict[str, Any] = response.json()
        return issued

    def license(self, license_id: str) -> dict[str, Any]:
        response = self.get(f"/v1/licenses/{license_id}")
        assert response.status_code == 200, response.text
        out: dict[str, Any] = response.json()
        return out

    def renew(self, license_id: str, **body: Any) -> dict[str, Any]:
        response = self.post(f"/v1/licenses/{license_id}/renew", body)
        assert response.status_code == 201, response.text
        out: dict[str, Any] = response.json()
        return out

    def revoke(self, license_id: str, reason: str = "chargeback") -> dict[str, Any]:
        response = self.post(f"/v1/licenses/{license_id}/revoke", {"reason": reason})
        assert response.status_code == 200, response.text
        out: dict[str, Any] = response.json()
        return out

    def list_all(self, path: str, limit: int = 200, **params: Any) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following next_cursor."""
        items: list[dict[str, Any]] = []
        cursor = None
        for _ in range(1000):
            query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
            response = self.get(path, params=query)
            assert response.status_code == 200, response.text
            page = response.json()
            assert set(page) == {"data", "next_cursor"}
            assert len(page["data"]) <= limit
            items.extend(page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                return items
            assert len(page["data"]) == limit, "a page that is not the last must be full"
        raise AssertionError("pagination never ended")

    def counts(self) -> dict[str, int]:
        """Rows per table, read straight from the database (audit events but those of leads)."""
        with self.session_factory() as session:
            assert isinstance(session, Session)
            counts = {
                model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Customer, License, AuditEvent, TrialClaim, IdempotencyRecord, ApiKey)
            }
            # A refused request is still a lead (tests/api/test_leads.py): its audit event is not counted here.
            counts["audit_events"] -= (
                session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "lead.recorded"))
                or 0
            )
            counts["revoked"] = (
                session.scalar(select(func.count()).select_from(License).where(License.revoked_at.is_not(None))) or 0
            )
            return counts


# --- self-serve requests confirmed by e-mail ----------------------------------------------------------
CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
LINK = re.compile(r"https?://\S+/confirm/(ssc_[A-Za-z0-9_-]+)")


def confirmation_mail(app: Any, request_id: str) -> OutboxMessage | None:
    """The confirmation e-mail of a self-serve request, as the outbox holds it (None when none was sent)."""
    with app.state.sessionmaker() as session:
        row: OutboxMessage | None = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"confirm:{request_id}")
        ).first()
        return row


def confirmation_path(app: Any, request_id: str) -> str:
    """``/confirm/<token>``: the path of the link in the request's confirmation e-mail (its text part)."""
    mail = confirmation_mail(app, request_id)
    assert mail is not None, f"no confirmation e-mail for {request_id}"
    match = LINK.search(mail.text_body)
    assert match, mail.text_body
    assert urlsplit(match.group(0)).path in mail.html_body  # the HTML part carries the same link
    return f"/confirm/{match.group(1)}"


def confirm_link(client: Any, path: str) -> Any:
    """Open the confirmation page (GET issues nothing) and press Confirm: the POST, with the page's token."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF_INPUT.search(page.text)
    assert match, page.text
    return client.post(path, data={"csrf_token": match.group(1)})


def poll(client: Any, request_id: str, poll_token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {poll_token}"} if poll_token is not None else {}
    return client.get(f"/v1/self-serve-requests/{request_id}", headers=headers)


def self_serve(client: Any, path: str, body: dict[str, Any], **kwargs: Any) -> Any:
    """POST a self-serve request and, when it waits for its e-mail confirmation (202), confirm it through
    the mailed link and answer what the poll then says, shaped as the at-once mode answers (201
    ``{license, license_file}``), so that tests of the trial rules run in both modes alike."""
    response = client.post(path, json=body, **kwargs)
    if response.status_code != 202:
        return response
    pending = response.json()
    assert set(pending) == {"id", "status", "poll_token"} and pending["status"] == "pending_confirmation"
    assert poll(client, pending["id"], pending["poll_token"]).json() == {"status": "pending_confirmation"}
    confirmed = confirm_link(client, confirmation_path(client.app, pending["id"]))
    state = poll(client, pending["id"], pending["poll_token"])
    assert state.status_code == 200, state.text
    if confirmed.status_code != 201:
        assert state.json()["status"] == "refused", state.text
        return httpx.Response(
            409,
            json={
                "type": "about:blank/trial_already_used",
                "title": "Conflict",
                "status": 409,
                "detail": state.json()["detail"],
                "code": state.json()["code"],
            },
            headers={"content-type": PROBLEM},
            request=response.request,
        )
    assert state.json()["status"] == "issued" and set(state.json()) == {"status", "license", "license_file"}
    assert state.json()["license"]["id"] in confirmed.text
    issued = {"license": state.json()["license"], "license_file": state.json()["license_file"]}
    return httpx.Response(201, json=issued, request=response.request)
