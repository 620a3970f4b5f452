"""Stripe's wire format as the fake speaks it: bracket notation, auth, error objects, idempotency (d), expand."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
import stripe
from fakestripe import FakeStripe
from fakestripe.wire import decode_form
from fakestripe_helpers import Catalog


def raw(fake: FakeStripe, method: str, path: str, body: str = "", **headers: str) -> httpx.Response:
    all_headers = {"Authorization": f"Bearer {fake.secret_key}", **headers}
    if method == "POST":
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    return httpx.request(method, f"{fake.base_url}{path}", content=body, headers=all_headers)


@pytest.mark.parametrize(
    ("pairs", "decoded"),
    [
        ([("name", "Pro")], {"name": "Pro"}),
        ([("metadata[a]", "1"), ("metadata[b]", "2")], {"metadata": {"a": "1", "b": "2"}}),
        ([("expand[]", "a"), ("expand[]", "b")], {"expand": ["a", "b"]}),
        ([("expand[0]", "a"), ("expand[1]", "b")], {"expand": ["a", "b"]}),
        (
            [("line_items[0][price]", "p"), ("line_items[0][quantity]", "2"), ("line_items[1][price]", "q")],
            {"line_items": [{"price": "p", "quantity": "2"}, {"price": "q"}]},
        ),
        ([("items[][id]", "si_1"), ("items[][quantity]", "3")], {"items": [{"id": "si_1", "quantity": "3"}]}),
        ([("subscription_data[metadata][k]", "v")], {"subscription_data": {"metadata": {"k": "v"}}}),
        ([("metadata", "")], {"metadata": ""}),
    ],
)
def test_bracket_notation_decodes_like_stripe(pairs: list[tuple[str, str]], decoded: dict[str, Any]) -> None:
    assert decode_form(pairs) == decoded


def test_a_wrong_or_missing_key_gets_stripes_401(fake_stripe: FakeStripe) -> None:
    client = stripe.StripeClient("sk_test_not_the_key_1234", base_addresses={"api": fake_stripe.base_url})
    with pytest.raises(stripe.AuthenticationError) as excinfo:
        client.v1.customers.list()
    assert excinfo.value.http_status == 401
    assert excinfo.value.user_message is not None
    assert excinfo.value.user_message.startswith("Invalid API Key provided: sk_test_")
    assert excinfo.value.user_message.endswith("1234")
    response = httpx.get(f"{fake_stripe.base_url}/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "You did not provide an API key" in response.json()["error"]["message"]
    basic = httpx.get(f"{fake_stripe.base_url}/v1/customers", auth=(fake_stripe.secret_key, ""))
    assert basic.status_code == 200


def test_errors_are_stripes_error_objects(fake_stripe: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.subscriptions.retrieve("sub_nope")
    assert (missing.value.http_status, missing.value.code, missing.value.param) == (404, "resource_missing", "id")
    assert missing.value.user_message == "No such subscription: 'sub_nope'"
    with pytest.raises(stripe.InvalidRequestError) as required:
        stripe_client.v1.products.create(params={})  # type: ignore[typeddict-item]
    assert (required.value.http_status, required.value.code, required.value.param) == (400, "parameter_missing", "name")
    unknown = raw(fake_stripe, "POST", "/v1/customers", "emial=a%40example.com")
    assert unknown.status_code == 400
    assert unknown.json()["error"] | {"doc_url": "", "request_log_url": ""} == {
        "type": "invalid_request_error",
        "code": "parameter_unknown",
        "param": "emial",
        "message": "Received unknown parameter: emial",
        "doc_url": "",
        "request_log_url": "",
    }
    bad_int = raw(fake_stripe, "GET", "/v1/customers?limit=ten")
    assert (bad_int.status_code, bad_int.json()["error"]["code"]) == (400, "parameter_invalid_integer")
    nowhere = raw(fake_stripe, "GET", "/v1/payouts")
    assert nowhere.status_code == 404
    assert nowhere.json()["error"]["message"].startswith("Unrecognized request URL (GET: /v1/payouts)")
    assert nowhere.headers["request-id"].startswith("req_")
    with pytest.raises(stripe.InvalidRequestError) as email:
        stripe_client.v1.customers.create(params={"email": "not-an-email"})
    assert (email.value.code, email.value.param) == ("email_invalid", "email")


def test_idempotency_key_replays_the_same_answer(fake_stripe: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    params: stripe.params.CustomerCreateParams = {"email": "once@example.com", "metadata": {"order": "o1"}}
    first = stripe_client.v1.customers.create(params=params, options={"idempotency_key": "cust-o1"})
    again = stripe_client.v1.customers.create(params=params, options={"idempotency_key": "cust-o1"})
    assert again.id == first.id
    assert again.to_dict() == first.to_dict()
    assert len(fake_stripe.customers) == 1
    assert len(fake_stripe.events_of("customer.created")) == 1
    replay = raw(
        fake_stripe,
        "POST",
        "/v1/customers",
        "email=once%40example.com&metadata[order]=o1",
        **{"Idempotency-Key": "cust-o1"},
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.id
    keys = [r.idempotency_key for r in fake_stripe.requests if r.method == "POST"]
    assert keys == ["cust-o1", "cust-o1", "cust-o1"]


def test_idempotency_key_with_other_parameters_or_endpoint_is_stripes_idempotency_error(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    stripe_client.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "k-1"})
    with pytest.raises(stripe.IdempotencyError) as other_params:
        stripe_client.v1.customers.create(params={"email": "b@example.com"}, options={"idempotency_key": "k-1"})
    assert other_params.value.http_status == 400
    assert "same parameters" in str(other_params.value.user_message)
    with pytest.raises(stripe.IdempotencyError) as other_endpoint:
        stripe_client.v1.products.create(params={"name": "X"}, options={"idempotency_key": "k-1"})
    assert "same endpoint" in str(other_endpoint.value.user_message)
    assert len(fake_stripe.customers) == 1
    assert fake_stripe.products == {}


def test_a_request_that_fails_validation_saves_no_idempotent_result(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.customers.create(params={"email": "bad"}, options={"idempotency_key": "k-2"})
    fixed = stripe_client.v1.customers.create(params={"email": "good@example.com"}, options={"idempotency_key": "k-2"})
    assert fixed.email == "good@example.com"


def test_idempotency_keys_expire_after_24_hours(fake_stripe: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    first = stripe_client.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "k-3"})
    fake_stripe.advance(hours=25)
    second = stripe_client.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "k-3"})
    assert second.id != first.id


def test_expand_rejects_what_cannot_be_expanded(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        stripe_client.v1.subscriptions.retrieve(subscription.id, params={"expand": ["status"]})
    assert "cannot be expanded (status)" in str(excinfo.value.user_message)
    deep = stripe_client.v1.subscriptions.retrieve(
        subscription.id, params={"expand": ["latest_invoice.customer", "items.data.price.product"]}
    )
    assert isinstance(deep.latest_invoice, stripe.Invoice)
    assert isinstance(deep.latest_invoice.customer, stripe.Customer)
    assert isinstance(deep["items"].data[0].price.product, stripe.Product)
    listed = stripe_client.v1.subscriptions.list(params={"expand": ["data.customer"]})
    assert isinstance(listed.data[0].customer, stripe.Customer)


def test_injected_failures_answer_once_with_the_given_status(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    fake_stripe.inject_failure(500, path_prefix="/v1/customers")
    with pytest.raises(stripe.APIError):
        stripe_client.v1.customers.create(params={"email": "a@example.com"})
    assert fake_stripe.customers == {}
    assert stripe_client.v1.customers.create(params={"email": "a@example.com"}).email == "a@example.com"


def test_a_held_answer_waits_for_its_release(fake_stripe: FakeStripe, stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "held@example.com"})
    hold = fake_stripe.hold(f"/v1/customers/{customer.id}")
    answers: list[stripe.Customer] = []
    reader = threading.Thread(target=lambda: answers.append(stripe_client.v1.customers.retrieve(customer.id)))
    reader.start()
    assert hold.wait_arrived()
    # Answered as it stood when asked; only the sending waits. Other requests go on meanwhile.
    stripe_client.v1.customers.update(customer.id, params={"email": "changed@example.com"})
    assert reader.is_alive() and answers == []
    hold.release()
    reader.join(15)
    assert [a.email for a in answers] == ["held@example.com"]
    assert fake_stripe.take_hold("GET", f"/v1/customers/{customer.id}") is None  # one request only


def test_search_by_metadata_and_email(stripe_client: stripe.StripeClient, subscription: stripe.Subscription) -> None:
    found = stripe_client.v1.subscriptions.search(params={"query": "metadata['checkout_id']:'chk_123'"})
    assert [s.id for s in found.data] == [subscription.id]
    assert stripe_client.v1.subscriptions.search(params={"query": "metadata['checkout_id']:'other'"}).data == []
    customers = stripe_client.v1.customers.search(params={"query": "email:'buyer@example.com'"})
    assert [c.id for c in customers.data] == [subscription.customer]
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.customers.search(params={"query": "nonsense"})


def test_the_stripe_version_header_is_recorded(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog
) -> None:
    assert {r.stripe_version for r in fake_stripe.requests} == {stripe.api_version}
