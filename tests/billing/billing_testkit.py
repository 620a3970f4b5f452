"""Helpers of the billing tests: the service's clock as Stripe's, a recording mailer and ``Shop``, the
live service and the fake Stripe with shortcuts (see conftest.py for the fixtures)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from fakestripe import CARD_OK, FakeStripe
from fakestripe.hosted import submit_checkout
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.context import Runtime
from licensing.mail.smtp import Email
from licensing.models import Checkout, License, OutboxMessage, StripeEvent, Subscription
from licensing.verify import Keyring
from service.worker import Worker

PUBLIC_URL = "http://shop.test"


class StripeClock:
    """The service's clock is the fake Stripe's."""

    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake

    def __call__(self) -> datetime:
        return self.fake.now_datetime()


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
    def start(
        self,
        *,
        seats: int = 5,
        interval: str = "month",
        email: str = "ada@acme.example",
        company: str = "Acme",
        trial_token: str | None = None,
    ):
        choice: dict[str, Any] = {"interval": interval, "seats": seats, "email": email, "company": company}
        if trial_token is not None:
            choice["trial_token"] = trial_token
        response = self.http.post("/v1/checkout/sessions", json=choice)
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
        from licensing.licenses.queries import newest_of_line

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


def cli_env(settings: Any, **extra: str) -> dict[str, str]:
    """The environment of a ``licensing`` command acting on the test's database, keys and fake Stripe."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENSING_")}
    env.update(
        LICENSING_DATABASE_URL=settings.database_url,
        LICENSING_KEYS_DIR=str(settings.keys_dir),
        LICENSING_ISSUER=settings.issuer,
        LICENSING_STRIPE_SECRET_KEY=settings.stripe_secret_key.get_secret_value(),
        LICENSING_STRIPE_API_BASE=settings.stripe_api_base,
        LICENSING_STRIPE_WEBHOOK_SECRET=settings.stripe_webhook_secret.get_secret_value(),
        LICENSING_STRIPE_MAX_NETWORK_RETRIES="0",
        LICENSING_PUBLIC_URL=settings.public_url,
        LICENSING_LOG_LEVEL="WARNING",
        NO_COLOR="1",
        COLUMNS="200",
    )
    env.update(extra)
    return env


def licensing(settings: Any, *args: str, **extra_env: str) -> Any:
    """Run the real ``licensing`` command (the console script beside this interpreter)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("licensing")
    return subprocess.run(
        [str(script), *args], env=cli_env(settings, **extra_env), capture_output=True, text=True, timeout=120
    )
