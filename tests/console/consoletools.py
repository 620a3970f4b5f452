"""Helpers of the console tests: a browser-like client of ``/console`` (sign-in through the mailed link,
forms posted back with their tokens and the service's Origin) and reads of the database."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from licensing.models import AuditEvent, OutboxMessage

ORIGIN = "http://testserver"
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # the tests' frozen clock
SALES = "sam@vendor-c0n5.example"
ADMIN = "ada@vendor-c0n5.example"
READER = "rita@vendor-c0n5.example"
SITE_TOKEN = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
CONSOLE_TOKEN = re.compile(r'<input type="hidden" name="console_csrf" value="([^"]+)">')
TOKEN_FIELD_NAMES = (SITE_TOKEN, CONSOLE_TOKEN)
COOKIE = "licensing_console"


class Console:
    """A TestClient used as a browser of the console."""

    def __init__(self, client: TestClient, db: Callable[[], Any], origin: str = ORIGIN) -> None:
        self.client = client
        self.db = db
        self.origin = origin

    def site_token(self, path: str) -> str:
        response = self.client.get(path)
        match = SITE_TOKEN.search(response.text)
        assert match, f"{path} renders no CSRF token ({response.status_code})"
        return match.group(1)

    def token(self, path: str = "/console/leads") -> str:
        response = self.client.get(path, follow_redirects=False)
        match = CONSOLE_TOKEN.search(response.text)
        assert match, f"{path} renders no console token ({response.status_code})"
        return match.group(1)

    def request_link(self, email: str) -> Any:
        token = self.site_token("/console/sign-in")
        return self.client.post(
            "/console/sign-in", data={"email": email, "csrf_token": token}, headers={"Origin": self.origin}
        )

    def last_link(self, to: str, host: str = ORIGIN) -> str:
        with self.db() as session:
            rows = session.scalars(
                select(OutboxMessage).where(OutboxMessage.to_address == to).order_by(OutboxMessage.id.desc())
            ).all()
            assert rows, f"no mail to {to}"
            match = re.search(re.escape(host) + r"/console/sign-in/(csl_[A-Za-z0-9_-]+)", rows[0].text_body)
            assert match, rows[0].text_body
            return match.group(1)

    def redeem(self, link: str) -> Any:
        """Open the link's page and press Sign in."""
        token = self.site_token(f"/console/sign-in/{link}")
        return self.client.post(
            "/console/session",
            data={"token": link, "csrf_token": token},
            headers={"Origin": self.origin},
            follow_redirects=False,
        )

    def redeem_raw(self, link: str) -> Any:
        """Post a link's token with the form of the sign-in page (the link's own page may not exist)."""
        token = self.site_token("/console/sign-in")
        return self.client.post(
            "/console/session",
            data={"token": link, "csrf_token": token},
            headers={"Origin": self.origin},
            follow_redirects=False,
        )

    def sign_in(self, email: str) -> str:
        """Ask for a link, follow it, press Sign in; the session cookie."""
        assert self.request_link(email).status_code == 200
        response = self.redeem(self.last_link(email.lower()))
        assert response.status_code == 303 and response.headers["location"] == "/console/leads", response.text
        cookie = self.client.cookies.get(COOKIE)
        assert cookie
        return str(cookie)

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, form: str = "/console/leads", **kwargs: Any
    ) -> Any:
        """Post ``data`` with the session's form token (read from ``form``) and the service's Origin."""
        headers = {"Origin": self.origin, **kwargs.pop("headers", {})}
        body = {**(data or {}), "console_csrf": self.token(form)}
        return self.client.post(path, data=body, headers=headers, follow_redirects=False, **kwargs)


def audit_count(db: Callable[[], Any], **where: Any) -> int:
    with db() as session:
        query = select(func.count()).select_from(AuditEvent)
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return int(session.scalar(query) or 0)
