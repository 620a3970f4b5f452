"""Fixtures of the billing tests: the service configured against the fake Stripe (tests/fakestripe), on
SQLite and PostgreSQL, served on a real loopback server so the fake's webhooks reach it, and a worker
the test runs by hand (``shop.process()``) so what is processed when is the test's choice.

The service's clock is Stripe's clock (``fake_stripe.now_datetime``): when a test moves the fake's clock
to renew a period, the service sees the same time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from billing_testkit import PUBLIC_URL, RecordingMailer, Shop, StripeClock
from fakestripe import FakeStripe
from livetools import serve_in_thread
from sqlalchemy import Engine
from stripetools import with_fake_stripe

from billing.catalog_sync import sync_catalog
from billing.events import StripeEventTask
from licensing import context
from licensing.context import Core, Runtime
from licensing.kit.settings import Settings
from licensing.mail.outbox import OutboxTask
from licensing.verify import Keyring
from service.worker import Worker


@pytest.fixture
def clock(fake_stripe: FakeStripe) -> StripeClock:  # type: ignore[override]
    return StripeClock(fake_stripe)


@pytest.fixture
def settings(settings: Settings, fake_stripe: FakeStripe, stripe_webhook_secret: str) -> Settings:
    return with_fake_stripe(settings, fake_stripe, stripe_webhook_secret, public_url=PUBLIC_URL)


@pytest.fixture
def runtime(settings: Settings, core: Core, engine: Engine) -> Runtime:
    return context.start(settings, core=core, engine=engine)


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def worker(runtime: Runtime, mailer: RecordingMailer) -> Worker:
    return Worker(runtime, [StripeEventTask(), OutboxTask(mailer)])  # type: ignore[arg-type]


@pytest.fixture
def catalog_in_stripe(runtime: Runtime) -> None:
    sync_catalog(runtime.core)


@pytest.fixture
def billing_app(settings: Settings, core: Core, engine: Engine) -> Any:
    from api.app import create_app

    return create_app(settings, core=core, engine=engine)


@pytest.fixture
def shop(
    fake_stripe: FakeStripe,
    billing_app: Any,
    runtime: Runtime,
    mailer: RecordingMailer,
    worker: Worker,
    keyring: Keyring,
    stripe_webhook_secret: str,
    catalog_in_stripe: None,
) -> Iterator[Shop]:
    with serve_in_thread(billing_app) as url:
        fake_stripe.webhooks.add_endpoint(f"{url}/v1/webhooks/stripe", secret=stripe_webhook_secret)
        shop = Shop(fake_stripe, runtime, url, mailer, worker, keyring)
        try:
            yield shop
        finally:
            fake_stripe.webhooks.mode = "drop"
            fake_stripe.webhooks.wait_idle()
            shop.http.close()
