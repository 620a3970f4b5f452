"""In-product purchase (SPEC 6, issue 14): a self-hosted server opens checkout for its own installation,
sends its administrator's browser to the returned URL, polls with the returned token and installs the
paid license, bound to that installation, without anyone copying a file."""

from __future__ import annotations

from typing import Any

import pytest
from billing_testkit import Shop
from fakestripe.hosted import submit_checkout

from licensing.models import Checkout, IdempotencyRecord
from licensing.verify import LicenseError, verify

CHECKOUT = "/v1/checkout/sessions"
INSTALLATION = "srv-7f3c2a9e"
CHOICE = {"interval": "month", "seats": 8, "email": "it@inproduct-2b4c.example", "company": "In Product"}


def _start(shop: Shop, **extra: Any) -> dict[str, Any]:
    response = shop.http.post(CHECKOUT, json={**CHOICE, "installation_id": INSTALLATION, **extra})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert set(body) == {"id", "url", "poll_token"} and body["poll_token"].startswith("chp_")
    return body


def _poll(shop: Shop, checkout_id: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return shop.http.get(f"{CHECKOUT}/{checkout_id}", headers=headers)


def test_a_server_buys_for_its_installation_and_gets_the_bound_license_by_polling(shop: Shop) -> None:
    started = _start(shop)
    waiting = _poll(shop, started["id"], started["poll_token"])
    assert waiting.status_code == 200 and waiting.headers["cache-control"] == "no-store"
    assert waiting.json() == {"status": "open"}

    paid = submit_checkout(started["url"])  # the administrator's browser, on Stripe's page
    assert paid.status_code == 303
    shop.process()
    done = _poll(shop, started["id"], started["poll_token"])
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "issued" and body["license"]["installation_id"] == INSTALLATION
    now = shop.fake.now_datetime()
    lic = verify(body["license_file"], shop.keyring, now=now, installation_id=INSTALLATION)
    assert lic.seats == 8 and not lic.trial
    with pytest.raises(LicenseError) as caught:
        verify(body["license_file"], shop.keyring, now=now, installation_id="another-server")
    assert caught.value.code == "installation_mismatch"

    # Renewals stay bound to the installation, and the poll follows the line.
    shop.fake.advance(days=31)
    shop.process()
    renewed = _poll(shop, started["id"], started["poll_token"]).json()
    assert renewed["license"]["id"] != body["license"]["id"]
    assert renewed["license"]["installation_id"] == INSTALLATION
    assert verify(renewed["license_file"], shop.keyring, now=shop.fake.now_datetime(), installation_id=INSTALLATION)


def test_the_poll_needs_the_checkouts_own_token(shop: Shop) -> None:
    started = _start(shop)
    other = _start(shop)
    for token in (None, "chp_" + "A" * 43, other["poll_token"]):
        answer = _poll(shop, started["id"], token)
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "checkout_not_found"
    assert _poll(shop, "chk_nothing", started["poll_token"]).status_code == 404


def test_no_poll_token_is_stored_in_clear(shop: Shop) -> None:
    started = _start(shop, **{})
    replayed = shop.http.post(
        CHECKOUT, json={**CHOICE, "installation_id": INSTALLATION}, headers={"Idempotency-Key": "k-1"}
    )
    again = shop.http.post(
        CHECKOUT, json={**CHOICE, "installation_id": INSTALLATION}, headers={"Idempotency-Key": "k-1"}
    )
    assert replayed.json() == again.json()  # the replay gives the token back
    with shop.session() as session:
        rows = [c.poll_token_hash for c in session.query(Checkout).all()]
        stored = " ".join(r.response_body for r in session.query(IdempotencyRecord).all())
    assert all(h is not None and len(h) == 64 for h in rows)
    for token in (started["poll_token"], replayed.json()["poll_token"]):
        assert token not in stored and token not in rows


def test_a_bad_installation_id_is_refused_before_stripe_is_asked(shop: Shop) -> None:
    before = len([r for r in shop.fake.requests if r.path == CHECKOUT])
    for bad in ("has space", "x" * 201, "ünïcode"):
        response = shop.http.post(CHECKOUT, json={**CHOICE, "installation_id": bad})
        assert response.status_code == 422, response.text
        assert response.json()["code"] in ("invalid_installation_id", "validation_error", "too_long")
    assert len([r for r in shop.fake.requests if r.path == CHECKOUT]) == before
    assert shop.count(Checkout) == 0


def test_a_checkout_without_an_installation_still_gets_a_poll_token_and_an_unbound_license(shop: Shop) -> None:
    response = shop.http.post(CHECKOUT, json=CHOICE)
    started = response.json()
    submit_checkout(started["url"])
    shop.process()
    body = _poll(shop, started["id"], started["poll_token"]).json()
    assert body["status"] == "issued" and body["license"]["installation_id"] is None
