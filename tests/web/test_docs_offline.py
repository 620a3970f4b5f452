"""/docs and /redoc in headless Chromium with no network but loopback: an air-gapped operator's view.

Every request to a host other than 127.0.0.1 is aborted (and recorded); the UI must still render,
under the page's Content-Security-Policy, with no request leaving loopback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

if TYPE_CHECKING:
    from pagetools import LiveServer, Traffic

pytestmark = pytest.mark.browser


def test_swagger_ui_renders_offline(offline_page: Page, traffic: Traffic, live_server: LiveServer) -> None:
    page = offline_page
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Licensing service")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() >= 15
    trials = page.locator(".opblock-post", has_text="/v1/trials")
    expect(trials.first).to_be_visible()
    # Expanding an operation shows its documented example: the whole UI works, not only the list.
    trials.first.locator(".opblock-summary").click()
    expect(page.locator(".opblock-body").first).to_contain_text("accept_terms")
    page.screenshot(path=Path("/tmp/pages-docs.png"), full_page=False)
    traffic.assert_clean()
    assert any(url.endswith("/openapi.json") for url in traffic.requested)


def test_redoc_renders_offline(offline_page: Page, traffic: Traffic, live_server: LiveServer) -> None:
    page = offline_page
    page.goto("/redoc")
    expect(page.locator(".api-info h1")).to_contain_text("Licensing service")
    menu = page.locator(".menu-content li[data-item-id]")
    expect(menu.first).to_be_visible()
    assert menu.count() >= 15
    expect(page.locator("h2", has_text="Start a 30-day Professional trial").first).to_be_visible()
    page.screenshot(path=Path("/tmp/pages-redoc.png"), full_page=False)
    # ReDoc's bundle tries two things the CSP blocks, with no visible effect: its "API docs by
    # Redocly" logo from its CDN (the link shows as text), and the styles of its custom scrollbars,
    # which it inserts as it loads, before it has the nonce (the page uses native scrollbars).
    traffic.assert_clean(
        expected_violations={
            ("img-src", "https://cdn.redoc.ly/redoc/logo-mini.svg"),
            ("style-src-elem", "inline"),
        }
    )
    inline_styles = [v for v in traffic.violations if v.blocked == "inline"]
    assert len(inline_styles) <= 2 and all(
        v.source.endswith("/static/vendor/redoc.standalone.js") for v in inline_styles
    )
    assert any(url.endswith("/openapi.json") for url in traffic.requested)
