"""Settings that point the service at the fake Stripe (tests/fakestripe): checkout and webhooks enabled."""

from __future__ import annotations

from typing import Any

from fakestripe import FakeStripe
from pydantic import SecretStr

from licensing.kit.settings import Settings


def with_fake_stripe(settings: Settings, fake: FakeStripe, webhook_secret: str, **update: Any) -> Settings:
    """``settings`` with the fake's secret key and address, ``webhook_secret``, no SDK retries, and ``update``."""
    return settings.model_copy(
        update={
            "stripe_secret_key": SecretStr(fake.secret_key),
            "stripe_api_base": fake.base_url,
            "stripe_webhook_secret": SecretStr(webhook_secret),
            "stripe_max_network_retries": 0,
            **update,
        }
    )
