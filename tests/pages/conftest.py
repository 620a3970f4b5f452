"""Page tests: the app served by a real uvicorn server on loopback, driven by Debian's headless Chromium.

Fixtures:

* ``live_server``: a ``LiveServer`` (``.url``, ``.app``) serving ``create_app(settings, core=core)``
  on 127.0.0.1 and a free port, in a background thread, stopped after the test. The page tests run
  on SQLite only (``database_url`` is overridden here); the API tests cover PostgreSQL.
* ``browser``: headless Chromium (``/usr/bin/chromium``, never a downloaded one), one per module.
* ``page``: a fresh browser context and page per test, downloads accepted, base URL the live server.

When Chromium is missing the tests fail (they do not skip): ``make browser`` installs it.
``LICENSING_TEST_CHROMIUM`` points at another Chromium binary (default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from livetools import serve_in_thread
from playwright.sync_api import Browser, Page, sync_playwright

from licensing.core import Core
from licensing.settings import Settings

CHROMIUM = os.environ.get("LICENSING_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
SERVER_START_SECONDS = 20


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """Page tests run on SQLite alone (overrides the SQLite + PostgreSQL parametrisation)."""
    return sqlite_url


@dataclass
class LiveServer:
    url: str
    app: FastAPI


@pytest.fixture
def live_server(settings: Settings, core: Core) -> Iterator[LiveServer]:
    from api.app import create_app

    app = create_app(settings, core=core)
    try:
        with serve_in_thread(app) as url:
            yield LiveServer(url=url, app=app)
    finally:
        app.state.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, one per test module.

    Module scope on purpose: while Playwright's sync API runs, the main thread has a running event
    loop, which would break ``asyncio.run`` in tests that share this pytest worker afterwards.
    """
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the page tests need Debian's Chromium. "
            "Run `make browser` (apt-get install chromium chromium-driver); never download a browser."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url, accept_downloads=True, viewport={"width": 1024, "height": 900}
    )
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
