"""Pytest fixtures for the fake Stripe, a plugin of tests/conftest.py (``pytest_plugins``), so every test
can ask for them:

* ``fake_stripe_server``: one ``FakeStripe`` served on 127.0.0.1 per test session (per xdist worker);
* ``fake_stripe``: that fake, emptied before each test (no objects, events, endpoints; clock at real time);
  ``fake_stripe.base_url`` is the URL to give the SDK (``LICENSING_STRIPE_API_BASE``),
  ``fake_stripe.secret_key`` the only API key it accepts;
* ``stripe_webhook_secret``: a ``whsec_...`` secret to register endpoints with;
* ``stripe_client``: a ``stripe.StripeClient`` talking to the fake (no network retries);
* ``webhook_sink``: a loopback receiver registered at the fake as a webhook endpoint with
  ``stripe_webhook_secret``; it records what arrives and answers ``sink.status`` (200 by default).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import stripe
from livetools import serve_in_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .server import serve_fake
from .state import FakeStripe

WEBHOOK_SECRET = "whsec_fakestripe_test_secret_0123456789abcdef"


@dataclass
class Received:
    body: bytes
    signature: str | None
    headers: dict[str, str]
    at: float


@dataclass
class WebhookSink:
    """Records the webhooks POSTed to it; answers ``status``."""

    url: str = ""
    status: int = 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [r.body for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.received)} of {count} webhooks arrived within {timeout} s")
            time.sleep(0.01)


def sink_app(sink: WebhookSink) -> Starlette:
    async def receive(request: Request) -> Response:
        body = await request.body()
        with sink.lock:
            sink.received.append(
                Received(body, request.headers.get("stripe-signature"), dict(request.headers), time.time())
            )
        return Response(status_code=sink.status)

    return Starlette(routes=[Route("/webhook", receive, methods=["POST"])])


@pytest.fixture(scope="session")
def fake_stripe_server() -> Iterator[FakeStripe]:
    with serve_fake() as fake:
        yield fake


@pytest.fixture
def fake_stripe(fake_stripe_server: FakeStripe) -> Iterator[FakeStripe]:
    fake_stripe_server.reset()
    yield fake_stripe_server
    fake_stripe_server.webhooks.mode = "drop"  # nothing more leaves this test


@pytest.fixture
def stripe_webhook_secret() -> str:
    return WEBHOOK_SECRET


@pytest.fixture
def stripe_client(fake_stripe: FakeStripe) -> stripe.StripeClient:
    url = fake_stripe.base_url
    return stripe.StripeClient(
        fake_stripe.secret_key,
        base_addresses={"api": url, "files": url, "connect": url, "meter_events": url},
        max_network_retries=0,
    )


@pytest.fixture
def webhook_sink(fake_stripe: FakeStripe, stripe_webhook_secret: str) -> Iterator[WebhookSink]:
    sink = WebhookSink()
    with serve_in_thread(sink_app(sink)) as url:
        sink.url = f"{url}/webhook"
        fake_stripe.webhooks.add_endpoint(sink.url, secret=stripe_webhook_secret)
        yield sink
        fake_stripe.webhooks.mode = "drop"
        fake_stripe.webhooks.wait_idle()
