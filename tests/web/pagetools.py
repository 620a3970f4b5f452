"""What page tests hold and pass around (the fixtures that make them are in this folder's conftest.py).

Test modules import these from here, not from ``conftest``: several test folders have a conftest.py,
and which one ``import conftest`` finds depends on which folders a run collects first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI
from mailtools import Inbox
from playwright.sync_api import ConsoleMessage


@dataclass
class LiveServer:
    url: str
    app: FastAPI


@dataclass
class Store:
    """The whole service as a buyer meets it: the app on a live server, with the fake Stripe (catalog
    synced, webhooks delivered to it), SMTP to ``inbox`` and the in-process worker; links in e-mails
    and Stripe's return addresses point at ``url``."""

    url: str
    app: FastAPI
    inbox: Inbox


@dataclass(frozen=True)
class Violation:
    directive: str
    blocked: str  # a URL, or "inline"
    source: str


@dataclass
class Traffic:
    """What a page asked the network for, and what the browser complained about."""

    requested: list[str] = field(default_factory=list)
    left_loopback: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        # CSP refusals are reported (with details) by _REPORT_VIOLATIONS instead.
        if message.type in {"error", "warning"} and "Content Security Policy" not in message.text:
            self.console.append(f"{message.type}: {message.text}")

    def assert_clean(self, expected_violations: set[tuple[str, str]] | None = None) -> None:
        """Nothing left loopback, no console error or warning, no page error, and no CSP violation
        but the ``expected_violations`` (``(directive, blocked)``)."""
        assert self.left_loopback == [], f"requests left loopback: {self.left_loopback}"
        assert self.page_errors == [], f"page errors: {self.page_errors}"
        assert self.console == [], f"console errors or warnings: {self.console}"
        unexpected = [v for v in self.violations if (v.directive, v.blocked) not in (expected_violations or set())]
        assert unexpected == [], f"Content-Security-Policy violations: {unexpected}"


@dataclass
class Forms:
    """A client that fetches a page's form and posts it back, as the service's own pages do."""

    client: httpx.Client

    def token(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, response.text
        match = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', response.text)
        assert match, f"{path} renders no CSRF token"
        return match.group(1)

    def post(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(path, data={**data, "csrf_token": self.token(path)}, headers=headers)
