"""SPEC section 6's table, row by row, driven through the fake Stripe's hosted page, controls and clock,
with webhooks delivered over HTTP to the live service and processed by the background loop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from billing_testkit import PUBLIC_URL, Shop
from fakestripe import IBAN_FAILS, IBAN_SUCCEEDS

from licensing.licenses.buylinks import buy_link
from licensing.licenses.revocations import revoke_license
from licensing.licenses.status import status_of
from licensing.models import Checkout, Customer, License, Subscription
from licensing.verify import verify

DAY = timedelta(days=1)


def test_paid_checkout_records_customer_and_subscription_and_issues_a_license(shop: Shop) -> None:
    bought = shop.buy(seats=5, interval="month", email="Ada@Acme.example", company="Acme Ltd")
    shop.process()

    sub = shop.subscription(bought.checkout_id)
    stripe_sub = shop.fake.get(sub.stripe_subscription_id)
    item = stripe_sub["items"]["data"][0]
    assert (sub.status, sub.seats, sub.interval, sub.price_lookup_key) == ("active", 5, "month", "professional_monthly")
    assert int(sub.current_period_end.timestamp()) == item["current_period_end"]
    assert sub.stripe_customer_id == stripe_sub["customer"]

    [lic] = shop.licenses()
    assert (lic.tier, lic.trial, lic.seats, lic.grace_days, lic.source) == ("professional", False, 5, 10, "stripe")
    assert lic.expires_at == sub.current_period_end
    assert lic.grace_ends_at == sub.current_period_end + 10 * DAY
    assert lic.subscription_id == sub.id and sub.line_id == lic.id and sub.license_id == lic.id
    verified = verify(lic.license_file, shop.keyring)
    assert verified.seats == 5 and verified.tier == "professional" and not verified.trial
    assert verified.claims["subscription_id"] == sub.id
    # The license carries what the buyer typed at checkout (SPEC 1), in a customer record of its own.
    assert verified.customer == {"name": "Acme Ltd", "email": "Ada@acme.example", "company": "Acme Ltd"}
    assert shop.count(Customer) == 1 and shop.count(Subscription) == 1

    [mail] = shop.mailer.sent
    assert mail.to == "Ada@acme.example"
    assert mail.subject == "Your Professional license"
    assert [a.filename for a in mail.attachments] == [f"{lic.id}.lic"]
    assert mail.attachments[0].content == lic.license_file
    assert "5" in mail.text and lic.id in mail.html


def test_every_event_of_a_checkout_is_processed_and_issues_nothing_more(shop: Shop) -> None:
    shop.buy()
    shop.process()
    events = shop.events()
    assert {e.type for e in events} >= {"checkout.session.completed", "customer.subscription.created", "invoice.paid"}
    assert all(e.processed_at is not None and e.last_error is None for e in events)
    assert len(shop.licenses()) == 1
    assert len(shop.mailer.sent) == 1


def test_async_payment_is_pending_until_it_succeeds(shop: Shop) -> None:
    bought = shop.buy(iban=IBAN_SUCCEEDS)
    shop.process()
    assert shop.licenses() == []
    assert shop.subscription(bought.checkout_id).status == "incomplete"

    shop.fake.settle_async_payment(bought.session_id)
    shop.process()
    [lic] = shop.licenses()
    assert lic.seats == 5
    assert shop.subscription(bought.checkout_id).status == "active"
    assert shop.mailer.subjects() == ["Your Professional license"]


def test_failed_async_payment_issues_nothing(shop: Shop) -> None:
    bought = shop.buy(iban=IBAN_FAILS)
    shop.fake.settle_async_payment(bought.session_id)
    shop.process()
    assert shop.licenses() == []
    assert shop.mailer.sent == []


def test_renewal_issues_a_license_to_the_new_period_end_superseding_the_last(shop: Shop) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    [first] = shop.licenses()

    shop.fake.advance(days=31)
    shop.process()
    sub = shop.subscription(bought.checkout_id)
    first_again, renewal = shop.licenses()
    assert first_again.id == first.id
    assert renewal.supersedes_id == first.id and renewal.line_id == first.id
    assert renewal.expires_at == sub.current_period_end > first.expires_at  # type: ignore[operator]
    assert renewal.seats == 3
    assert verify(renewal.license_file, shop.keyring, now=shop.fake.now_datetime()).claims["supersedes"] == first.id
    assert shop.mailer.subjects() == ["Your Professional license", "Your renewed Professional license"]
    assert shop.mailer.sent[-1].attachments[0].filename == f"{renewal.id}.lic"


def test_seat_change_issues_a_license_with_the_new_seats(shop: Shop) -> None:
    bought = shop.buy(seats=3)
    shop.process()
    shop.fake.portal_update(shop.stripe_subscription(bought.checkout_id), quantity=8)
    shop.process()
    first, changed = shop.licenses()
    assert (first.seats, changed.seats) == (3, 8)
    assert changed.supersedes_id == first.id
    assert changed.expires_at == first.expires_at  # the same period
    assert shop.subscription(bought.checkout_id).seats == 8
    assert shop.mailer.subjects()[-1] == "Your updated Professional license"
    assert "seats 3 -> 8" in shop.mailer.sent[-1].text


def test_interval_change_issues_a_license_for_the_new_period(shop: Shop) -> None:
    bought = shop.buy(seats=4, interval="month")
    shop.process()
    annual_price = next(p for p in shop.fake.prices.values() if p["lookup_key"] == "professional_annual")
    shop.fake.portal_update(shop.stripe_subscription(bought.checkout_id), price=annual_price["id"])
    shop.process()
    first, yearly = shop.licenses()
    sub = shop.subscription(bought.checkout_id)
    assert (sub.interval, sub.price_lookup_key) == ("year", "professional_annual")
    assert yearly.supersedes_id == first.id and yearly.seats == 4
    assert yearly.expires_at == sub.current_period_end
    assert yearly.expires_at - first.expires_at > timedelta(days=300)  # type: ignore[operator]
    assert "per year" in shop.mailer.sent[-1].text


def test_failed_payment_issues_nothing_and_mails_the_customer(shop: Shop) -> None:
    bought = shop.buy(seats=2)
    shop.process()
    [first] = shop.licenses()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.fail_next_renewal(stripe_sub)
    shop.fake.advance(days=31)
    shop.process()

    assert shop.subscription(bought.checkout_id).status == "past_due"
    assert [lic.id for lic in shop.licenses()] == [first.id]  # no new license
    now = shop.fake.now_datetime()
    assert status_of(first, now) == "grace"  # the current one runs into its grace
    assert shop.mailer.subjects()[-1] == "Your payment for the Professional subscription failed"
    failed_mails = len(shop.mailer.sent)

    # Re-reading the same past-due subscription again (a retry, reconcile) does not mail again.
    shop.fake.webhooks.deliver(shop.fake.events_of("invoice.payment_failed")[-1]["id"], times=3)
    shop.process()
    assert len(shop.mailer.sent) == failed_mails

    # The card is fixed: the retry pays, the subscription is active again and the renewal is issued.
    invoice = shop.fake.get(stripe_sub)["latest_invoice"]
    shop.fake.retry_invoice(invoice)
    shop.process()
    first_again, renewal = shop.licenses()
    assert first_again.id == first.id
    assert renewal.supersedes_id == first.id
    assert renewal.expires_at == shop.subscription(bought.checkout_id).current_period_end
    assert shop.mailer.subjects()[-1] == "Your renewed Professional license"


def test_cancel_at_period_end_mails_and_never_renews(shop: Shop) -> None:
    bought = shop.buy()
    shop.process()
    [only] = shop.licenses()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)

    shop.fake.cancel_at_period_end(stripe_sub)
    shop.process()
    assert shop.subscription(bought.checkout_id).cancel_at_period_end is True
    assert shop.mailer.subjects()[-1] == "Your Professional subscription will not renew"
    assert [lic.id for lic in shop.licenses()] == [only.id]

    shop.fake.advance(days=32)  # the period ends: Stripe deletes the subscription, no invoice
    shop.process()
    sub = shop.subscription(bought.checkout_id)
    assert sub.status == "canceled" and sub.ended_at is not None
    assert [lic.id for lic in shop.licenses()] == [only.id]  # the last license lapses by itself
    assert status_of(only, shop.fake.now_datetime()) == "grace"
    assert shop.mailer.subjects()[-1] == "Your Professional subscription has ended"
    assert shop.mailer.subjects().count("Your Professional subscription has ended") == 1


def test_deleted_subscription_mails_and_issues_nothing(shop: Shop) -> None:
    bought = shop.buy()
    shop.process()
    shop.fake.cancel_subscription(shop.stripe_subscription(bought.checkout_id))
    shop.fake.advance(days=40)
    shop.process()
    assert shop.subscription(bought.checkout_id).status == "canceled"
    assert len(shop.licenses()) == 1
    assert shop.mailer.subjects() == ["Your Professional license", "Your Professional subscription has ended"]


def _trial(shop: Shop, email: str, company: str, seats: int = 50) -> License:
    trial = shop.http.post(
        "/v1/trials", json={"email": email, "company": company, "seats": seats, "accept_terms": True}
    )
    assert trial.status_code == 201, trial.text
    with shop.session() as session:
        lic = session.get(License, trial.json()["license"]["id"])
        assert lic is not None and lic.trial
        return lic


def _buy_token(shop: Shop, trial: License) -> str:
    with shop.session() as session:
        lic = session.get(License, trial.id)
        assert lic is not None
        url = buy_link(session, shop.runtime.core, lic)
    assert url.startswith(f"{PUBLIC_URL}/checkout?trial=")
    return url.split("trial=", 1)[1]


def test_a_stranger_paying_for_one_seat_does_not_replace_an_organisations_trial(shop: Shop) -> None:
    """An address typed at checkout proves nothing: the stranger's license starts a line of its own, the
    trial holder's server keeps her trial, and revoking the stranger's line leaves her trial alone."""
    trial = _trial(shop, "alice@victim-3c1d.example", "Victim Corp", seats=250)
    shop.buy(seats=1, email="nobody@victim-3c1d.example", company="Mallory Ltd")
    shop.process()
    trial_lic, paid = shop.licenses()
    assert trial_lic.id == trial.id and paid.supersedes_id is None and paid.line_id == paid.id
    assert shop.mailer.subjects() == ["Your Professional license"]  # not "replaces your trial"
    refreshed = shop.http.post("/v1/licenses/refresh", json={"license_file": trial.license_file})
    assert refreshed.status_code == 200 and refreshed.json()["changed"] is False
    assert verify(refreshed.json()["license_file"], shop.keyring, now=shop.fake.now_datetime()).seats == 250

    with shop.session() as session:
        revoke_license(session, shop.runtime.core, "test", paid.id, "chargeback")
    with shop.session() as session:
        kept = session.get(License, trial.id)
        assert kept is not None and kept.revoked_at is None


def test_an_unproven_purchase_does_not_make_the_organisation_pay(shop: Shop) -> None:
    """A stranger's checkout for an organisation does not spend its trial (the trial rules ignore it)."""
    shop.buy(seats=1, email="nobody@payless-7e2a.example", company="Mallory Ltd")
    shop.process()
    assert len(shop.licenses()) == 1
    trial = shop.http.post(
        "/v1/trials", json={"email": "alice@payless-7e2a.example", "company": "Payless", "accept_terms": True}
    )
    assert trial.status_code == 201, trial.text


def test_the_trial_holder_converts_through_her_buy_link(shop: Shop) -> None:
    trial = _trial(shop, "it@beta-4b2e.example", "Beta")
    token = _buy_token(shop, trial)
    bought = shop.buy(seats=20, email="buyer@beta-4b2e.example", company="Beta GmbH", trial_token=token)
    shop.process()
    trial_lic, paid = shop.licenses()
    assert trial_lic.id == trial.id and trial_lic.trial
    assert paid.supersedes_id == trial.id and paid.line_id == trial_lic.line_id and not paid.trial
    assert paid.seats == 20 and paid.customer.company == "Beta GmbH"  # what the buyer typed
    assert shop.subscription(bought.checkout_id).line_id == trial_lic.line_id
    assert shop.mailer.subjects() == ["Your Professional license (replaces your trial)"]
    # The trial holder's server that refreshes gets the paid license.
    refreshed = shop.http.post("/v1/licenses/refresh", json={"license_file": trial_lic.license_file})
    assert refreshed.status_code == 200 and refreshed.json()["changed"] is True
    assert verify(refreshed.json()["license_file"], shop.keyring, now=shop.fake.now_datetime()).id == paid.id
    # Having converted, the organisation pays: no second trial.
    again = shop.http.post(
        "/v1/trials", json={"email": "other@beta-4b2e.example", "company": "Beta", "accept_terms": True}
    )
    assert again.status_code == 409

    # Renewals go on in the same line.
    shop.fake.advance(days=31)
    shop.process()
    assert shop.licenses()[-1].supersedes_id == paid.id


def test_a_buy_link_that_is_not_one_is_refused_and_nothing_is_started(shop: Shop) -> None:
    for token in ("tbl_" + "A" * 43, "nonsense", ""):
        response = shop.http.post(
            "/v1/checkout/sessions",
            json={"interval": "month", "seats": 3, "email": "a@x-5d.example", "company": "X", "trial_token": token},
        )
        if token:
            assert response.status_code == 422, response.text
            assert response.json()["code"] == "invalid_trial_link"
        else:
            assert response.status_code == 201  # empty: no trial named
    assert shop.count(Checkout) == 1


def test_a_buy_link_of_a_trial_that_was_replaced_or_revoked_is_refused(shop: Shop) -> None:
    trial = _trial(shop, "it@gone-8f1a.example", "Gone")
    token = _buy_token(shop, trial)
    with shop.session() as session:
        revoke_license(session, shop.runtime.core, "test", trial.id, "abuse")
    response = shop.http.post(
        "/v1/checkout/sessions",
        json={
            "interval": "month",
            "seats": 3,
            "email": "it@gone-8f1a.example",
            "company": "Gone",
            "trial_token": token,
        },
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_trial_link"


def test_a_trial_of_another_organisation_is_left_alone(shop: Shop) -> None:
    trial = shop.http.post("/v1/trials", json={"email": "it@gamma.example", "company": "Gamma", "accept_terms": True})
    assert trial.status_code == 201
    shop.buy(email="buyer@delta.example", company="Delta")
    shop.process()
    trial_lic, paid = shop.licenses()
    assert trial_lic.trial and trial_lic.id == trial.json()["license"]["id"]
    assert paid.supersedes_id is None and paid.line_id == paid.id


@pytest.mark.parametrize("card", ["4000000000000002"])
def test_declined_card_issues_nothing(shop: Shop, card: str) -> None:
    from fakestripe.hosted import submit_checkout

    bought = shop.start()
    declined = submit_checkout(bought.url, card=card)
    assert declined.status_code == 402
    shop.process()
    assert shop.licenses() == [] and shop.count(Subscription) == 0 and shop.mailer.sent == []


def test_revoked_line_is_not_renewed(shop: Shop, runtime) -> None:  # type: ignore[no-untyped-def]
    from licensing.licenses.revocations import revoke_license

    bought = shop.buy()
    shop.process()
    [lic] = shop.licenses()
    with runtime.unit_of_work() as session:
        revoke_license(session, runtime.core, "sally", lic.id, "chargeback")
    shop.fake.advance(days=31)
    shop.process()
    assert [x.id for x in shop.licenses()] == [lic.id]  # no renewal of a revoked line
    assert shop.subscription(bought.checkout_id).status == "active"  # though Stripe still bills
    assert shop.mailer.subjects() == ["Your Professional license"]


@pytest.mark.parametrize("outcome", ["canceled", "unpaid"])
def test_dunning_that_gives_up_issues_nothing_more(shop: Shop, outcome: str) -> None:
    bought = shop.buy()
    shop.process()
    [only] = shop.licenses()
    stripe_sub = shop.stripe_subscription(bought.checkout_id)
    shop.fake.fail_next_renewal(stripe_sub)
    shop.fake.advance(days=31)
    shop.process()
    shop.fake.exhaust_payment_retries(stripe_sub, outcome=outcome)  # type: ignore[arg-type]
    shop.fake.advance(days=40)
    shop.process()
    assert shop.subscription(bought.checkout_id).status == outcome
    assert [lic.id for lic in shop.licenses()] == [only.id]
    assert status_of(only, shop.fake.now_datetime()) == "expired"  # ran out, grace included
    subjects = shop.mailer.subjects()
    assert subjects.count("Your payment for the Professional subscription failed") == 1  # once per failed invoice
    if outcome == "canceled":
        assert subjects[-1] == "Your Professional subscription has ended"
