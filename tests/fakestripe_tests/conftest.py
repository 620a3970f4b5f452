"""The fake Stripe's own tests. Its fixtures (``fakestripe.fixtures``) are a plugin of tests/conftest.py."""

from __future__ import annotations

import pytest
import stripe
from fakestripe import FakeStripe
from fakestripe_helpers import Catalog, make_catalog, paid_checkout


@pytest.fixture
def catalog(stripe_client: stripe.StripeClient) -> Catalog:
    return make_catalog(stripe_client)


@pytest.fixture
def subscription(fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog) -> stripe.Subscription:
    session = paid_checkout(stripe_client, catalog.monthly)
    assert isinstance(session.subscription, str)
    return stripe_client.v1.subscriptions.retrieve(session.subscription)
