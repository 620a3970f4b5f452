"""Page tests: the app served by a real uvicorn server on loopback, driven by Debian's headless Chromium.

Fixtures:

* ``live_server``: a ``LiveServer`` (``.url``, ``.app``) serving ``create_app(settings, core=core)``
  on 127.0.0.1 and a free port, in a background thread, stopped after the test. The page tests run
  on SQLite only (``database_url`` is overridden here); the API tests cover PostgreSQL.
* ``inbox``: an SMTP server on loopback keeping what it receives (``tests/mailtools.py``).
* ``store``: the whole service as a buyer meets it (``Store``: ``.url``, ``.app``, ``.inbox``): the
  fake Stripe with the catalog synced and webhooks delivered, SMTP to ``inbox``, the in-process worker.
* ``browser``: headless Chromium (``/usr/bin/chromium``, never a downloaded one), one per module.
* ``page``: a fresh browser context and page per test, downloads accepted, base URL the live server.
* ``traffic``: what ``page`` requested and what its console said (``Traffic.assert_clean()``: nothing
  left loopback, no console error or warning, no Content-Security-Policy violation, no page error).
* ``forms``: an HTTP client that behaves as a browser on the service's own pages: it fetches a form
  (keeping the CSRF cookie) and posts it back with the form's token (``forms.post(path, data)``).
* ``offline_page``: ``page`` with every request to a host other than 127.0.0.1 aborted, as on an
  air-gapped network.

When Chromium is missing the tests fail (they do not skip): ``make browser`` installs it.
``LICENSING_TEST_CHROMIUM`` points at another Chromium binary (default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fakestripe import FakeStripe
from livetools import serve_in_thread
from mailtools import Inbox, smtp_server
from pagetools import Forms, LiveServer, Store, Traffic, Violation
from playwright.sync_api import Browser, Page, Route, sync_playwright
from pydantic import SecretStr

from licensing.context import Core
from licensing.kit.settings import Settings

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


@pytest.fixture
def live_server(settings: Settings, core: Core) -> Iterator[LiveServer]:
    from api.app import create_app

    app = create_app(settings, core=core)
    try:
        with serve_in_thread(app) as url:
            yield LiveServer(url=url, app=app)
    finally:
        app.state.engine.dispose()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    """An SMTP server on loopback (tests/mailtools.py)."""
    with smtp_server() as handler:
        yield handler


@pytest.fixture
def store(
    settings: Settings, core: Core, fake_stripe: FakeStripe, stripe_webhook_secret: str, inbox: Inbox
) -> Iterator[Store]:
    from api.app import create_app
    from billing.catalog_sync import sync_catalog

    configured = settings.model_copy(
        update={
            "stripe_secret_key": SecretStr(fake_stripe.secret_key),
            "stripe_api_base": fake_stripe.base_url,
            "stripe_webhook_secret": SecretStr(stripe_webhook_secret),
            "smtp_host": "127.0.0.1",
            "smtp_port": inbox.port,
            "mail_from": "licenses@vendor-9c1d.example",
            "worker_in_process": True,
        }
    )
    app = create_app(configured, core=core)
    try:
        with serve_in_thread(app) as url:
            public = configured.model_copy(update={"public_url": url})
            app.state.settings = app.state.runtime.core.settings = public
            sync_catalog(app.state.runtime.core)
            fake_stripe.webhooks.add_endpoint(f"{url}/v1/webhooks/stripe", secret=stripe_webhook_secret)
            yield Store(url, app, inbox)
            fake_stripe.webhooks.mode = "drop"
            fake_stripe.webhooks.wait_idle()
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


LOOPBACK = "127.0.0.1"
# Reports every Content-Security-Policy violation of the page to the test, with what was blocked.
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation(e.effectiveDirective, e.blockedURI, e.sourceFile || "");
});
"""


@pytest.fixture
def traffic(page: Page) -> Traffic:
    """Records ``page``'s requests, console and CSP violations; every request to a host other than
    127.0.0.1 is aborted (and recorded in ``left_loopback``), as on an air-gapped network."""
    recorded = Traffic()

    def route(route: Route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname != LOOPBACK:
            recorded.left_loopback.append(route.request.url)
            route.abort("addressunreachable")
        else:
            route.continue_()

    page.context.route("**/*", route)
    page.expose_function(
        "__cspViolation",
        lambda directive, blocked, source: recorded.violations.append(Violation(directive, blocked, source)),
    )
    page.add_init_script(_REPORT_VIOLATIONS)
    page.on("request", lambda request: recorded.requested.append(request.url))
    page.on("console", recorded.on_console)
    page.on("pageerror", lambda error: recorded.page_errors.append(str(error)))
    return recorded


@pytest.fixture
def offline_page(page: Page, traffic: Traffic) -> Page:
    """``page`` on an air-gapped network: anything but 127.0.0.1 is aborted (``traffic`` records it)."""
    return page


@pytest.fixture
def forms(live_server: LiveServer) -> Iterator[Forms]:
    with httpx.Client(base_url=live_server.url) as client:
        yield Forms(client)
