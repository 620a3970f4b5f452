"""Buying from a running trial in the customer portal (SPEC 6): the holder, signed in, gets a buy link of
her trial and a checkout form filled in from it; nobody else's trial, nothing that is not a running trial.
A service that sells: Stripe configured (these pages never call it); without Stripe there is no Buy button."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from test_portal import Browser, browser, customers, db, frozen, sign_in  # noqa: F401 (fixtures)

from licensing.kit.settings import Settings
from licensing.models import AuditEvent


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"public_url": "http://testserver", "stripe_secret_key": SecretStr("sk_test_pages_never_call_it")}
    )


def test_a_trials_holder_buys_from_the_portal_with_her_details_filled_in(
    browser: Browser, customers: dict[str, Any], db: Callable[[], Any]
) -> None:
    sign_in(browser, db, "ada@acme-5f3a.example")
    page = browser.client.get("/portal").text
    assert f'id="buy-{customers["ada_trial"]}"' in page and "30 days left" in page
    assert f'id="buy-{customers["ada_new"]}"' not in page  # a paid license is not bought again

    bought = browser.post(f"/portal/licenses/{customers['ada_trial']}/buy")
    assert bought.status_code == 303
    location = bought.headers["location"]
    assert location.startswith("http://testserver/checkout?trial=tbl_")
    checkout = browser.client.get(location.removeprefix("http://testserver"))
    assert checkout.status_code == 200
    assert 'value="Ada@acme-5f3a.example"' in checkout.text and 'value="Example Ltd"' in checkout.text
    assert 'id="seats" name="seats"' in checkout.text and 'value="5"' in checkout.text
    assert f"replaces your trial license\n      <strong>{customers['ada_trial']}</strong>" in checkout.text
    with db() as session:
        [audited] = session.scalars(select(AuditEvent).where(AuditEvent.action == "trial.buy_link")).all()
        assert audited.subject_id == customers["ada_trial"] and audited.actor == "portal:ada@acme-5f3a.example"


def test_only_her_running_trials_can_be_bought_from(
    browser: Browser, customers: dict[str, Any], db: Callable[[], Any]
) -> None:
    sign_in(browser, db, "ada@acme-5f3a.example")
    assert browser.post(f"/portal/licenses/{customers['bob']}/buy").status_code == 404  # not hers
    assert browser.post(f"/portal/licenses/{customers['ada_new']}/buy").status_code == 409  # not a trial
    with db() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "trial.buy_link")).all() == []


def test_buying_from_a_trial_needs_a_session(browser: Browser, customers: dict[str, Any]) -> None:
    response = browser.post(f"/portal/licenses/{customers['ada_trial']}/buy")
    assert response.status_code == 303 and response.headers["location"] == "/portal"


def test_a_buy_link_that_does_not_work_says_so_on_the_checkout_page(browser: Browser) -> None:
    page = browser.client.get("/checkout?trial=tbl_" + "A" * 43)
    assert page.status_code == 410
    assert "does not work any more" in page.text and 'name="trial_token"' not in page.text


def test_without_stripe_a_trial_shows_no_buy_button(
    browser: Browser, customers: dict[str, Any], db: Callable[[], Any], settings: Settings, core: Any, engine: Any
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(settings.model_copy(update={"stripe_secret_key": None}), core=core, engine=engine)
    with TestClient(app, base_url="http://testserver") as client:
        plain = Browser(client)
        sign_in(plain, db, "ada@acme-5f3a.example")
        page = client.get("/portal").text
        assert "30 days left" in page and f'id="buy-{customers["ada_trial"]}"' not in page
