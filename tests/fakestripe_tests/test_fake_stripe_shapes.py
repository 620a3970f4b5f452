"""(a) Every object the fake returns has at least the fields of Stripe's example (fixtures3.json), same types."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import stripe
from fakestripe import FakeStripe
from fakestripe.hosted import submit_checkout
from fakestripe.shapes import fixture_for, shape_problems
from fakestripe_helpers import Catalog, open_checkout

JSON = dict[str, Any]


class Raw:
    """The fake's answers as raw JSON (what the SDK would parse), checked for shape as they come."""

    def __init__(self, fake: FakeStripe) -> None:
        self.http = httpx.Client(
            base_url=fake.base_url, headers={"Authorization": f"Bearer {fake.secret_key}"}, timeout=15
        )
        self.seen: dict[str, int] = {}
        self.problems: list[str] = []

    def __call__(self, method: str, path: str, **params: Any) -> JSON:
        if method == "GET":
            response = self.http.request(method, path, params=urlencode(_flatten(params)))
        else:
            form = urlencode(_flatten(params))
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            response = self.http.request(method, path, content=form, headers=headers)
        assert response.status_code == 200, response.text
        answer: JSON = response.json()
        self.check(answer, f"{method} {path}")
        return answer

    def check(self, obj: JSON, where: str) -> None:
        kind = str(obj.get("object"))
        self.seen[kind] = self.seen.get(kind, 0) + 1
        if kind in ("list", "search_result"):
            for element in obj["data"]:
                self.seen[str(element.get("object"))] = self.seen.get(str(element.get("object")), 0) + 1
        self.problems.extend(f"{where}: {p}" for p in shape_problems(obj))


def _flatten(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            pairs += _flatten(value, name)
        elif isinstance(value, list):
            for i, element in enumerate(value):
                if isinstance(element, dict):
                    pairs += _flatten(element, f"{name}[{i}]")
                else:
                    pairs.append((f"{name}[{i}]", str(element)))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs


def test_every_object_the_fake_returns_has_the_shape_of_stripes_example(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog
) -> None:
    raw = Raw(fake_stripe)
    product = raw("GET", f"/v1/products/{catalog.product.id}")
    raw("POST", f"/v1/products/{product['id']}", description="Self-hosted, per seat", default_price=catalog.monthly.id)
    raw("GET", "/v1/products", active=True)
    raw("GET", "/v1/products/search", query="active:'true'")
    raw("GET", f"/v1/prices/{catalog.monthly.id}", expand=["product"])
    raw("GET", "/v1/prices", lookup_keys=["pro_monthly", "pro_yearly"], active=True)
    raw("GET", "/v1/prices/search", query="lookup_key:'pro_monthly'")
    raw("POST", f"/v1/prices/{catalog.yearly.id}", nickname="Annual", metadata={"k": "v"})

    customer = raw("POST", "/v1/customers", email="known@example.com", name="Known", metadata={"a": "b"})
    raw("GET", f"/v1/customers/{customer['id']}")
    raw("POST", f"/v1/customers/{customer['id']}", phone="+15555550100")
    raw("GET", "/v1/customers", email="known@example.com")

    open_session = raw(
        "POST",
        "/v1/checkout/sessions",
        mode="subscription",
        line_items=[{"price": catalog.monthly.id, "quantity": 4}],
        customer=customer["id"],
        client_reference_id="chk_9",
        metadata={"checkout_id": "chk_9"},
        subscription_data={"metadata": {"checkout_id": "chk_9"}},
        success_url="http://127.0.0.1:9/ok?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://127.0.0.1:9/cancel",
    )
    raw("GET", f"/v1/checkout/sessions/{open_session['id']}/line_items")
    assert submit_checkout(open_session["url"]).status_code == 303
    paid = open_checkout(stripe_client, catalog.yearly, email="new@example.com")
    assert paid.url is not None
    assert submit_checkout(paid.url).status_code == 303

    session = raw(
        "GET",
        f"/v1/checkout/sessions/{open_session['id']}",
        expand=["subscription", "customer", "line_items", "subscription.latest_invoice"],
    )
    raw("GET", "/v1/checkout/sessions", customer=customer["id"])
    sub_id = session["subscription"]["id"]
    sub = raw("GET", f"/v1/subscriptions/{sub_id}", expand=["latest_invoice", "customer", "items.data.price"])
    item = sub["items"]["data"][0]
    raw("GET", f"/v1/subscription_items/{item['id']}")
    raw("GET", "/v1/subscription_items", subscription=sub_id)
    raw(
        "POST",
        f"/v1/subscriptions/{sub_id}",
        items=[{"id": item["id"], "quantity": 6}],
        proration_behavior="always_invoice",
    )
    raw("POST", f"/v1/subscriptions/{sub_id}", cancel_at_period_end=True)
    raw("GET", "/v1/subscriptions", customer=customer["id"], status="all", expand=["data.latest_invoice"])
    raw("GET", "/v1/subscriptions/search", query="metadata['checkout_id']:'chk_9'")
    invoices = raw("GET", "/v1/invoices", subscription=sub_id)
    raw("GET", f"/v1/invoices/{invoices['data'][0]['id']}", expand=["customer"])
    raw("GET", f"/v1/invoices/{invoices['data'][0]['id']}/lines")
    config = raw(
        "POST",
        "/v1/billing_portal/configurations",
        features={
            "customer_update": {"enabled": True, "allowed_updates": ["address", "tax_id"]},
            "invoice_history": {"enabled": True},
            "payment_method_update": {"enabled": True},
            "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
            "subscription_update": {
                "enabled": True,
                "default_allowed_updates": ["price", "quantity"],
                "proration_behavior": "always_invoice",
                "products": [
                    {
                        "product": catalog.product.id,
                        "prices": [catalog.monthly.id, catalog.yearly.id],
                        "adjustable_quantity": {"enabled": True, "minimum": 1, "maximum": 99},
                    }
                ],
            },
        },
        metadata={"managed_by": "licensing"},
    )
    raw("GET", f"/v1/billing_portal/configurations/{config['id']}")
    raw("GET", "/v1/billing_portal/configurations", active=True)
    raw("POST", f"/v1/billing_portal/configurations/{config['id']}", features={"invoice_history": {"enabled": False}})
    endpoint = raw(
        "POST",
        "/v1/webhook_endpoints",
        url="http://127.0.0.1:9/v1/webhooks/stripe",
        enabled_events=["invoice.paid"],
        metadata={"managed_by": "licensing"},
    )
    raw("POST", f"/v1/webhook_endpoints/{endpoint['id']}", disabled=True)  # receives nothing here
    raw("GET", f"/v1/webhook_endpoints/{endpoint['id']}")
    raw("GET", "/v1/webhook_endpoints")
    raw(
        "POST",
        "/v1/billing_portal/sessions",
        customer=customer["id"],
        return_url="http://127.0.0.1:9/account",
        configuration=config["id"],
    )
    fake_stripe.advance(days=400)  # renewal of the yearly, cancellation of the monthly at period end
    raw("DELETE", f"/v1/subscriptions/{paid_subscription(stripe_client, paid.id)}")
    raw("DELETE", f"/v1/customers/{raw('POST', '/v1/customers', email='gone@example.com')['id']}")

    events = raw("GET", "/v1/events", limit=100)
    for event in events["data"]:
        raw("GET", f"/v1/events/{event['id']}")

    assert raw.problems == [], "\n".join(sorted({p.split(": ", 1)[1] for p in raw.problems}))
    kinds = {e["type"] for e in events["data"]}
    assert {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "billing_portal.session.created",
    } <= kinds
    for kind in (
        "product",
        "price",
        "customer",
        "checkout.session",
        "item",
        "subscription",
        "subscription_item",
        "invoice",
        "line_item",
        "billing_portal.session",
        "billing_portal.configuration",
        "webhook_endpoint",
        "event",
        "list",
        "search_result",
    ):
        assert raw.seen.get(kind), f"no {kind} was checked"


def paid_subscription(client: stripe.StripeClient, session_id: str) -> str:
    sub = client.v1.checkout.sessions.retrieve(session_id).subscription
    assert isinstance(sub, str)
    return sub


def test_deleted_customer_has_the_shape_of_stripes_example(fake_stripe: FakeStripe) -> None:
    customer = fake_stripe.create_customer(email="x@example.com")
    deleted = fake_stripe.delete_customer(customer["id"])
    assert fixture_for(deleted)["object"] == "customer"
    assert set(fixture_for(deleted)) == {"id", "object", "deleted"}
    assert shape_problems(deleted) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda o: o.pop("lookup_key"), "price.lookup_key: missing"),
        (lambda o: o.update(unit_amount="2000"), "price.unit_amount: string where Stripe's example has number"),
        (lambda o: o["recurring"].pop("interval"), "price.recurring.interval: missing"),
        (lambda o: o.update(livemode=None), "price.livemode: null where Stripe's example has boolean"),
    ],
)
def test_the_shape_check_catches_missing_fields_wrong_types_and_bad_nulls(
    fake_stripe: FakeStripe, catalog: Catalog, change: Any, problem: str
) -> None:
    price = fake_stripe.get(catalog.monthly.id)
    assert shape_problems(price) == []
    change(price)
    assert any(p.startswith(problem) for p in shape_problems(price)), shape_problems(price)


def test_the_shape_check_allows_null_only_where_the_sdk_declares_optional(
    fake_stripe: FakeStripe, subscription: stripe.Subscription
) -> None:
    sub = fake_stripe.get(subscription.id)
    assert sub["cancel_at"] is None  # Stripe's example has a number; the SDK says Optional[int]
    assert shape_problems(sub) == []
    sub["billing_cycle_anchor"] = None  # int in the SDK, never null
    assert shape_problems(sub) == [
        "subscription.billing_cycle_anchor: null where Stripe's example has number (and the SDK no Optional)"
    ]
