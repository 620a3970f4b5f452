"""Fixtures of the billing tests: the service configured against the fake Stripe (tests/fakestripe), on
SQLite and PostgreSQL, served on a real loopback server so the fake's webhooks reach it, and a worker
the test runs by hand (``shop.process()``) so what is processed when is the test's choice.

The service's clock is Stripe's clock (``fake_stripe.now_datetime``): when a test moves the fake's clock
to renew a period, the service sees the same time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from fakestripe import CARD_OK, FakeStripe
from fakestripe.hosted import submit_checkout
from livetools import serve_in_thread
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from billing.catalog_sync import sync_catalog
from billing.events import StripeEventTask
from licensing import bootstrap
from licensing.bootstrap import Runtime
from licensing.core import Core
from licensing.mail import Email
from licensing.models import Checkout, License, OutboxMessage, StripeEvent, Subscription
from licensing.outbox import OutboxTask
from licensing.settings import Settings
from licensing.verify import Keyring
from licensing.worker import Worker

PUBLIC_URL = "http://shop.test"


class StripeClock:
    """The service's clock is the fake Stripe's."""

    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake

    def __call__(self) -> datetime:
        return self.fake.now_datetime()


@pytest.fixture
def clock(fake_stripe: FakeStripe) -> StripeClock:  # type: ignore[override]
    return StripeClock(fake_stripe)


@pytest.fixture
def settings(settings: Settings, fake_stripe: FakeStripe, stripe_webhook_secret: str) -> Settings:
    return settings.model_copy(
        update={
            "stripe_secret_key": SecretStr(fake_stripe.secret_key),
            "stripe_api_base": fake_stripe.base_url,
            "stripe_webhook_secret": SecretStr(stripe_webhook_secret),
            "stripe_max_network_retries": 0,
            "public_url": PUBLIC_URL,
        }
    )


@pytest.fixture
def runtime(settings: Settings, core: Core, engine: Engine) -> Runtime:
    return bootstrap.start(settings, core=core, engine=engine)


class RecordingMailer:
    """Stands in for SMTP: keeps what would have been sent (tests/billing/test_mail.py uses real SMTP)."""

    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.lock = threading.Lock()

    def send(self, email: Email) -> None:
        with self.lock:
            self.sent.append(email)

    def subjects(self) -> list[str]:
        with self.lock:
            return [e.subject for e in self.sent]


@dataclass
class Bought:
    checkout_id: str
    session_id: str
    url: str


@dataclass
class Shop:
    """The service (a live loopback server on the test's database) and the fake Stripe, with shortcuts."""

    fake: FakeStripe
    runtime: Runtime
    url: str
    mailer: RecordingMailer
    worker: Worker
    keyring: Keyring
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30)

    # --- buying ---------------------------------------------------------------------------------------
    def start(self, *, seats: int = 5, interval: str = "month", email: str = "ada@acme.example", company: str = "Acme"):
        response = self.http.post(
            "/v1/checkout/sessions", json={"interval": interval, "seats": seats, "email": email, "company": company}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        with self.session() as session:
            checkout = session.get(Checkout, body["id"])
            assert checkout is not None
            return Bought(body["id"], checkout.stripe_session_id, body["url"])

    def buy(self, *, card: str = CARD_OK, iban: str | None = None, **choice: Any) -> Bought:
        bought = self.start(**choice)
        paid = submit_checkout(bought.url, card=card, iban=iban)
        assert paid.status_code == 303, paid.text
        assert paid.headers["location"] == f"{PUBLIC_URL}/checkout/success?session_id={bought.session_id}"
        return bought

    def process(self) -> int:
        """Every webhook delivered, then the background loop run until nothing is due."""
        self.fake.webhooks.wait_idle()
        return self.worker.run_until_idle()

    # --- looking ----------------------------------------------------------------------------------------
    def session(self) -> Any:
        return self.runtime.unit_of_work()

    def count(self, model: Any) -> int:
        with Session(self.runtime.engine) as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def subscription(self, checkout_id: str) -> Subscription:
        with Session(self.runtime.engine) as session:
            sub = session.scalars(select(Subscription).where(Subscription.checkout_id == checkout_id)).one()
            session.expunge(sub)
            return sub

    def licenses(self) -> list[License]:
        """Every license, oldest first."""
        with Session(self.runtime.engine) as session:
            rows = list(session.scalars(select(License).order_by(License.issued_at, License.id)))
            for row in rows:
                session.expunge(row)
            return rows

    def newest(self, checkout_id: str) -> License:
        from licensing.queries import newest_of_line

        line = self.subscription(checkout_id).line_id
        assert line is not None, "no license issued for this subscription"
        with Session(self.runtime.engine) as session:
            lic = newest_of_line(session, line)
            session.expunge(lic)
            return lic

    def outbox_keys(self) -> list[str]:
        with Session(self.runtime.engine) as session:
            return list(session.scalars(select(OutboxMessage.dedupe_key).order_by(OutboxMessage.id)))

    def events(self) -> list[StripeEvent]:
        with Session(self.runtime.engine) as session:
            rows = list(session.scalars(select(StripeEvent).order_by(StripeEvent.id)))
            for row in rows:
                session.expunge(row)
            return rows

    def stripe_subscription(self, checkout_id: str) -> str:
        return self.subscription(checkout_id).stripe_subscription_id


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def worker(runtime: Runtime, mailer: RecordingMailer) -> Worker:
    return Worker(runtime, [StripeEventTask(), OutboxTask(mailer)])  # type: ignore[arg-type]


@pytest.fixture
def catalog_in_stripe(runtime: Runtime) -> None:
    sync_catalog(runtime)


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
