"""(b) The official SDK round-trips against the fake: catalog, checkout through the hosted page, subscriptions."""

from __future__ import annotations

import re

import httpx
import pytest
import stripe
from fakestripe import FakeStripe
from fakestripe.hosted import submit_checkout
from fakestripe_helpers import Catalog, open_checkout


def test_sdk_version_and_api_version_are_the_ones_the_fake_speaks(fake_stripe: FakeStripe) -> None:
    assert fake_stripe.api_version == stripe.api_version
    assert fake_stripe.api_version.startswith("2026-")  # the SDK's pinned version (current_period_* on items)


def test_catalog_is_found_again_by_lookup_key(stripe_client: stripe.StripeClient, catalog: Catalog) -> None:
    found = stripe_client.v1.prices.list(
        params={"lookup_keys": ["pro_monthly"], "active": True, "expand": ["data.product"]}
    )
    assert [p.id for p in found.data] == [catalog.monthly.id]
    price = found.data[0]
    assert isinstance(price.product, stripe.Product)
    assert price.product.name == "Professional"
    assert price.recurring is not None
    assert (price.unit_amount, price.currency, price.recurring.interval) == (2000, "usd", "month")
    both = stripe_client.v1.prices.list(params={"lookup_keys": ["pro_monthly", "pro_yearly"]})
    assert {p.lookup_key for p in both.data} == {"pro_monthly", "pro_yearly"}
    searched = stripe_client.v1.prices.search(params={"query": "lookup_key:'pro_yearly' AND active:'true'"})
    assert [p.id for p in searched.data] == [catalog.yearly.id]


def test_a_lookup_key_is_unique_unless_transferred(stripe_client: stripe.StripeClient, catalog: Catalog) -> None:
    params: stripe.params.PriceCreateParams = {
        "product": catalog.product.id,
        "currency": "usd",
        "unit_amount": 2500,
        "recurring": {"interval": "month"},
        "lookup_key": "pro_monthly",
    }
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        stripe_client.v1.prices.create(params=params)
    assert excinfo.value.param == "lookup_key"
    assert "already uses that lookup key" in str(excinfo.value.user_message)
    moved = stripe_client.v1.prices.create(params={**params, "transfer_lookup_key": True})
    assert stripe_client.v1.prices.retrieve(catalog.monthly.id).lookup_key is None
    found = stripe_client.v1.prices.list(params={"lookup_keys": ["pro_monthly"]})
    assert [p.id for p in found.data] == [moved.id]


def test_products_and_prices_update_and_list(stripe_client: stripe.StripeClient, catalog: Catalog) -> None:
    product = stripe_client.v1.products.update(
        catalog.product.id, params={"description": "Per seat", "metadata": {"plan": "", "tier": "2"}}
    )
    assert product.description == "Per seat"
    assert product.metadata.to_dict() == {"tier": "2"}  # an empty value unsets a key
    price = stripe_client.v1.prices.update(catalog.yearly.id, params={"active": False})
    assert price.active is False
    active = stripe_client.v1.prices.list(params={"active": True})
    assert [p.id for p in active.data] == [catalog.monthly.id]
    products = stripe_client.v1.products.list(params={"active": True})
    assert [p.id for p in products.data] == [catalog.product.id]


def test_customers_create_retrieve_update_list_by_email(stripe_client: stripe.StripeClient) -> None:
    created = stripe_client.v1.customers.create(params={"email": "ada@example.com", "name": "Ada"})
    stripe_client.v1.customers.create(params={"email": "bob@example.com"})
    assert stripe_client.v1.customers.retrieve(created.id).email == "ada@example.com"
    updated = stripe_client.v1.customers.update(created.id, params={"metadata": {"org": "o1"}})
    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {"org": "o1"}
    found = stripe_client.v1.customers.list(params={"email": "ada@example.com"})
    assert [c.id for c in found.data] == [created.id]


def test_checkout_pay_on_the_hosted_page_then_manage_the_subscription(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog
) -> None:
    session = open_checkout(stripe_client, catalog.monthly, seats=3)
    assert session.status == "open"
    assert session.payment_status == "unpaid"
    assert session.url is not None
    assert session.url.startswith(fake_stripe.base_url)
    assert session.amount_total == 6000
    page = httpx.get(session.url)
    assert page.status_code == 200
    assert "Subscribe to Professional" in page.text
    assert "buyer@example.com" in page.text
    links = re.findall(r'(?:src|href|action)="([^"]*)"', page.text)
    assert all(link.startswith("/") or link == "http://127.0.0.1:9/checkout/cancel" for link in links), links

    paid = submit_checkout(session.url)
    assert paid.status_code == 303
    assert paid.headers["location"] == f"http://127.0.0.1:9/checkout/success?session_id={session.id}"

    done = stripe_client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["subscription", "customer", "line_items", "subscription.latest_invoice"]}
    )
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert done.client_reference_id == "chk_123"
    assert done.metadata is not None
    assert done.metadata.to_dict() == {"checkout_id": "chk_123"}
    assert done.customer_details is not None
    assert done.customer_details.email == "buyer@example.com"
    assert isinstance(done.customer, stripe.Customer)
    assert done.customer.email == "buyer@example.com"
    assert done.line_items is not None
    assert done.line_items.data[0].quantity == 3
    sub = done.subscription
    assert isinstance(sub, stripe.Subscription)
    assert sub.status == "active"
    assert sub.metadata.to_dict() == {"checkout_id": "chk_123"}
    item = sub["items"].data[0]
    assert (item.price.id, item.quantity) == (catalog.monthly.id, 3)
    assert item.current_period_end > item.current_period_start
    assert sub.cancel_at_period_end is False
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.billing_reason, invoice.status, invoice.amount_paid) == ("subscription_create", "paid", 6000)
    assert invoice.parent is not None
    assert invoice.parent.subscription_details is not None
    assert invoice.parent.subscription_details.subscription == sub.id

    listed = stripe_client.v1.subscriptions.list(params={"customer": done.customer.id})
    assert [s.id for s in listed.data] == [sub.id]
    assert [s.id for s in stripe_client.v1.subscriptions.list(params={"status": "active"}).data] == [sub.id]

    more = stripe_client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item.id, "quantity": 5}], "proration_behavior": "always_invoice"}
    )
    assert more["items"].data[0].quantity == 5
    assert more.latest_invoice != invoice.id
    update_invoice = stripe_client.v1.invoices.retrieve(str(more.latest_invoice))
    assert (update_invoice.billing_reason, update_invoice.status) == ("subscription_update", "paid")
    invoices = stripe_client.v1.invoices.list(params={"subscription": sub.id})
    assert [i.billing_reason for i in invoices.data] == ["subscription_update", "subscription_create"]

    yearly = stripe_client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item.id, "price": catalog.yearly.id}]}
    )
    yearly_item = yearly["items"].data[0]
    assert yearly_item.price.id == catalog.yearly.id
    assert yearly_item.current_period_end - yearly_item.current_period_start >= 365 * 86400  # the cycle restarts

    ending = stripe_client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert ending.cancel_at_period_end is True
    assert ending.cancel_at == yearly_item.current_period_end
    canceled = stripe_client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled"
    assert canceled.ended_at is not None
    assert stripe_client.v1.subscriptions.list(params={"customer": done.customer.id}).data == []
    assert [s.id for s in stripe_client.v1.subscriptions.list(params={"status": "canceled"}).data] == [sub.id]


def test_an_item_without_id_is_added_not_replaced_as_stripe_does(
    stripe_client: stripe.StripeClient, subscription: stripe.Subscription, catalog: Catalog
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        stripe_client.v1.subscriptions.update(subscription.id, params={"items": [{"price": catalog.monthly.id}]})
    assert "Cannot add multiple subscription items with the same price" in str(excinfo.value.user_message)


def test_checkout_for_an_existing_customer_and_the_cancel_link(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, catalog: Catalog
) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "known@example.com"})
    session = stripe_client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer.id,
            "line_items": [{"price": catalog.yearly.id, "quantity": 1}],
            "success_url": "http://127.0.0.1:9/ok",
            "cancel_url": "http://127.0.0.1:9/cancel",
        }
    )
    assert session.url is not None
    page = httpx.get(session.url)
    assert 'href="http://127.0.0.1:9/cancel"' in page.text
    assert "known@example.com" in page.text
    assert submit_checkout(session.url).status_code == 303
    done = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert done.customer == customer.id
    assert len(fake_stripe.customers) == 1


def test_billing_portal_session_serves_a_page_that_links_back(
    stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    portal = stripe_client.v1.billing_portal.sessions.create(
        params={"customer": str(subscription.customer), "return_url": "http://127.0.0.1:9/account"}
    )
    assert portal.url.startswith("http://127.0.0.1:")
    page = httpx.get(portal.url)
    assert page.status_code == 200
    assert 'href="http://127.0.0.1:9/account"' in page.text
    assert "3 seat(s)" in page.text
    changed = httpx.post(f"{portal.url}/subscriptions/{subscription.id}/quantity", data={"quantity": "7"})
    assert changed.status_code == 303
    after = stripe_client.v1.subscriptions.retrieve(subscription.id)
    assert after["items"].data[0].quantity == 7
    assert stripe_client.v1.invoices.retrieve(str(after.latest_invoice)).billing_reason == "subscription_update"
    httpx.post(f"{portal.url}/subscriptions/{subscription.id}/cancel")
    assert stripe_client.v1.subscriptions.retrieve(subscription.id).cancel_at_period_end is True


def test_events_are_retrievable_and_listed_newest_first(
    stripe_client: stripe.StripeClient, subscription: stripe.Subscription
) -> None:
    events = stripe_client.v1.events.list(params={"type": "customer.subscription.*", "limit": 100})
    types = [e.type for e in events.data]
    assert types == ["customer.subscription.updated", "customer.subscription.created"]
    event = stripe_client.v1.events.retrieve(events.data[0].id)
    assert event.data.object["id"] == subscription.id
    assert event.api_version == stripe.api_version
    assert event.data.previous_attributes is not None
    assert event.data.previous_attributes["status"] == "incomplete"


def test_lists_page_with_limit_and_starting_after(stripe_client: stripe.StripeClient) -> None:
    made = [stripe_client.v1.customers.create(params={"email": f"c{i}@example.com"}).id for i in range(5)]
    first = stripe_client.v1.customers.list(params={"limit": 2})
    assert first.has_more is True
    assert first.url == "/v1/customers"
    second = stripe_client.v1.customers.list(params={"limit": 2, "starting_after": first.data[-1].id})
    third = stripe_client.v1.customers.list(params={"limit": 2, "starting_after": second.data[-1].id})
    assert third.has_more is False
    seen = [c.id for c in [*first.data, *second.data, *third.data]]
    assert seen == list(reversed(made))
    assert [c.id for c in stripe_client.v1.customers.list(params={"limit": 2}).auto_paging_iter()] == seen
    back = stripe_client.v1.customers.list(params={"limit": 2, "ending_before": third.data[0].id})
    assert [c.id for c in back.data] == [c.id for c in second.data]


def _configuration(
    stripe_client: stripe.StripeClient, catalog: Catalog, **update: object
) -> stripe.billing_portal.Configuration:
    return stripe_client.v1.billing_portal.configurations.create(
        params={
            "features": {
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
                            "adjustable_quantity": {"enabled": True, "minimum": 1, "maximum": 50},
                        }
                    ],
                    **update,  # type: ignore[typeddict-item]
                },
            },
            "metadata": {"managed_by": "test"},
        }
    )


def test_billing_portal_configurations_are_created_listed_retrieved_and_updated(
    stripe_client: stripe.StripeClient, catalog: Catalog
) -> None:
    config = _configuration(stripe_client, catalog)
    assert config.id.startswith("bpc_") and config.active and not config.is_default
    update = config.features.subscription_update
    assert update.enabled and update.proration_behavior == "always_invoice"
    assert update.products is not None and update.products[0].prices == [catalog.monthly.id, catalog.yearly.id]
    assert update.products[0].adjustable_quantity.maximum == 50
    assert config.features.customer_update.allowed_updates == ["address", "tax_id"]
    assert config.metadata is not None and config.metadata["managed_by"] == "test"
    listed = stripe_client.v1.billing_portal.configurations.list(params={"active": True})
    assert [c.id for c in listed.data] == [config.id]
    assert stripe_client.v1.billing_portal.configurations.retrieve(config.id).features.invoice_history.enabled

    changed = stripe_client.v1.billing_portal.configurations.update(
        config.id,
        params={"features": {"subscription_update": {"proration_behavior": "create_prorations"}}, "active": False},
    )
    assert changed.features.subscription_update.proration_behavior == "create_prorations"
    assert changed.features.subscription_update.default_allowed_updates == ["price", "quantity"]  # merged
    assert not changed.active
    assert stripe_client.v1.billing_portal.configurations.list(params={"active": True}).data == []
    customer = _customer(stripe_client)
    with pytest.raises(stripe.InvalidRequestError, match="not active"):
        stripe_client.v1.billing_portal.sessions.create(params={"customer": customer, "configuration": config.id})
    with pytest.raises(stripe.InvalidRequestError, match="No such configuration"):
        stripe_client.v1.billing_portal.sessions.create(params={"customer": customer, "configuration": "bpc_nope"})
    with pytest.raises(stripe.InvalidRequestError, match="default_allowed_updates and products"):
        stripe_client.v1.billing_portal.configurations.create(
            params={"features": {"subscription_update": {"enabled": True}}}
        )


def test_webhook_endpoints_are_created_listed_retrieved_and_updated_the_secret_only_once(
    stripe_client: stripe.StripeClient,
) -> None:
    created = stripe_client.v1.webhook_endpoints.create(
        params={
            "url": "https://example.com/v1/webhooks/stripe",
            "enabled_events": ["invoice.paid", "charge.refunded"],
            "api_version": stripe.api_version,  # type: ignore[typeddict-item]
            "metadata": {"managed_by": "test"},
        }
    )
    assert created.id.startswith("we_") and created.status == "enabled"
    assert created.secret is not None and created.secret.startswith("whsec_")
    assert created.enabled_events == ["invoice.paid", "charge.refunded"]
    assert created.api_version == stripe.api_version and created.metadata["managed_by"] == "test"
    retrieved = stripe_client.v1.webhook_endpoints.retrieve(created.id)
    assert "secret" not in retrieved and retrieved.url == created.url
    listed = stripe_client.v1.webhook_endpoints.list()
    assert [e.id for e in listed.data] == [created.id] and "secret" not in listed.data[0]

    changed = stripe_client.v1.webhook_endpoints.update(
        created.id,
        params={"enabled_events": ["invoice.paid"], "disabled": True, "metadata": {"more": "x"}},
    )
    assert changed.enabled_events == ["invoice.paid"] and changed.status == "disabled"
    assert changed.metadata.to_dict() == {"managed_by": "test", "more": "x"} and "secret" not in changed
    back = stripe_client.v1.webhook_endpoints.update(created.id, params={"disabled": False, "url": "https://b.test/h"})
    assert (back.status, back.url) == ("enabled", "https://b.test/h")
    with pytest.raises(stripe.InvalidRequestError, match="enabled_events"):
        stripe_client.v1.webhook_endpoints.create(params={"url": "https://example.com/x"})  # type: ignore[typeddict-item]
    with pytest.raises(stripe.InvalidRequestError, match="No such webhook_endpoint"):
        stripe_client.v1.webhook_endpoints.retrieve("we_nope")


def _customer(stripe_client: stripe.StripeClient) -> str:
    return stripe_client.v1.customers.create(params={"email": "c@example.com"}).id


def test_the_portal_page_follows_its_configuration_and_invoices_are_hosted(
    stripe_client: stripe.StripeClient, subscription: stripe.Subscription, catalog: Catalog
) -> None:
    config = _configuration(stripe_client, catalog)
    portal = stripe_client.v1.billing_portal.sessions.create(
        params={
            "customer": str(subscription.customer),
            "return_url": "http://127.0.0.1:9/a",
            "configuration": config.id,
        }
    )
    assert portal.configuration == config.id
    page = httpx.get(portal.url).text
    assert f'id="update-seats-{subscription.id}"' in page and 'max="50"' in page and "Invoice history" in page
    assert "Cancel plan" in page and "tax_id" in page
    too_many = httpx.post(f"{portal.url}/subscriptions/{subscription.id}/quantity", data={"quantity": "51"})
    assert too_many.status_code == 400 and "at most 50" in too_many.text
    changed = httpx.post(f"{portal.url}/subscriptions/{subscription.id}/quantity", data={"quantity": "9"})
    assert changed.status_code == 303
    after = stripe_client.v1.subscriptions.retrieve(subscription.id)
    invoice = stripe_client.v1.invoices.retrieve(str(after.latest_invoice))
    assert invoice.billing_reason == "subscription_update" and invoice.status == "paid"
    assert invoice.hosted_invoice_url and invoice.invoice_pdf
    hosted = httpx.get(invoice.hosted_invoice_url)
    assert hosted.status_code == 200 and str(invoice.number) in hosted.text
    pdf = httpx.get(invoice.invoice_pdf)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    listed = stripe_client.v1.invoices.list(params={"subscription": subscription.id, "limit": 12})
    assert listed.data[0].id == invoice.id and all(i.hosted_invoice_url for i in listed.data)

    # A configuration without seat changes or cancelling: the page offers neither and refuses both.
    fixed = stripe_client.v1.billing_portal.configurations.create(
        params={"features": {"invoice_history": {"enabled": True}}}
    )
    portal = stripe_client.v1.billing_portal.sessions.create(
        params={"customer": str(subscription.customer), "configuration": fixed.id}
    )
    page = httpx.get(portal.url).text
    assert "Update seats" not in page and "Cancel plan" not in page
    refused = httpx.post(f"{portal.url}/subscriptions/{subscription.id}/quantity", data={"quantity": "3"})
    assert refused.status_code == 400
