"""The fake's money: a charge per paid invoice (found through ``invoice_payments``), refunds full and
partial (``charge.refunded``), disputes opened and closed (``charge.dispute.created``/``closed``), all in
the shapes of Stripe's examples."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from fakestripe import FakeStripe
from fakestripe.shapes import shape_problems

JSON = dict[str, Any]


def _raw(fake: FakeStripe, path: str, **params: str) -> JSON:
    response = httpx.get(
        f"{fake.base_url}{path}", params=params, headers={"Authorization": f"Bearer {fake.secret_key}"}, timeout=15
    )
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    assert shape_problems(body) == [], shape_problems(body)
    return body


def _paid_charge(client: stripe.StripeClient, subscription: stripe.Subscription) -> stripe.Charge:
    invoice_id = subscription.latest_invoice
    assert isinstance(invoice_id, str)
    payments = client.v1.invoice_payments.list(params={"invoice": invoice_id}).data
    assert len(payments) == 1 and payments[0].status == "paid"
    intent = payments[0].payment.payment_intent
    assert isinstance(intent, str)
    charges = client.v1.charges.list(params={"payment_intent": intent}).data
    assert len(charges) == 1
    return charges[0]


def test_a_paid_invoice_has_a_charge_found_through_its_invoice_payment(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    charge = _paid_charge(stripe_client, subscription)
    invoice = stripe_client.v1.invoices.retrieve(str(subscription.latest_invoice))
    assert charge.amount == invoice.amount_paid > 0
    assert (charge.status, charge.paid, charge.refunded, charge.amount_refunded) == ("succeeded", True, False, 0)
    assert charge.customer == subscription.customer
    found = stripe_client.v1.invoice_payments.list(
        params={"payment": {"type": "payment_intent", "payment_intent": str(charge.payment_intent)}}
    ).data
    assert [p.invoice for p in found] == [invoice.id]
    assert fake_stripe.invoice_charge(invoice.id)["id"] == charge.id
    for path in (f"/v1/charges/{charge.id}", f"/v1/invoice_payments/{found[0].id}"):
        _raw(fake_stripe, path)
    _raw(fake_stripe, "/v1/invoice_payments", invoice=invoice.id)


def test_refunds_partial_then_full_emit_charge_refunded(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    charge = _paid_charge(stripe_client, subscription)
    partial = stripe_client.v1.refunds.create(params={"charge": charge.id, "amount": 100})
    assert (partial.amount, partial.status, partial.charge) == (100, "succeeded", charge.id)
    after = stripe_client.v1.charges.retrieve(charge.id)
    assert (after.amount_refunded, after.refunded) == (100, False)
    rest = stripe_client.v1.refunds.create(params={"payment_intent": str(charge.payment_intent)})
    assert rest.amount == charge.amount - 100
    after = stripe_client.v1.charges.retrieve(charge.id)
    assert (after.amount_refunded, after.refunded) == (charge.amount, True)
    refunded = [e for e in fake_stripe.events.values() if e["type"] == "charge.refunded"]
    assert [e["data"]["object"]["refunded"] for e in refunded] == [False, True]
    assert all(e["data"]["object"]["id"] == charge.id for e in refunded)
    _raw(fake_stripe, f"/v1/refunds/{rest.id}")
    _raw(fake_stripe, f"/v1/charges/{charge.id}")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.refunds.create(params={"charge": charge.id})
    assert refused.value.code == "charge_already_refunded"


def test_a_refund_larger_than_what_is_left_is_refused(
    stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    charge = _paid_charge(stripe_client, subscription)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.refunds.create(params={"charge": charge.id, "amount": charge.amount + 1})
    assert refused.value.param == "amount"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.refunds.create(params={"charge": "ch_nope"})


@pytest.mark.parametrize("outcome", ["won", "lost", "warning_closed"])
def test_disputes_open_and_close(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription, outcome: str
) -> None:
    charge = _paid_charge(stripe_client, subscription)
    opened = fake_stripe.open_dispute(charge.id)
    assert stripe_client.v1.charges.retrieve(charge.id).disputed is True
    dispute = stripe_client.v1.disputes.retrieve(opened["id"])
    assert (dispute.status, dispute.charge, dispute.amount) == ("needs_response", charge.id, charge.amount)
    _raw(fake_stripe, f"/v1/disputes/{dispute.id}")
    fake_stripe.close_dispute(dispute.id, outcome)
    assert stripe_client.v1.disputes.retrieve(dispute.id).status == outcome
    events = [e for e in fake_stripe.events.values() if e["type"].startswith("charge.dispute.")]
    assert [(e["type"], e["data"]["object"]["status"]) for e in events] == [
        ("charge.dispute.created", "needs_response"),
        ("charge.dispute.closed", outcome),
    ]
    for event in events:
        assert shape_problems(event) == []
