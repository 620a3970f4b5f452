"""SPEC section 6's money rows: refunds and disputes, driven through the fake Stripe (a refund through
``POST /v1/refunds``, disputes opened and closed by the card network), delivered over HTTP to the live
service and processed by the background loop, which re-reads the charge or dispute from Stripe."""

from __future__ import annotations

from typing import Any

import pytest
from billing_testkit import Shop
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.reconcile import reconcile
from licensing.kit.clock import utcnow
from licensing.models import AuditEvent, License, Organisation, OutboxMessage
from licensing.verify import LicenseError, verify

REVOKED_SUBJECT = "Your Professional license has been revoked"
DISPUTE_SUBJECT_START = "Payment disputed"


def _charge_of_latest_invoice(shop: Shop, checkout_id: str) -> dict[str, Any]:
    stripe_sub = shop.fake.get(shop.stripe_subscription(checkout_id))
    return shop.fake.invoice_charge(stripe_sub["latest_invoice"])


def _audits(shop: Shop, action: str) -> list[AuditEvent]:
    with Session(shop.runtime.engine) as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        for row in rows:
            session.expunge(row)
        return rows


def _license(shop: Shop, license_id: str) -> License:
    with Session(shop.runtime.engine) as session:
        lic = session.get(License, license_id)
        assert lic is not None
        session.expunge(lic)
        return lic


def _rejected_as_revoked(shop: Shop, lic: License) -> None:
    listing = shop.http.get("/v1/revocations")
    assert listing.status_code == 200
    with pytest.raises(LicenseError) as refused:
        verify(lic.license_file, shop.keyring, now=shop.fake.now_datetime(), revocations=listing.text)
    assert refused.value.code == "revoked"


def _accepted(shop: Shop, lic: License) -> None:
    listing = shop.http.get("/v1/revocations")
    assert verify(lic.license_file, shop.keyring, now=shop.fake.now_datetime(), revocations=listing.text)


# --- refunds -------------------------------------------------------------------------------------------
def test_a_full_refund_of_the_latest_invoice_revokes_the_line_and_mails_the_customer(shop: Shop, runtime: Any) -> None:
    bought = shop.buy(email="ada@acme.example")
    shop.process()
    [lic] = shop.licenses()
    _accepted(shop, lic)
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)

    shop.fake.create_refund(charge["id"])
    shop.process()

    revoked = _license(shop, lic.id)
    assert revoked.revoked_at is not None and revoked.revoked_reason == "refunded"
    _rejected_as_revoked(shop, lic)
    mails = [m for m in shop.mailer.sent if m.subject == REVOKED_SUBJECT]
    assert [m.to for m in mails] == ["ada@acme.example"]
    assert lic.id in mails[0].text and "refund" in mails[0].text
    [audit] = _audits(shop, "subscription.refunded")
    assert audit.subject_id == shop.subscription(bought.checkout_id).id
    assert audit.data["charge"] == charge["id"] and audit.data["revoked"] == lic.id
    assert audit.data["full"] is True and audit.data["latest_invoice"] is True

    # Stripe stops billing it (cancelled at once), and nothing undoes the revocation: no renewal, and
    # reconcile issues nothing.
    stripe_sub = shop.subscription(bought.checkout_id).stripe_subscription_id
    assert shop.fake.get(stripe_sub)["status"] == "canceled"
    shop.process()  # Stripe's customer.subscription.deleted, sent by the cancellation
    assert shop.subscription(bought.checkout_id).status == "canceled"
    shop.fake.advance(days=31)
    shop.process()
    results = list(reconcile(runtime))
    assert [r.issued for r in results] == [False]
    assert [x.id for x in shop.licenses()] == [lic.id]
    assert _license(shop, lic.id).revoked_at is not None
    assert shop.mailer.subjects().count(REVOKED_SUBJECT) == 1


def test_a_partial_refund_is_only_audited(shop: Shop) -> None:
    bought = shop.buy()
    shop.process()
    [lic] = shop.licenses()
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)

    shop.fake.create_refund(charge["id"], amount=charge["amount"] // 2)
    shop.process()

    assert _license(shop, lic.id).revoked_at is None
    _accepted(shop, lic)
    assert shop.mailer.subjects() == ["Your Professional license"]
    [audit] = _audits(shop, "subscription.refunded")
    assert audit.data["full"] is False and audit.data.get("revoked") is None
    assert audit.data["amount_refunded"] == charge["amount"] // 2
    assert all(e.processed_at is not None and e.last_error is None for e in shop.events())


def test_the_rest_refunded_later_makes_it_a_full_refund(shop: Shop) -> None:
    bought = shop.buy()
    shop.process()
    [lic] = shop.licenses()
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)
    shop.fake.create_refund(charge["id"], amount=100)
    shop.process()
    assert _license(shop, lic.id).revoked_at is None
    shop.fake.create_refund(charge["id"])
    shop.process()
    assert _license(shop, lic.id).revoked_reason == "refunded"
    assert [a.data["full"] for a in _audits(shop, "subscription.refunded")] == [False, True]


def test_a_full_refund_of_an_older_invoice_does_not_revoke(shop: Shop) -> None:
    bought = shop.buy()
    shop.process()
    first_charge = _charge_of_latest_invoice(shop, bought.checkout_id)
    shop.fake.advance(days=31)  # the renewal: a new paid invoice, a new license
    shop.process()
    first, renewed = shop.licenses()
    assert renewed.supersedes_id == first.id

    shop.fake.create_refund(first_charge["id"])
    shop.process()

    assert _license(shop, renewed.id).revoked_at is None
    _accepted(shop, renewed)
    [audit] = _audits(shop, "subscription.refunded")
    assert audit.data["full"] is True and audit.data["latest_invoice"] is False and audit.data.get("revoked") is None
    assert REVOKED_SUBJECT not in shop.mailer.subjects()


# --- disputes ------------------------------------------------------------------------------------------
def test_a_dispute_opened_is_audited_and_mailed_to_sales_and_revokes_nothing(shop: Shop, settings: Any) -> None:
    bought = shop.buy(email="ada@acme.example", company="Acme")
    shop.process()
    [lic] = shop.licenses()
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)

    dispute = shop.fake.open_dispute(charge["id"], reason="fraudulent")
    shop.process()

    assert _license(shop, lic.id).revoked_at is None
    [mail] = [m for m in shop.mailer.sent if m.subject.startswith(DISPUTE_SUBJECT_START)]
    assert mail.to == settings.sales_address
    for fact in (dispute["id"], charge["id"], "fraudulent", "ada@acme.example", "Acme", lic.id):
        assert fact in mail.text, fact
    [audit] = _audits(shop, "subscription.disputed")
    assert audit.data["dispute"] == dispute["id"] and audit.data["status"] == "needs_response"
    assert audit.subject_id == shop.subscription(bought.checkout_id).id


def test_a_dispute_is_mailed_to_the_owner_of_the_customers_organisation(shop: Shop) -> None:
    bought = shop.buy(email="bea@owned-7c1d.example", company="Owned")
    shop.process()
    with Session(shop.runtime.engine) as session, session.begin():
        session.add(Organisation(organisation="owned-7c1d.example", owner="rep@sales.example", created_at=utcnow()))
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)

    shop.fake.open_dispute(charge["id"], reason="fraudulent")
    shop.process()

    [mail] = [m for m in shop.mailer.sent if m.subject.startswith(DISPUTE_SUBJECT_START)]
    assert mail.to == "rep@sales.example"


def test_a_dispute_lost_revokes_the_line(shop: Shop) -> None:
    bought = shop.buy()
    shop.process()
    [lic] = shop.licenses()
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)
    dispute = shop.fake.open_dispute(charge["id"])
    shop.process()

    shop.fake.close_dispute(dispute["id"], "lost")
    shop.process()

    revoked = _license(shop, lic.id)
    assert revoked.revoked_at is not None and revoked.revoked_reason == "dispute_lost"
    _rejected_as_revoked(shop, lic)
    stripe_sub = shop.subscription(bought.checkout_id).stripe_subscription_id
    assert shop.fake.get(stripe_sub)["status"] == "canceled"  # Stripe bills it no more
    [closed] = _audits(shop, "subscription.dispute_closed")
    assert closed.data["status"] == "lost" and closed.data["revoked"] == lic.id
    assert shop.mailer.subjects().count(REVOKED_SUBJECT) == 1


@pytest.mark.parametrize("outcome", ["won", "warning_closed"])
def test_a_dispute_won_or_warning_closed_changes_nothing(shop: Shop, outcome: str) -> None:
    bought = shop.buy()
    shop.process()
    [lic] = shop.licenses()
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)
    dispute = shop.fake.open_dispute(charge["id"])
    shop.fake.close_dispute(dispute["id"], outcome)
    shop.process()

    assert _license(shop, lic.id).revoked_at is None
    _accepted(shop, lic)
    [closed] = _audits(shop, "subscription.dispute_closed")
    assert closed.data["status"] == outcome and closed.data.get("revoked") is None
    assert REVOKED_SUBJECT not in shop.mailer.subjects()


# --- duplicates and any order ----------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["emitted", "reverse"])
def test_refund_events_twice_in_any_order_revoke_once_and_mail_once(shop: Shop, order: str) -> None:
    bought = shop.buy()
    shop.process()
    [lic] = shop.licenses()
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)
    shop.fake.webhooks.mode = "hold"
    shop.fake.create_refund(charge["id"], amount=100)
    shop.fake.create_refund(charge["id"])
    held = [e["id"] for e in shop.fake.webhooks.held_events() if e["type"] == "charge.refunded"]
    assert len(held) == 2
    shop.fake.webhooks.flush(order)  # type: ignore[arg-type]
    for event_id in held:
        shop.fake.webhooks.deliver(event_id, times=2, concurrent=True)
    shop.process()
    shop.process()

    assert _license(shop, lic.id).revoked_reason == "refunded"
    assert shop.mailer.subjects().count(REVOKED_SUBJECT) == 1
    # Both events re-read the charge as refunded in full: one audit of it.
    assert [a.data["full"] for a in _audits(shop, "subscription.refunded")] == [True]
    assert len(_audits(shop, "license.revoked")) == 1
    assert all(e.processed_at is not None and e.last_error is None for e in shop.events())


@pytest.mark.parametrize("order", ["emitted", "reverse"])
def test_dispute_events_twice_in_any_order_revoke_once_and_mail_sales_once(shop: Shop, order: str) -> None:
    bought = shop.buy()
    shop.process()
    [lic] = shop.licenses()
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)
    shop.fake.webhooks.mode = "hold"
    dispute = shop.fake.open_dispute(charge["id"])
    shop.fake.close_dispute(dispute["id"], "lost")
    held = [e["id"] for e in shop.fake.webhooks.held_events() if e["type"].startswith("charge.dispute.")]
    assert len(held) == 2
    shop.fake.webhooks.flush(order)  # type: ignore[arg-type]
    for event_id in held:
        shop.fake.webhooks.deliver(event_id, times=2, concurrent=True)
    shop.process()
    shop.process()

    assert _license(shop, lic.id).revoked_reason == "dispute_lost"
    subjects = shop.mailer.subjects()
    assert len([s for s in subjects if s.startswith(DISPUTE_SUBJECT_START)]) == 1
    assert subjects.count(REVOKED_SUBJECT) == 1
    assert len(_audits(shop, "subscription.disputed")) == 1
    assert len(_audits(shop, "subscription.dispute_closed")) == 1
    assert len(_audits(shop, "license.revoked")) == 1
    assert all(e.processed_at is not None and e.last_error is None for e in shop.events())


def test_money_events_are_stored_and_other_charge_events_are_not(shop: Shop) -> None:
    bought = shop.buy()
    shop.process()
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)
    shop.fake.create_refund(charge["id"], amount=100)  # charge.refunded and refund.created
    shop.process()
    stored = {e.type: e for e in shop.events()}
    assert "charge.refunded" in stored and "refund.created" not in stored
    assert (stored["charge.refunded"].object_type, stored["charge.refunded"].object_id) == ("charge", charge["id"])


def test_a_refund_before_its_purchase_is_recorded_is_retried_until_it_is(shop: Shop) -> None:
    shop.fake.webhooks.mode = "hold"
    bought = shop.buy()
    stripe_sub = shop.fake.get(shop.fake.sessions[bought.session_id]["subscription"])
    charge = shop.fake.invoice_charge(stripe_sub["latest_invoice"])
    shop.fake.create_refund(charge["id"])
    [refunded] = [e["id"] for e in shop.fake.webhooks.held_events() if e["type"] == "charge.refunded"]
    shop.fake.webhooks.flush([refunded])
    shop.process()
    [event] = shop.events()
    assert event.processed_at is None and event.last_error and "not recorded yet" in event.last_error

    shop.fake.webhooks.flush()  # the purchase's own events: the license is issued
    shop.process()
    [lic] = shop.licenses()
    assert lic.revoked_at is None
    shop.fake.advance(seconds=60)  # the refund's retry falls due
    shop.process()
    assert _license(shop, lic.id).revoked_reason == "refunded"
    assert shop.mailer.subjects() == ["Your Professional license", REVOKED_SUBJECT]


def test_a_refund_of_a_charge_not_ours_is_processed_as_not_ours(shop: Shop, stripe_client: Any) -> None:
    from fakestripe.hosted import submit_checkout

    # A subscription started elsewhere in the same Stripe account (its metadata names no checkout of ours).
    price = stripe_client.v1.prices.list(params={"lookup_keys": ["professional_monthly"]}).data[0]
    session = stripe_client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 3}],
            "customer_email": "other@elsewhere.example",
            "metadata": {"checkout_id": "chk_elsewhere"},
            "subscription_data": {"metadata": {"checkout_id": "chk_elsewhere"}},
            "success_url": "http://127.0.0.1:9/ok",
            "cancel_url": "http://127.0.0.1:9/cancel",
        }
    )
    assert submit_checkout(session.url).status_code == 303
    sub = shop.fake.get(str(stripe_client.v1.checkout.sessions.retrieve(session.id).subscription))
    charge = shop.fake.invoice_charge(sub["latest_invoice"])
    shop.fake.create_refund(charge["id"])
    shop.process()
    [event] = [e for e in shop.events() if e.type == "charge.refunded"]
    assert event.processed_at is not None and event.outcome is not None and event.outcome.startswith("not_ours")
    assert _audits(shop, "subscription.refunded") == []


def test_reconcile_heals_a_dropped_refund_and_a_second_run_changes_nothing(shop: Shop, runtime: Any) -> None:
    bought = shop.buy(email="ada@acme.example")
    shop.process()
    [lic] = shop.licenses()
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)
    shop.fake.webhooks.mode = "hold"
    shop.fake.create_refund(charge["id"])
    shop.fake.webhooks.discard_held()  # charge.refunded never arrives
    assert _license(shop, lic.id).revoked_at is None

    first = list(reconcile(runtime))
    assert [m.status for r in first for m in r.money] == ["revoked"]
    assert "refunded in full" in str(first[0])
    assert _license(shop, lic.id).revoked_reason == "refunded"
    stripe_sub = shop.subscription(bought.checkout_id).stripe_subscription_id
    assert shop.fake.get(stripe_sub)["status"] == "canceled"
    second = list(reconcile(runtime))
    assert [m.status for r in second for m in r.money] == ["revoked"] and "revoked already" in str(second[0])
    with shop.session() as session:
        revoked_mails = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"revoked:{lic.id}")
        ).all()
    assert len(revoked_mails) == 1
    assert len(_audits(shop, "license.revoked")) == 1


def test_reconcile_heals_a_dropped_lost_dispute(shop: Shop, runtime: Any) -> None:
    bought = shop.buy()
    shop.process()
    [lic] = shop.licenses()
    charge = _charge_of_latest_invoice(shop, bought.checkout_id)
    shop.fake.webhooks.mode = "hold"
    dispute = shop.fake.open_dispute(charge["id"])
    shop.fake.close_dispute(dispute["id"], "lost")
    shop.fake.webhooks.discard_held()
    list(reconcile(runtime))
    assert _license(shop, lic.id).revoked_reason == "dispute_lost"
    assert len(_audits(shop, "subscription.disputed")) == 1
