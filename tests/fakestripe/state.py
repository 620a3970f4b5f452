"""The fake Stripe's state: objects, a clock the tests move, the subscription lifecycle and its events.

``FakeStripe`` holds everything in memory behind one lock; the HTTP layer (``app.py``) and the tests'
Python calls both go through it. Objects are stored in Stripe's JSON shapes (ids for references) and
rendered on the way out (subscription items embed their current price, like Stripe).
"""

from __future__ import annotations

import calendar
import copy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import stripe

from .webhooks import Webhooks
from .wire import JSON, StripeError, missing, new_id, random_token

DAY = 86400
CHECKOUT_LIFETIME = DAY
IDEMPOTENCY_LIFETIME = DAY
INCOMPLETE_LIFETIME = 23 * 3600
RETRY_AFTER = 3 * DAY

# Test cards the hosted page knows (digits only). Anything else Luhn-valid is declined as Stripe's
# "generic_decline" would be; Luhn-invalid numbers are refused as invalid.
CARD_OK = "4242424242424242"
DECLINES: dict[str, tuple[str, str]] = {
    "4000000000000002": ("generic_decline", "Your card was declined."),
    "4000000000009995": ("insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("lost_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", "Your card's security code is incorrect."),
}
OTHER_OK_CARDS = {"5555555555554444", "4000056655665556", "378282246310005"}
# 3-D Secure test cards: the bank asks the holder to confirm the payment on the checkout page.
CARD_3DS = "4000002500003155"  # confirmed once at checkout; set up for its renewals, which just pay
CARD_3DS_ALWAYS = "4000002760003184"  # every payment asks, renewals too (invoice.payment_action_required)
AUTHENTICATION_CARDS = {CARD_3DS, CARD_3DS_ALWAYS}
# SEPA Direct Debit test IBANs: async payment that later succeeds or fails.
IBAN_SUCCEEDS = "DE89370400440532013000"
IBAN_FAILS = "DE62370400440532013001"

SUBSCRIPTION_STATUSES = (
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
)


class PaymentDeclined(Exception):
    """The hosted page's card was declined; nothing was created."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AuthenticationRequired(PaymentDeclined):
    """The card's bank asks its holder to confirm the payment (3-D Secure): the hosted page shows the
    challenge, and the form is posted again with the holder's answer. Nothing was created yet."""


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        digit = int(ch)
        if i % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def shift_months(moment: int, months: int) -> int:
    """``moment`` plus ``months`` calendar months, the day clamped to the month's length (as Stripe bills)."""
    dt = datetime.fromtimestamp(moment, UTC)
    month_index = dt.month - 1 + months
    year, month = dt.year + month_index // 12, month_index % 12 + 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return int(dt.replace(year=year, month=month, day=day).timestamp())


def period_end(anchor: int, start: int, interval: str, count: int) -> int:
    """The end of the billing period that starts at ``start``, on the cycle anchored at ``anchor``."""
    k = 1
    while True:
        if interval == "month":
            end = shift_months(anchor, k * count)
        elif interval == "year":
            end = shift_months(anchor, 12 * k * count)
        elif interval == "week":
            end = anchor + 7 * DAY * k * count
        else:
            end = anchor + DAY * k * count
        if end > start:
            return end
        k += 1


def diff(before: Any, after: Any) -> Any:
    """Stripe's ``previous_attributes``: the old values of what changed (dicts compared key by key)."""
    if isinstance(before, dict) and isinstance(after, dict) and before.get("object") != "list":
        changed = {}
        for key, old in before.items():
            if key not in after or after[key] != old:
                changed[key] = diff(old, after.get(key))
        return changed
    return before


@dataclass
class IdempotentResult:
    method: str
    path: str
    params: JSON
    status: int
    body: JSON
    created: int


@dataclass
class RequestRecord:
    """One API request the fake answered (for tests to assert on what the service called)."""

    method: str
    path: str
    params: JSON
    idempotency_key: str | None
    status: int
    request_id: str
    stripe_version: str | None


@dataclass
class Hold:
    """One API answer held back (``FakeStripe.hold``): the fake answers the request as usual, sets
    ``arrived`` and sends the answer only once ``release()`` is called, so the caller waits on Stripe
    with what Stripe said when it asked. After ``timeout`` seconds the answer goes out anyway, so a
    failing test never hangs."""

    method: str
    path_prefix: str
    timeout: float = 30.0
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and path.startswith(self.path_prefix)

    def wait_arrived(self, timeout: float = 15.0) -> bool:
        return self.arrived.wait(timeout)

    def release(self) -> None:
        self.released.set()


class Clock:
    """Stripe's notion of now: the real time plus an offset the tests move, or a frozen instant."""

    def __init__(self, start: int | None = None) -> None:
        self.frozen: int | None = start
        self.offset = 0

    def now(self) -> int:
        if self.frozen is not None:
            return self.frozen
        return int(time.time()) + self.offset

    def set(self, moment: int) -> None:
        if self.frozen is not None:
            self.frozen = moment
        else:
            self.offset = moment - int(time.time())


DEFAULT_PORTAL_CONFIGURATION = "bpc_fakestripedefault000000"  # the account's default (dashboard) configuration


def portal_features_defaults() -> JSON:
    """A billing-portal configuration's ``features`` with everything Stripe defaults to: all turned off."""
    return {
        "customer_update": {"allowed_updates": [], "enabled": False},
        "invoice_history": {"enabled": False},
        "payment_method_update": {"enabled": False, "payment_method_configuration": None},
        "subscription_cancel": {
            "cancellation_reason": {"enabled": False, "options": []},
            "enabled": False,
            "mode": "at_period_end",
            "proration_behavior": "none",
        },
        "subscription_pause": {"enabled": False},
        "subscription_update": {
            "billing_cycle_anchor": None,
            "default_allowed_updates": [],
            "enabled": False,
            "products": [],
            "proration_behavior": "none",
            "schedule_at_period_end": {"conditions": []},
            "trial_update_behavior": "end_trial",
        },
    }


class FakeStripe:
    """A stateful stand-in for the Stripe API (see ``tests/fakestripe/README.md``)."""

    def __init__(
        self,
        *,
        secret_key: str = "sk_test_fakestripe_0123456789",  # noqa: S107 (a test key)
        api_version: str | None = None,
        start: int | None = None,
        base_url: str = "http://127.0.0.1",
    ) -> None:
        self.secret_key = secret_key
        self.api_version = api_version or stripe.api_version
        self.base_url = base_url
        self.lock = threading.RLock()
        self.clock = Clock(start)
        self.webhooks = Webhooks(self._event_for_delivery)
        self.account_name = "Fake Stripe test account"
        self._reset_state()

    def _reset_state(self) -> None:
        self.products: dict[str, JSON] = {}
        self.prices: dict[str, JSON] = {}
        self.customers: dict[str, JSON] = {}
        self.sessions: dict[str, JSON] = {}
        self.subscriptions: dict[str, JSON] = {}
        self.items: dict[str, JSON] = {}
        self.invoices: dict[str, JSON] = {}
        self.charges: dict[str, JSON] = {}
        self.refunds: dict[str, JSON] = {}
        self.disputes: dict[str, JSON] = {}
        self.invoice_payments: dict[str, JSON] = {}
        self.portal_sessions: dict[str, JSON] = {}
        self.portal_configurations: dict[str, JSON] = {}
        self.webhook_endpoints: dict[str, JSON] = {}
        self.coupons: dict[str, JSON] = {}
        self.discounts: dict[str, JSON] = {}
        self.events: dict[str, JSON] = {}
        self.requests: list[RequestRecord] = []
        self.idempotency: dict[str, IdempotentResult] = {}
        self._session_items: dict[str, list[JSON]] = {}
        self._session_sub_metadata: dict[str, dict[str, str]] = {}
        self._sub_items: dict[str, list[str]] = {}
        self._seq: dict[str, int] = {}
        self._fail_renewals: dict[str, int] = {}
        self._action_renewals: dict[str, int] = {}
        self._awaiting_action: set[str] = set()
        self._always_authenticate: set[str] = set()
        self._pending_prorations: dict[str, list[JSON]] = {}
        self._portal_secrets: dict[str, str] = {}
        self._async_outcome: dict[str, bool] = {}
        self._injected_failures: list[tuple[str | None, int, JSON]] = []
        self._holds: list[Hold] = []
        self._request: tuple[str | None, str | None] = (None, None)
        self._invoice_numbers: dict[str, int] = {}

    def reset(self) -> None:
        """Back to empty: no objects, events, endpoints or requests; the clock back to real time."""
        self.webhooks.reset()
        with self.lock:
            for hold in getattr(self, "_holds", []):
                hold.release()  # nothing of an earlier test stays waiting
            self._reset_state()
            self.clock = Clock(None)

    def close(self) -> None:
        self.webhooks.close()

    # --- clock ---------------------------------------------------------------------------------------
    def now(self) -> int:
        return self.clock.now()

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def freeze(self, at: int | datetime | None = None) -> int:
        """Stop Stripe's clock (at ``at``, or now); it then moves only by ``advance``. Returns the instant."""
        with self.lock:
            moment = self.now() if at is None else int(at.timestamp()) if isinstance(at, datetime) else at
            self.clock = Clock(moment)
            return moment

    # --- bookkeeping ----------------------------------------------------------------------------------
    def _store(self, table: dict[str, JSON], obj: JSON) -> JSON:
        table[obj["id"]] = obj
        self._seq[obj["id"]] = len(self._seq)
        return obj

    @contextmanager
    def request_context(self, request_id: str | None, idempotency_key: str | None) -> Iterator[None]:
        """Events emitted inside carry this request (``event.request``), as Stripe's do."""
        with self.lock:
            previous = self._request
            self._request = (request_id, idempotency_key)
            try:
                yield
            finally:
                self._request = previous

    def _emit(self, type_: str, obj: JSON, previous: JSON | None = None) -> JSON:
        request_id, key = self._request
        data: JSON = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = copy.deepcopy(previous)
        event: JSON = {
            "id": new_id("event"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": self.webhooks.targets(type_),
            "request": {"id": request_id, "idempotency_key": key},
            "type": type_,
        }
        self._store(self.events, event)
        self.webhooks.on_event(event)
        return event

    def _event_for_delivery(self, event_id: str) -> JSON | None:
        with self.lock:
            return self.events.get(event_id)

    def inject_failure(self, status: int = 500, *, path_prefix: str | None = None, error: JSON | None = None) -> None:
        """The next API request (under ``path_prefix``, if given) is answered with this error instead."""
        body = error or {
            "error": {
                "type": "api_error",
                "message": "An unknown error occurred (injected by the fake Stripe).",
            }
        }
        with self.lock:
            self._injected_failures.append((path_prefix, status, body))

    def take_injected_failure(self, path: str) -> tuple[int, JSON] | None:
        with self.lock:
            for i, (prefix, status, body) in enumerate(self._injected_failures):
                if prefix is None or path.startswith(prefix):
                    del self._injected_failures[i]
                    return status, body
        return None

    def hold(self, path_prefix: str, *, method: str = "GET", timeout: float = 30.0) -> Hold:
        """The next API request ``method`` under ``path_prefix`` is answered as usual, but its answer is held
        back until ``hold.release()`` (``hold.arrived`` is set once it is held): a slow Stripe, on demand."""
        hold = Hold(method, path_prefix, timeout)
        with self.lock:
            self._holds.append(hold)
        return hold

    def take_hold(self, method: str, path: str) -> Hold | None:
        with self.lock:
            for i, hold in enumerate(self._holds):
                if hold.matches(method, path):
                    del self._holds[i]
                    return hold
        return None

    # --- lookups and rendering ----------------------------------------------------------------------
    def _table_for(self, ident: str) -> tuple[str, dict[str, JSON]] | None:
        for prefix, kind, table in (
            ("prod_", "product", self.products),
            ("price_", "price", self.prices),
            ("cus_", "customer", self.customers),
            ("cs_", "checkout.session", self.sessions),
            ("sub_", "subscription", self.subscriptions),
            ("si_", "subscription_item", self.items),
            ("in_", "invoice", self.invoices),
            ("ch_", "charge", self.charges),
            ("re_", "refund", self.refunds),
            ("dp_", "dispute", self.disputes),
            ("inpay_", "invoice_payment", self.invoice_payments),
            ("bps_", "billing_portal.session", self.portal_sessions),
            ("bpc_", "billing_portal.configuration", self.portal_configurations),
            ("we_", "webhook_endpoint", self.webhook_endpoints),
            ("di_", "discount", self.discounts),
            ("evt_", "event", self.events),
        ):
            if ident.startswith(prefix):
                return kind, table
        # Products and coupons may carry ids chosen by the caller.
        if ident in self.products:
            return "product", self.products
        if ident in self.coupons:
            return "coupon", self.coupons
        return None

    def get(self, ident: str) -> JSON:
        """The current rendered object for any id the fake holds (raises ``KeyError`` otherwise)."""
        with self.lock:
            found = self._table_for(ident)
            if found is None or ident not in found[1]:
                raise KeyError(ident)
            return self.render(found[1][ident])

    def render(self, stored: JSON) -> JSON:
        kind = stored.get("object")
        if kind == "subscription":
            return self._render_subscription(stored)
        if kind == "subscription_item":
            return self._render_item(stored)
        if kind == "item":
            out = copy.deepcopy(stored)
            out["price"] = self.render(self.prices[stored["price"]])
            return out
        return copy.deepcopy(stored)

    def _plan(self, price: JSON) -> JSON:
        recurring = price.get("recurring") or {}
        return {
            "id": price["id"],
            "object": "plan",
            "active": price["active"],
            "amount": price["unit_amount"],
            "amount_decimal": price["unit_amount_decimal"],
            "billing_scheme": "per_unit",
            "created": price["created"],
            "currency": price["currency"],
            "interval": recurring.get("interval", "month"),
            "interval_count": recurring.get("interval_count", 1),
            "livemode": False,
            "metadata": dict(price["metadata"]),
            "meter": None,
            "nickname": price["nickname"],
            "product": price["product"],
            "tiers_mode": None,
            "transform_usage": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }

    def _render_item(self, stored: JSON) -> JSON:
        out = copy.deepcopy(stored)
        price = self.prices[stored["price"]]
        out["price"] = copy.deepcopy(price)
        out["plan"] = self._plan(price)
        return out

    def _render_subscription(self, stored: JSON) -> JSON:
        out = copy.deepcopy(stored)
        items = [self._render_item(self.items[si]) for si in self._sub_items.get(stored["id"], [])]
        out["items"] = {
            "object": "list",
            "data": items,
            "has_more": False,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={stored['id']}",
        }
        return out

    def ordered(self, table: dict[str, JSON]) -> list[JSON]:
        """Newest first, as Stripe lists."""
        return sorted(table.values(), key=lambda o: (o.get("created", 0), self._seq.get(o["id"], 0)), reverse=True)

    # --- products and prices ------------------------------------------------------------------------
    def create_product(
        self,
        name: str,
        *,
        product_id: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        active: bool = True,
        unit_label: str | None = None,
        url: str | None = None,
        images: list[str] | None = None,
    ) -> JSON:
        with self.lock:
            if product_id is not None and product_id in self.products:
                raise StripeError(
                    400, f"Product already exists: '{product_id}'", code="resource_already_exists", param="id"
                )
            now = self.now()
            product: JSON = {
                "id": product_id or new_id("product"),
                "object": "product",
                "active": active,
                "created": now,
                "default_price": None,
                "description": description,
                "images": list(images or []),
                "livemode": False,
                "marketing_features": [],
                "metadata": dict(metadata or {}),
                "name": name,
                "package_dimensions": None,
                "shippable": None,
                "statement_descriptor": None,
                "tax_code": None,
                "type": "service",
                "unit_label": unit_label,
                "updated": now,
                "url": url,
            }
            self._store(self.products, product)
            self._emit("product.created", product)
            return self.render(product)

    def update_product(self, product_id: str, changes: JSON) -> JSON:
        with self.lock:
            product = self._product(product_id)
            before = copy.deepcopy(product)
            if "default_price" in changes and changes["default_price"] is not None:
                price = self.prices.get(changes["default_price"])
                if price is None or price["product"] != product_id:
                    raise missing("price", changes["default_price"], param="default_price", status=400)
            product.update(changes)
            if product != before:
                product["updated"] = self.now()
                self._emit("product.updated", product, diff(before, product))
            return self.render(product)

    def _product(self, product_id: str, *, param: str = "id", status: int = 404) -> JSON:
        product = self.products.get(product_id)
        if product is None:
            raise missing("product", product_id, param=param, status=status)
        return product

    def create_price(
        self,
        *,
        product: str,
        currency: str,
        unit_amount: int,
        interval: str | None = None,
        interval_count: int = 1,
        lookup_key: str | None = None,
        transfer_lookup_key: bool = False,
        nickname: str | None = None,
        metadata: dict[str, str] | None = None,
        active: bool = True,
        tax_behavior: str = "unspecified",
    ) -> JSON:
        with self.lock:
            self._product(product, param="product", status=400)
            self._claim_lookup_key(lookup_key, transfer_lookup_key, None)
            price: JSON = {
                "id": new_id("price"),
                "object": "price",
                "active": active,
                "billing_scheme": "per_unit",
                "created": self.now(),
                "currency": currency.lower(),
                "custom_unit_amount": None,
                "livemode": False,
                "lookup_key": lookup_key,
                "metadata": dict(metadata or {}),
                "nickname": nickname,
                "product": product,
                "recurring": None
                if interval is None
                else {
                    "interval": interval,
                    "interval_count": interval_count,
                    "meter": None,
                    "trial_period_days": None,
                    "usage_type": "licensed",
                },
                "tax_behavior": tax_behavior,
                "tiers_mode": None,
                "transform_quantity": None,
                "type": "one_time" if interval is None else "recurring",
                "unit_amount": unit_amount,
                "unit_amount_decimal": str(unit_amount),
            }
            self._store(self.prices, price)
            self._emit("price.created", price)
            return self.render(price)

    def _claim_lookup_key(self, lookup_key: str | None, transfer: bool, owner: str | None) -> None:
        if lookup_key is None:
            return
        for other in self.prices.values():
            if other["lookup_key"] == lookup_key and other["id"] != owner:
                if not transfer:
                    raise StripeError(
                        400,
                        f"A price (`{other['id']}`) already uses that lookup key.",
                        param="lookup_key",
                    )
                before = copy.deepcopy(other)
                other["lookup_key"] = None
                self._emit("price.updated", other, diff(before, other))

    def update_price(self, price_id: str, changes: JSON, *, transfer_lookup_key: bool = False) -> JSON:
        with self.lock:
            price = self._price(price_id)
            if "lookup_key" in changes:
                self._claim_lookup_key(changes["lookup_key"], transfer_lookup_key, price_id)
            before = copy.deepcopy(price)
            price.update(changes)
            if price != before:
                self._emit("price.updated", price, diff(before, price))
            return self.render(price)

    def _price(self, price_id: str, *, param: str = "id", status: int = 404) -> JSON:
        price = self.prices.get(price_id)
        if price is None:
            raise missing("price", price_id, param=param, status=status)
        return price

    # --- customers ------------------------------------------------------------------------------------
    def create_customer(
        self,
        *,
        email: str | None = None,
        name: str | None = None,
        description: str | None = None,
        phone: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> JSON:
        with self.lock:
            customer: JSON = {
                "id": new_id("customer"),
                "object": "customer",
                "address": None,
                "balance": 0,
                "created": self.now(),
                "currency": None,
                "default_source": None,
                "delinquent": False,
                "description": description,
                "discount": None,
                "email": email,
                "invoice_prefix": random_token(8).upper(),
                "invoice_settings": {
                    "custom_fields": None,
                    "default_payment_method": None,
                    "footer": None,
                    "rendering_options": None,
                },
                "livemode": False,
                "metadata": dict(metadata or {}),
                "name": name,
                "next_invoice_sequence": 1,
                "phone": phone,
                "preferred_locales": [],
                "shipping": None,
                "tax_exempt": "none",
                "test_clock": None,
            }
            self._store(self.customers, customer)
            self._emit("customer.created", customer)
            return self.render(customer)

    def update_customer(self, customer_id: str, changes: JSON) -> JSON:
        with self.lock:
            customer = self._customer(customer_id)
            before = copy.deepcopy(customer)
            customer.update(changes)
            if customer != before:
                self._emit("customer.updated", customer, diff(before, customer))
            return self.render(customer)

    def delete_customer(self, customer_id: str) -> JSON:
        with self.lock:
            customer = self._customer(customer_id)
            for sub in self.subscriptions.values():
                if sub["customer"] == customer_id and sub["status"] not in ("canceled", "incomplete_expired"):
                    self._end_subscription(sub, self.now(), reason="cancellation_requested")
            del self.customers[customer_id]
            self._emit("customer.deleted", customer)
            return {"id": customer_id, "object": "customer", "deleted": True}

    def _customer(self, customer_id: str, *, param: str = "id", status: int = 404) -> JSON:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise missing("customer", customer_id, param=param, status=status)
        return customer

    # --- checkout sessions ----------------------------------------------------------------------------
    def create_checkout_session(
        self,
        *,
        line_items: list[tuple[str, int]],
        success_url: str,
        cancel_url: str | None,
        customer: str | None = None,
        customer_email: str | None = None,
        client_reference_id: str | None = None,
        metadata: dict[str, str] | None = None,
        subscription_metadata: dict[str, str] | None = None,
        mode: str = "subscription",
        locale: str | None = None,
        allow_promotion_codes: bool | None = None,
        automatic_tax: bool = False,
        billing_address_collection: str | None = None,
        expires_at: int | None = None,
    ) -> JSON:
        with self.lock:
            if customer is not None:
                self._customer(customer, param="customer", status=400)
            now = self.now()
            session_id = new_id("checkout.session")
            items: list[JSON] = []
            currency: str | None = None
            total = 0
            for index, (price_id, quantity) in enumerate(line_items):
                price = self._price(price_id, param=f"line_items[{index}][price]", status=400)
                if not price["active"]:
                    raise StripeError(
                        400,
                        f"The price specified is inactive. This field only accepts active prices. ({price_id})",
                        param=f"line_items[{index}][price]",
                    )
                if mode == "subscription" and price["type"] != "recurring":
                    raise StripeError(
                        400,
                        "You must specify at least one recurring price in `subscription` mode when using prices.",
                        param=f"line_items[{index}][price]",
                    )
                if currency is not None and price["currency"] != currency:
                    raise StripeError(400, "All prices must use the same currency.", param="line_items")
                currency = price["currency"]
                amount = price["unit_amount"] * quantity
                total += amount
                items.append(
                    {
                        "id": new_id("item"),
                        "object": "item",
                        "adjustable_quantity": None,
                        "amount_discount": 0,
                        "amount_subtotal": amount,
                        "amount_tax": 0,
                        "amount_total": amount,
                        "currency": price["currency"],
                        "description": self.products[price["product"]]["name"],
                        "metadata": {},
                        "price": price_id,
                        "quantity": quantity,
                    }
                )
            session: JSON = {
                "id": session_id,
                "object": "checkout.session",
                "adaptive_pricing": {"enabled": False},
                "after_expiration": None,
                "allow_promotion_codes": allow_promotion_codes,
                "amount_subtotal": total,
                "amount_total": total,
                "automatic_tax": (
                    {
                        "enabled": True,
                        "liability": {"type": "self"},
                        "provider": "stripe",
                        "status": "requires_location_inputs",
                    }
                    if automatic_tax
                    else {"enabled": False, "liability": None, "provider": None, "status": None}
                ),
                "billing_address_collection": billing_address_collection,
                "cancel_url": cancel_url,
                "client_reference_id": client_reference_id,
                "client_secret": None,
                "collected_information": None,
                "consent": None,
                "consent_collection": None,
                "created": now,
                "currency": currency,
                "currency_conversion": None,
                "custom_fields": [],
                "custom_text": {
                    "after_submit": None,
                    "shipping_address": None,
                    "submit": None,
                    "terms_of_service_acceptance": None,
                },
                "customer": customer,
                "customer_account": None,
                "customer_creation": None if mode == "subscription" else "if_required",
                "customer_details": None,
                "customer_email": customer_email,
                "discounts": [],
                "expires_at": expires_at or now + CHECKOUT_LIFETIME,
                "integration_identifier": None,
                "invoice": None,
                "invoice_creation": None,
                "livemode": False,
                "locale": locale,
                "managed_payments": None,
                "metadata": dict(metadata or {}),
                "mode": mode,
                "origin_context": None,
                "payment_intent": None,
                "payment_link": None,
                "payment_method_collection": "always",
                "payment_method_configuration_details": None,
                "payment_method_options": {},
                "payment_method_types": ["card", "sepa_debit"],
                "payment_status": "unpaid",
                "permissions": None,
                "phone_number_collection": {"enabled": False},
                "recovered_from": None,
                "saved_payment_method_options": {
                    "allow_redisplay_filters": ["always"],
                    "payment_method_remove": None,
                    "payment_method_save": None,
                },
                "setup_intent": None,
                "shipping_address_collection": None,
                "shipping_cost": None,
                "shipping_options": [],
                "status": "open",
                "submit_type": None,
                "subscription": None,
                "success_url": success_url,
                "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
                "ui_mode": "hosted",
                "url": f"{self.base_url}/c/pay/{session_id}",
                "wallet_options": None,
            }
            self._store(self.sessions, session)
            self._session_items[session_id] = items
            self._session_sub_metadata[session_id] = dict(subscription_metadata or {})
            return self.render(session)

    def session_line_items(self, session_id: str) -> list[JSON]:
        with self.lock:
            self._session(session_id)
            return [self.render(item) for item in self._session_items[session_id]]

    def _session(self, session_id: str, *, param: str = "session") -> JSON:
        session = self.sessions.get(session_id)
        if session is None:
            raise missing("checkout.session", session_id, param=param)
        return session

    def expire_session(self, session_id: str) -> JSON:
        with self.lock:
            session = self._session(session_id)
            if session["status"] != "open":
                raise StripeError(
                    400,
                    f'Only Checkout Sessions with a status in ["open"] can be expired. '
                    f'This Checkout Session has a status of "{session["status"]}".',
                )
            session["status"] = "expired"
            session["url"] = None
            self._emit("checkout.session.expired", session)
            return self.render(session)

    def success_redirect(self, session_id: str) -> str:
        with self.lock:
            session = self._session(session_id)
            return str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)

    def pay_checkout(
        self,
        session_id: str,
        *,
        card: str = CARD_OK,
        email: str | None = None,
        name: str | None = None,
        iban: str | None = None,
        authenticated: bool | None = None,
    ) -> JSON:
        """What the hosted page does on "Subscribe": pay with a test card (or a SEPA test IBAN).

        A 3-D Secure card (``CARD_3DS``, ``CARD_3DS_ALWAYS``) raises ``AuthenticationRequired`` until the
        holder answers the challenge (``authenticated``): True pays as any card, False declines it
        (``payment_intent_authentication_failure``, the session stays open).

        A declined card raises ``PaymentDeclined`` and changes nothing. A paid card creates the customer
        (unless the session has one), the subscription, its first invoice (paid), completes the session
        and emits the events in Stripe's order. A SEPA IBAN completes the session unpaid (async payment);
        ``settle_async_payment`` later succeeds or fails it. Returns the rendered session.
        """
        with self.lock:
            session = self._session(session_id)
            if session["status"] != "open":
                raise StripeError(400, f"This Checkout Session is no longer active (status {session['status']}).")
            asynchronous = iban is not None
            if asynchronous:
                assert iban is not None
                compact = iban.replace(" ", "").upper()
                if compact not in (IBAN_SUCCEEDS, IBAN_FAILS):
                    raise PaymentDeclined("invalid_bank_account_iban", "Your IBAN is invalid.")
                async_ok = compact == IBAN_SUCCEEDS
            else:
                digits = "".join(ch for ch in card if ch.isdigit())
                if len(digits) < 15:
                    raise PaymentDeclined("incomplete_number", "Your card number is incomplete.")
                if not luhn_ok(digits):
                    raise PaymentDeclined("invalid_number", "Your card number is invalid.")
                if digits in DECLINES:
                    raise PaymentDeclined(*DECLINES[digits])
                if digits != CARD_OK and digits not in OTHER_OK_CARDS and digits not in AUTHENTICATION_CARDS:
                    raise PaymentDeclined("generic_decline", "Your card was declined.")
                if digits in AUTHENTICATION_CARDS and authenticated is None:
                    raise AuthenticationRequired(
                        "authentication_required", "Your bank asks you to confirm this payment."
                    )
                if digits in AUTHENTICATION_CARDS and not authenticated:
                    raise PaymentDeclined(
                        "payment_intent_authentication_failure",
                        "We are unable to authenticate your payment method. Please choose a different payment "
                        "method and try again.",
                    )
            now = self.now()
            email = session["customer_email"] or email  # the page shows a session's e-mail read-only
            if session["customer"] is not None:
                customer = self.customers[session["customer"]]
            else:
                if not email:
                    raise PaymentDeclined("email_invalid", "Your email is incomplete.")
                customer = self.customers[self.create_customer(email=email, name=name)["id"]]
            if customer.get("currency") is None:
                customer["currency"] = session["currency"]
            session_items = self._session_items[session_id]
            sub = self._create_subscription(
                customer["id"],
                [(item["price"], item["quantity"]) for item in session_items],
                metadata=self._session_sub_metadata.get(session_id, {}),
                at=now,
            )
            if not asynchronous and "".join(ch for ch in card if ch.isdigit()) == CARD_3DS_ALWAYS:
                self._always_authenticate.add(sub["id"])
            invoice = self._new_invoice(sub, "subscription_create", self._period_lines(sub), now, now)
            self._emit("customer.subscription.created", self.render(sub))  # with its latest_invoice, as Stripe's
            self._emit("invoice.created", invoice)
            self._finalize(invoice)
            session["customer"] = customer["id"]
            session["subscription"] = sub["id"]
            session["status"] = "complete"
            session["url"] = None
            session["customer_details"] = {
                "address": {
                    "city": None,
                    "country": "US",
                    "line1": None,
                    "line2": None,
                    "postal_code": None,
                    "state": None,
                },
                "business_name": None,
                "email": customer["email"],
                "individual_name": None,
                "name": name or customer["name"],
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
            }
            session["collected_information"] = {
                "business_name": None,
                "individual_name": None,
                "shipping_details": None,
            }
            if asynchronous:
                self._async_outcome[session_id] = async_ok
                session["payment_method_types"] = ["sepa_debit"]
                self._emit("checkout.session.completed", session)
            else:
                self._pay(invoice, sub)
                session["payment_status"] = "paid"
                self._emit("checkout.session.completed", session)
            return self.render(session)

    def settle_async_payment(self, session_id: str, *, succeed: bool | None = None) -> JSON:
        """The SEPA debit of an async checkout clears (``checkout.session.async_payment_succeeded``) or
        fails (``..._failed``). ``succeed`` defaults to what the IBAN entered on the page implies."""
        with self.lock:
            session = self._session(session_id)
            if session_id not in self._async_outcome:
                raise StripeError(400, f"Checkout Session {session_id} has no pending async payment.")
            outcome = self._async_outcome.pop(session_id) if succeed is None else succeed
            self._async_outcome.pop(session_id, None)
            sub = self.subscriptions[session["subscription"]]
            invoice = self.invoices[sub["latest_invoice"]]
            if outcome:
                self._pay(invoice, sub)
                session["payment_status"] = "paid"
                self._emit("checkout.session.async_payment_succeeded", session)
            else:
                self._fail_payment(invoice, sub)
                self._emit("checkout.session.async_payment_failed", session)
            return self.render(session)

    # --- subscriptions ---------------------------------------------------------------------------------
    def _create_subscription(
        self, customer_id: str, lines: list[tuple[str, int]], *, metadata: dict[str, str], at: int
    ) -> JSON:
        sub_id = new_id("subscription")
        first_price = self.prices[lines[0][0]]
        recurring = first_price["recurring"]
        end = period_end(at, at, recurring["interval"], recurring["interval_count"])
        sub: JSON = {
            "id": sub_id,
            "object": "subscription",
            "application": None,
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": at,
            "billing_cycle_anchor_config": None,
            "billing_mode": {"flexible": None, "type": "classic", "updated_at": None},
            "billing_schedules": [],
            "billing_thresholds": None,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": at,
            "currency": first_price["currency"],
            "customer": customer_id,
            "customer_account": None,
            "days_until_due": None,
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": [],
            "ended_at": None,
            "invoice_settings": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": {"type": "self"},
            },
            "latest_invoice": None,
            "livemode": False,
            "managed_payments": None,
            "metadata": dict(metadata),
            "next_pending_invoice_item_invoice": None,
            "on_behalf_of": None,
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": None,
            "pending_setup_intent": None,
            "pending_update": None,
            "presentment_details": None,
            "schedule": None,
            "start_date": at,
            "status": "incomplete",
            "test_clock": None,
            "transfer_data": None,
            "trial_end": None,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": None,
        }
        self._store(self.subscriptions, sub)
        self._sub_items[sub_id] = []
        for price_id, quantity in lines:
            self._add_item(sub, price_id, quantity, at, end)
        return sub

    def _add_item(self, sub: JSON, price_id: str, quantity: int, start: int, end: int) -> JSON:
        item: JSON = {
            "id": new_id("subscription_item"),
            "object": "subscription_item",
            "billing_thresholds": None,
            "created": self.now(),
            "current_period_end": end,
            "current_period_start": start,
            "discounts": [],
            "metadata": {},
            "price": price_id,
            "quantity": quantity,
            "subscription": sub["id"],
            "tax_rates": [],
        }
        self._store(self.items, item)
        self._sub_items[sub["id"]].append(item["id"])
        return item

    def _sub_item_rows(self, sub: JSON) -> list[JSON]:
        return [self.items[si] for si in self._sub_items.get(sub["id"], [])]

    def _subscription(self, sub_id: str, *, param: str = "id") -> JSON:
        sub = self.subscriptions.get(sub_id)
        if sub is None:
            raise missing("subscription", sub_id, param=param)
        return sub

    def _period(self, sub: JSON) -> tuple[int, int]:
        first = self._sub_item_rows(sub)[0]
        return int(first["current_period_start"]), int(first["current_period_end"])

    def _set_period(self, sub: JSON, start: int, end: int) -> None:
        for item in self._sub_item_rows(sub):
            item["current_period_start"] = start
            item["current_period_end"] = end

    def _interval(self, sub: JSON) -> tuple[str, int]:
        price = self.prices[self._sub_item_rows(sub)[0]["price"]]
        return price["recurring"]["interval"], price["recurring"]["interval_count"]

    def update_subscription(
        self,
        sub_id: str,
        *,
        items: list[JSON] | None = None,
        cancel_at_period_end: bool | None = None,
        cancel_at: int | Literal["clear"] | None = None,
        proration_behavior: str = "create_prorations",
        metadata: dict[str, str] | None = None,
        description: str | None = None,
        billing_cycle_anchor: str | None = None,
        pause_collection: JSON | Literal["clear"] | None = None,
    ) -> JSON:
        """Stripe's subscription update: items (``{"id", "price", "quantity", "deleted"}``; an item without
        ``id`` is added), cancellation at period end, metadata. Emits ``customer.subscription.updated``
        and, when the change is invoiced now, the invoice's events (billing reason ``subscription_update``)."""
        with self.lock:
            sub = self._subscription(sub_id)
            ended = sub["status"] in ("canceled", "incomplete_expired")
            if ended and (items or cancel_at_period_end is not None or cancel_at is not None):
                raise StripeError(400, "A canceled subscription can only update its cancellation_details and metadata.")
            before = self.render(sub)
            now = self.now()
            old_rows = [(row["id"], row["price"], row["quantity"]) for row in self._sub_item_rows(sub)]
            old_interval = self._interval(sub)
            start, end = self._period(sub)
            for index, change in enumerate(items or []):
                self._apply_item_change(sub, index, change, start, end)
            if not self._sub_items[sub_id]:
                raise StripeError(400, "A subscription must have at least one active plan.", param="items")
            if metadata is not None:
                sub["metadata"] = metadata
            if description is not None:
                sub["description"] = description or None
            if pause_collection == "clear":
                sub["pause_collection"] = None
            elif pause_collection is not None:
                if ended:
                    raise StripeError(400, "A canceled subscription cannot pause collection.")
                sub["pause_collection"] = {
                    "behavior": pause_collection["behavior"],
                    "resumes_at": pause_collection.get("resumes_at"),
                }
            if cancel_at_period_end is not None:
                sub["cancel_at_period_end"] = cancel_at_period_end
                sub["cancel_at"] = end if cancel_at_period_end else None
                sub["canceled_at"] = now if cancel_at_period_end else None
                sub["cancellation_details"]["reason"] = "cancellation_requested" if cancel_at_period_end else None
            if cancel_at is not None:
                if cancel_at == "clear":
                    sub["cancel_at"] = None
                    sub["canceled_at"] = None
                    sub["cancel_at_period_end"] = False
                    sub["cancellation_details"]["reason"] = None
                else:
                    sub["cancel_at"] = cancel_at
                    sub["canceled_at"] = now
                    sub["cancel_at_period_end"] = cancel_at == end
                    sub["cancellation_details"]["reason"] = "cancellation_requested"
            new_rows = [(row["id"], row["price"], row["quantity"]) for row in self._sub_item_rows(sub)]
            invoice: JSON | None = None
            if new_rows != old_rows:
                new_interval = self._interval(sub)
                if new_interval != old_interval or billing_cycle_anchor == "now":
                    # Stripe resets the cycle when the interval changes, and invoices at once.
                    credit = self._proration_lines(sub, old_rows, now, start, end, sign=-1)
                    sub["billing_cycle_anchor"] = now
                    new_end = period_end(now, now, *new_interval)
                    self._set_period(sub, now, new_end)
                    lines = ([] if proration_behavior == "none" else credit) + self._period_lines(sub)
                    invoice = self._new_invoice(sub, "subscription_update", lines, now, now)
                elif proration_behavior != "none":
                    lines = self._proration_lines(sub, old_rows, now, start, end, sign=-1)
                    lines += self._proration_lines(sub, new_rows, now, start, end, sign=1)
                    if proration_behavior == "always_invoice":
                        invoice = self._new_invoice(sub, "subscription_update", lines, now, now)
                    else:
                        self._pending_prorations.setdefault(sub_id, []).extend(lines)
            after = self.render(sub)
            if after != before:
                self._emit("customer.subscription.updated", after, diff(before, after))
            if invoice is not None:
                self._emit("invoice.created", invoice)
                self._finalize(invoice)
                self._charge(invoice, sub)
            return self.render(sub)

    def _apply_item_change(self, sub: JSON, index: int, change: JSON, start: int, end: int) -> None:
        param = f"items[{index}]"
        item_id = change.get("id")
        price_id = change.get("price")
        quantity = change.get("quantity")
        if price_id is not None:
            price = self._price(price_id, param=f"{param}[price]", status=400)
            if price["type"] != "recurring":
                raise StripeError(400, "The price specified is not recurring.", param=f"{param}[price]")
            if price["currency"] != sub["currency"]:
                raise StripeError(400, "All prices on a subscription must use the same currency.", param=param)
        if item_id is not None:
            item = self.items.get(item_id)
            if item is None or item["subscription"] != sub["id"] or item_id not in self._sub_items[sub["id"]]:
                raise missing("subscription_item", item_id, param=f"{param}[id]", status=400)
            if change.get("deleted"):
                self._sub_items[sub["id"]].remove(item_id)
                return
            if price_id is not None:
                item["price"] = price_id
            if quantity is not None:
                item["quantity"] = quantity
            return
        if price_id is None:
            raise StripeError(400, f"You must provide either a price or an existing item id for {param}.", param=param)
        if any(self.items[si]["price"] == price_id for si in self._sub_items[sub["id"]]):
            raise StripeError(
                400,
                f"Cannot add multiple subscription items with the same price: {price_id}. To change the quantity "
                f"or price of an existing item, pass its id as {param}[id].",
                param=f"{param}[price]",
            )
        self._add_item(sub, price_id, 1 if quantity is None else quantity, start, end)

    def _proration_lines(
        self, sub: JSON, rows: list[tuple[str, str, int]], at: int, start: int, end: int, *, sign: int
    ) -> list[JSON]:
        fraction = max(0.0, min(1.0, (end - at) / max(1, end - start)))
        lines = []
        for item_id, price_id, quantity in rows:
            price = self.prices[price_id]
            amount = sign * round(price["unit_amount"] * quantity * fraction)
            product = self.products[price["product"]]["name"]
            when = datetime.fromtimestamp(at, UTC).strftime("%d %b %Y")
            text = "Unused time on" if sign < 0 else "Remaining time on"
            lines.append(
                self._line(
                    sub,
                    item_id,
                    price,
                    quantity,
                    amount,
                    f"{text} {quantity} × {product} after {when}",
                    at,
                    end,
                    proration=True,
                )
            )
        return lines

    def _period_lines(self, sub: JSON) -> list[JSON]:
        start, end = self._period(sub)
        lines = []
        for item in self._sub_item_rows(sub):
            price = self.prices[item["price"]]
            product = self.products[price["product"]]["name"]
            unit = price["unit_amount"] / 100
            every = price["recurring"]["interval"]
            lines.append(
                self._line(
                    sub,
                    item["id"],
                    price,
                    item["quantity"],
                    price["unit_amount"] * item["quantity"],
                    f"{item['quantity']} × {product} (at ${unit:,.2f} / {every})",
                    start,
                    end,
                    proration=False,
                )
            )
        return lines

    def _line(
        self,
        sub: JSON,
        item_id: str,
        price: JSON,
        quantity: int,
        amount: int,
        description: str,
        start: int,
        end: int,
        *,
        proration: bool,
    ) -> JSON:
        return {
            "id": new_id("line_item"),
            "object": "line_item",
            "amount": amount,
            "currency": price["currency"],
            "description": description,
            "discount_amounts": [],
            "discountable": True,
            "discounts": [],
            "invoice": None,
            "livemode": False,
            "metadata": {},
            "parent": {
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": proration,
                    "proration_details": {"credited_items": None},
                    "subscription": sub["id"],
                    "subscription_item": item_id,
                },
                "type": "subscription_item_details",
            },
            "period": {"end": end, "start": start},
            "pretax_credit_amounts": [],
            "pricing": {
                "price_details": {"price": price["id"], "product": price["product"]},
                "type": "price_details",
                "unit_amount_decimal": price["unit_amount_decimal"],
            },
            "quantity": quantity,
            "quantity_decimal": str(quantity),
            "subscription": sub["id"],
            "subtotal": amount,
            "taxes": [],
        }

    # --- coupons and discounts --------------------------------------------------------------------------------
    def create_coupon(
        self,
        *,
        percent_off: float | None = None,
        amount_off: int | None = None,
        currency: str | None = None,
        duration: Literal["forever", "once", "repeating"] = "forever",
        duration_in_months: int | None = None,
        name: str | None = None,
        coupon_id: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> JSON:
        """A coupon the operator makes in the dashboard (``POST /v1/coupons``): ``percent_off`` (0-100] or
        ``amount_off`` (minor units, with ``currency``), for one invoice, some months, or forever."""
        with self.lock:
            if (percent_off is None) == (amount_off is None):
                raise StripeError(400, "You must pass exactly one of percent_off or amount_off.", param="percent_off")
            if percent_off is not None and not 0 < percent_off <= 100:
                raise StripeError(400, "percent_off must be greater than 0 and at most 100.", param="percent_off")
            if amount_off is not None and (amount_off <= 0 or currency is None):
                raise StripeError(400, "amount_off needs a positive amount and a currency.", param="amount_off")
            if (duration == "repeating") != (duration_in_months is not None):
                raise StripeError(400, "duration_in_months goes with duration=repeating.", param="duration_in_months")
            ident = coupon_id or random_token(8)
            if ident in self.coupons:
                raise StripeError(400, "Coupon already exists.", code="resource_already_exists", param="id")
            coupon: JSON = {
                "id": ident,
                "object": "coupon",
                "amount_off": amount_off,
                "created": self.now(),
                "currency": currency.lower() if currency else None,
                "duration": duration,
                "duration_in_months": duration_in_months,
                "livemode": False,
                "max_redemptions": None,
                "metadata": dict(metadata or {}),
                "name": name,
                "percent_off": percent_off,
                "redeem_by": None,
                "times_redeemed": 0,
                "valid": True,
            }
            self._store(self.coupons, coupon)
            self._emit("coupon.created", coupon)
            return self.render(coupon)

    def apply_coupon(self, sub_id: str, coupon_id: str) -> JSON:
        """The operator puts a coupon on a subscription (``POST /v1/subscriptions/{id}`` with
        ``discounts[0][coupon]``): a ``discount`` object, applied to the subscription's next invoices
        while it lasts. Emits ``customer.subscription.updated``; returns the rendered subscription."""
        with self.lock:
            sub = self._subscription(sub_id)
            coupon = self.coupons.get(coupon_id)
            if coupon is None:
                raise missing("coupon", coupon_id, param="discounts[0][coupon]", status=400)
            if sub["status"] in ("canceled", "incomplete_expired"):
                raise StripeError(400, "A canceled subscription can only update its cancellation_details and metadata.")
            now = self.now()
            months = coupon["duration_in_months"]
            discount: JSON = {
                "id": new_id("discount"),
                "object": "discount",
                "checkout_session": None,
                "customer": sub["customer"],
                "customer_account": None,
                "end": shift_months(now, months) if coupon["duration"] == "repeating" else None,
                "invoice": None,
                "invoice_item": None,
                "promotion_code": None,
                "source": {"coupon": coupon["id"], "type": "coupon"},
                "start": now,
                "subscription": sub_id,
                "subscription_item": None,
            }
            self._store(self.discounts, discount)
            coupon["times_redeemed"] += 1
            before = self.render(sub)
            sub["discounts"] = [*sub["discounts"], discount["id"]]
            after = self.render(sub)
            self._emit("customer.subscription.updated", after, diff(before, after))
            return after

    def _discount_lines(self, sub: JSON, lines: list[JSON]) -> list[JSON]:
        """Apply the subscription's running discounts to ``lines`` (each line's ``discount_amounts``) and
        return the invoice's ``total_discount_amounts``; a ``once`` discount is used up by this invoice."""
        now = self.now()
        totals: list[JSON] = []
        for discount_id in list(sub.get("discounts") or []):
            discount = self.discounts.get(discount_id)
            if discount is None or (discount["end"] is not None and discount["end"] <= now):
                continue
            coupon = self.coupons[discount["source"]["coupon"]]
            left = coupon["amount_off"]
            total = 0
            for line in lines:
                if not line["discountable"]:
                    continue
                already = sum(d["amount"] for d in line["discount_amounts"])
                if coupon["percent_off"] is not None:
                    amount = round((line["amount"] - already) * coupon["percent_off"] / 100)
                else:
                    amount = max(0, min(left, line["amount"] - already))
                    left -= amount
                if amount:
                    line["discount_amounts"].append({"amount": amount, "discount": discount_id})
                    line["discounts"].append(discount_id)
                    total += amount
            totals.append({"amount": total, "discount": discount_id})
            if coupon["duration"] == "once":
                sub["discounts"] = [d for d in sub["discounts"] if d != discount_id]
                discount["end"] = now
        return totals

    # --- invoices ------------------------------------------------------------------------------------------
    def _new_invoice(self, sub: JSON, reason: str, lines: list[JSON], period_start: int, period_end_: int) -> JSON:
        now = self.now()
        customer = self.customers.get(sub["customer"], {})
        invoice_id = new_id("invoice")
        for line in lines:
            line["invoice"] = invoice_id
        subtotal = sum(line["amount"] for line in lines)
        discount_amounts = self._discount_lines(sub, lines)
        total = subtotal - sum(d["amount"] for d in discount_amounts)
        invoice: JSON = {
            "id": invoice_id,
            "object": "invoice",
            "account_country": "US",
            "account_name": self.account_name,
            "account_tax_ids": None,
            "amount_due": max(total, 0),
            "amount_overpaid": 0,
            "amount_paid": 0,
            "amount_remaining": max(total, 0),
            "amount_shipping": 0,
            "application": None,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": True,
            "automatic_tax": {
                "disabled_reason": None,
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "automatically_finalizes_at": None,
            "billing_reason": reason,
            "collection_method": "charge_automatically",
            "created": now,
            "currency": sub["currency"],
            "custom_fields": None,
            "customer": sub["customer"],
            "customer_account": None,
            "customer_address": None,
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
            "customer_phone": None,
            "customer_shipping": None,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discounts": [d["discount"] for d in discount_amounts],
            "due_date": None,
            "effective_at": None,
            "ending_balance": None,
            "footer": None,
            "from_invoice": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "issuer": {"type": "self"},
            "last_finalization_error": None,
            "latest_revision": None,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "number": None,
            "on_behalf_of": None,
            "parent": {
                "quote_details": None,
                "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
                "type": "subscription_details",
            },
            "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
            "period_end": period_end_,
            "period_start": period_start,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": None,
            "rendering": None,
            "shipping_cost": None,
            "shipping_details": None,
            "starting_balance": 0,
            "statement_descriptor": None,
            "status": "draft",
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subscription": None,
            "subtotal": subtotal,
            "subtotal_excluding_tax": subtotal,
            "test_clock": None,
            "total": total,
            "total_discount_amounts": discount_amounts,
            "total_excluding_tax": total,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": None,
        }
        self._store(self.invoices, invoice)
        sub["latest_invoice"] = invoice_id
        return invoice

    def _finalize(self, invoice: JSON) -> None:
        now = self.now()
        customer = self.customers.get(invoice["customer"])
        if customer is not None:
            sequence = customer["next_invoice_sequence"]
            customer["next_invoice_sequence"] = sequence + 1
            invoice["number"] = f"{customer['invoice_prefix']}-{sequence:04d}"
        invoice["status"] = "open"
        invoice["hosted_invoice_url"] = f"{self.base_url}/i/{invoice['id']}"
        invoice["invoice_pdf"] = f"{self.base_url}/i/{invoice['id']}/pdf"
        invoice["effective_at"] = now
        invoice["webhooks_delivered_at"] = now
        invoice["status_transitions"]["finalized_at"] = now
        invoice["ending_balance"] = 0
        self._emit("invoice.finalized", invoice)

    def _charge(self, invoice: JSON, sub: JSON) -> None:
        if invoice["amount_due"] == 0:
            self._pay(invoice, sub)
        elif self._fail_renewals.get(sub["id"], 0) > 0:
            self._fail_renewals[sub["id"]] -= 1
            self._fail_payment(invoice, sub)
        elif self._action_renewals.get(sub["id"], 0) > 0:
            self._action_renewals[sub["id"]] -= 1
            self._require_action(invoice, sub)
        elif sub["id"] in self._always_authenticate:  # paid with CARD_3DS_ALWAYS
            self._require_action(invoice, sub)
        else:
            self._pay(invoice, sub)

    def _pay(self, invoice: JSON, sub: JSON) -> None:
        now = self.now()
        self._awaiting_action.discard(invoice["id"])
        invoice["status"] = "paid"
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
        invoice["amount_paid"] = invoice["amount_due"]
        invoice["amount_remaining"] = 0
        invoice["next_payment_attempt"] = None
        invoice["status_transitions"]["paid_at"] = now
        invoice["auto_advance"] = False
        if invoice["amount_paid"] > 0:
            self._new_charge(invoice)
        self._emit("invoice.paid", invoice)
        self._emit("invoice.payment_succeeded", invoice)
        if sub["status"] in ("incomplete", "past_due", "unpaid") and sub["latest_invoice"] == invoice["id"]:
            still_open = any(
                inv["status"] == "open" and inv["parent"]["subscription_details"]["subscription"] == sub["id"]
                for inv in self.invoices.values()
            )
            if not still_open:
                before = self.render(sub)
                sub["status"] = "active"
                after = self.render(sub)
                self._emit("customer.subscription.updated", after, diff(before, after))

    # --- money: charges, refunds, disputes ---------------------------------------------------------------
    def _new_charge(self, invoice: JSON) -> JSON:
        """The charge that paid ``invoice`` (card 4242), behind a payment intent, and the invoice's
        ``invoice_payment`` naming that payment intent: as Stripe's API (basil) links them, a charge does
        not name its invoice; ``GET /v1/invoice_payments?payment[payment_intent]=...`` finds it."""
        now = self.now()
        charge_id, intent_id = new_id("charge"), new_id("payment_intent")
        customer = self.customers.get(invoice["customer"], {})
        amount = invoice["amount_paid"]
        charge: JSON = {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": None,
            "billing_details": {
                "address": {
                    "city": None,
                    "country": None,
                    "line1": None,
                    "line2": None,
                    "postal_code": None,
                    "state": None,
                },
                "email": customer.get("email"),
                "name": customer.get("name"),
                "phone": None,
                "tax_id": None,
            },
            "calculated_statement_descriptor": "FAKE STRIPE",
            "captured": True,
            "created": now,
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "description": "Subscription update" if invoice["billing_reason"] != "subscription_create" else None,
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "fraud_details": {},
            "livemode": False,
            "metadata": {},
            "on_behalf_of": None,
            "outcome": {
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            "paid": True,
            "payment_intent": intent_id,
            "payment_method": "pm_card_visa",
            "payment_method_details": {
                "card": {
                    "amount_authorized": amount,
                    "brand": "visa",
                    "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
                    "country": "US",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "extended_authorization": {"status": "disabled"},
                    "fingerprint": "FakeStripe4242",
                    "funding": "credit",
                    "incremental_authorization": {"status": "unavailable"},
                    "installments": None,
                    "last4": "4242",
                    "mandate": None,
                    "multicapture": {"status": "unavailable"},
                    "network": "visa",
                    "network_token": {"used": False},
                    "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
                    "three_d_secure": None,
                    "wallet": None,
                    "authorization_code": None,
                    "regulated_status": "unregulated",
                    "network_transaction_id": None,
                    "transaction_link_id": None,
                },
                "type": "card",
            },
            "receipt_email": customer.get("email"),
            "receipt_number": None,
            "receipt_url": f"{self.base_url}/receipts/{charge_id}",
            "refunded": False,
            "refunds": {"object": "list", "data": [], "has_more": False, "url": f"/v1/charges/{charge_id}/refunds"},
            "review": None,
            "shipping": None,
            "source": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "succeeded",
            "transfer_data": None,
            "transfer_group": None,
        }
        self._store(self.charges, charge)
        self._store(
            self.invoice_payments,
            {
                "id": new_id("invoice_payment"),
                "object": "invoice_payment",
                "amount_paid": amount,
                "amount_requested": amount,
                "created": now,
                "currency": invoice["currency"],
                "invoice": invoice["id"],
                "is_default": True,
                "livemode": False,
                "payment": {"type": "payment_intent", "payment_intent": intent_id},
                "status": "paid",
                "status_transitions": {"canceled_at": None, "paid_at": now},
            },
        )
        # Stripe also emits charge.succeeded and payment_intent.succeeded here; the fake does not (yet): the
        # event sequences other tests pin stay as they were, and the service subscribes to neither.
        return charge

    def _charge_of(self, charge_id: str, *, param: str = "charge") -> JSON:
        charge = self.charges.get(charge_id)
        if charge is None:
            raise missing("charge", charge_id, param=param)
        return charge

    def invoice_charge(self, invoice_id: str) -> JSON:
        """The charge that paid an invoice (a test helper: Stripe links them through ``invoice_payments``)."""
        with self.lock:
            for payment in self.invoice_payments.values():
                if payment["invoice"] == invoice_id:
                    intent = payment["payment"].get("payment_intent")
                    for charge in self.charges.values():
                        if charge["payment_intent"] == intent:
                            return self.render(charge)
            raise KeyError(f"no charge paid invoice {invoice_id}")

    def create_refund(
        self, charge_id: str, amount: int | None = None, reason: str | None = None, metadata: JSON | None = None
    ) -> JSON:
        """``POST /v1/refunds``: refund ``amount`` (all that is left when None) of a charge at once
        (``succeeded``), emitting ``charge.refunded`` with the charge, then ``refund.created``."""
        with self.lock:
            charge = self._charge_of(charge_id)
            left = charge["amount_captured"] - charge["amount_refunded"]
            if left <= 0:
                raise StripeError(400, f"Charge {charge_id} has already been refunded.", code="charge_already_refunded")
            if amount is None:
                amount = left
            if amount <= 0 or amount > left:
                raise StripeError(
                    400,
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                    param="amount",
                )
            refund: JSON = {
                "id": new_id("refund"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": None,
                "charge": charge_id,
                "created": self.now(),
                "currency": charge["currency"],
                "destination_details": {"card": {"type": "refund"}, "type": "card"},
                "metadata": metadata or {},
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": "succeeded",
                "transfer_reversal": None,
                "customer": charge["customer"],
                "customer_account": None,
                "payment_method": charge["payment_method"],
            }
            self._store(self.refunds, refund)
            before = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
            charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
            self._emit("charge.refunded", charge, before)
            self._emit("refund.created", refund)
            return refund

    def open_dispute(self, charge_id: str, *, reason: str = "fraudulent") -> JSON:
        """A test control: the cardholder disputes ``charge_id`` (``needs_response``), emitting
        ``charge.dispute.created`` with the dispute."""
        with self.lock:
            charge = self._charge_of(charge_id)
            now = self.now()
            dispute: JSON = {
                "id": new_id("dispute"),
                "object": "dispute",
                "amount": charge["amount"] - charge["amount_refunded"],
                "balance_transactions": [],
                "charge": charge_id,
                "created": now,
                "currency": charge["currency"],
                "evidence": {
                    name: None
                    for name in [
                        "access_activity_log",
                        "billing_address",
                        "cancellation_policy",
                        "cancellation_policy_disclosure",
                        "cancellation_rebuttal",
                        "customer_communication",
                        "customer_email_address",
                        "customer_name",
                        "customer_purchase_ip",
                        "customer_signature",
                        "duplicate_charge_documentation",
                        "duplicate_charge_explanation",
                        "duplicate_charge_id",
                        "product_description",
                        "receipt",
                        "refund_policy",
                        "refund_policy_disclosure",
                        "refund_refusal_explanation",
                        "service_date",
                        "service_documentation",
                        "shipping_address",
                        "shipping_carrier",
                        "shipping_date",
                        "shipping_documentation",
                        "shipping_tracking_number",
                        "uncategorized_file",
                        "uncategorized_text",
                    ]
                }
                | {"enhanced_evidence": {}},
                "evidence_details": {
                    "due_by": now + 21 * DAY,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                    "enhanced_eligibility": {},
                },
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "payment_method_details": {
                    "card": {
                        "brand": "visa",
                        "case_type": "chargeback",
                        "network_reason_code": "10.4",
                        "network": "visa",
                    },
                    "type": "card",
                },
                "reason": reason,
                "status": "needs_response",
                "enhanced_eligibility_types": [],
            }
            self._store(self.disputes, dispute)
            charge["disputed"] = True
            self._emit("charge.dispute.created", dispute)
            return copy.deepcopy(dispute)

    def close_dispute(self, dispute_id: str, status: str) -> JSON:
        """A test control: the card network decides (``won``, ``lost``, or ``warning_closed`` for an
        inquiry), emitting ``charge.dispute.closed`` with the dispute."""
        if status not in ("won", "lost", "warning_closed"):
            raise ValueError(f"a dispute closes won, lost or warning_closed, not {status}")
        with self.lock:
            dispute = self.disputes.get(dispute_id)
            if dispute is None:
                raise missing("dispute", dispute_id, param="dispute")
            before = {"status": dispute["status"]}
            dispute["status"] = status
            self._emit("charge.dispute.closed", dispute, before)
            return copy.deepcopy(dispute)

    def _fail_payment(self, invoice: JSON, sub: JSON) -> None:
        now = self.now()
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
        invoice["next_payment_attempt"] = now + RETRY_AFTER
        self._emit("invoice.payment_failed", invoice)
        if sub["status"] == "active":
            before = self.render(sub)
            sub["status"] = "past_due"
            after = self.render(sub)
            self._emit("customer.subscription.updated", after, diff(before, after))

    def _require_action(self, invoice: JSON, sub: JSON) -> None:
        """The card asks its holder to authenticate (3-D Secure): the invoice stays ``open`` (its payment
        intent ``requires_action``), ``invoice.payment_action_required`` is sent and the subscription goes
        ``past_due``, until the customer completes the payment on the hosted invoice page."""
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
        invoice["next_payment_attempt"] = None  # Stripe waits for the customer, it does not retry
        self._awaiting_action.add(invoice["id"])
        self._emit("invoice.payment_action_required", invoice)
        if sub["status"] == "active":
            before = self.render(sub)
            sub["status"] = "past_due"
            after = self.render(sub)
            self._emit("customer.subscription.updated", after, diff(before, after))

    def invoice_requires_action(self, invoice_id: str) -> bool:
        """Whether the invoice's payment intent is ``requires_action`` (waiting for 3-D Secure)."""
        with self.lock:
            return invoice_id in self._awaiting_action

    def pay_hosted_invoice(self, invoice_id: str, *, authenticate: bool = True) -> JSON:
        """What the hosted invoice page does on "Pay" (after the 3-D Secure step when the payment intent
        requires action): the open invoice is paid, the subscription active again. Without
        ``authenticate`` a payment that requires action stays unpaid (the customer gave up)."""
        with self.lock:
            invoice = self._invoice(invoice_id)
            if invoice["status"] != "open":
                raise StripeError(400, f"This invoice is {invoice['status']}: it cannot be paid.")
            if invoice_id in self._awaiting_action and not authenticate:
                raise PaymentDeclined("authentication_required", "Your card requires authentication.")
            self._awaiting_action.discard(invoice_id)
            sub = self.subscriptions[invoice["parent"]["subscription_details"]["subscription"]]
            self._pay(invoice, sub)
            return self.render(invoice)

    def _invoice(self, invoice_id: str) -> JSON:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            raise missing("invoice", invoice_id)
        return invoice

    # --- test controls: the lifecycle ------------------------------------------------------------------
    def advance(self, *, days: float = 0, hours: float = 0, seconds: float = 0) -> list[JSON]:
        """Move Stripe's clock forward, doing in time order what falls due: renewals (a new period, an
        invoice ``subscription_cycle`` paid, or failed if ``fail_next_renewal`` asked), cancellations at
        period end, checkout sessions expiring, incomplete subscriptions expiring. Returns the events."""
        with self.lock:
            first_event = len(self.events)
            target = self.now() + int(days * DAY + hours * 3600 + seconds)
            while True:
                due = self._next_due(target)
                if due is None:
                    break
                moment, action = due
                self.clock.set(max(moment, self.now()))
                action()
            self.clock.set(target)
            return list(self.events.values())[first_event:]

    def _next_due(self, target: int) -> tuple[int, Any] | None:
        candidates: list[tuple[int, int, Any]] = []
        for sub in self.subscriptions.values():
            if sub["status"] in ("active", "past_due", "trialing"):
                _start, end = self._period(sub)
                cancel_at = sub["cancel_at"]
                if cancel_at is not None and cancel_at < end and cancel_at <= target:
                    candidates.append((cancel_at, self._seq[sub["id"]], self._due_cancel(sub, cancel_at)))
                elif end <= target:
                    candidates.append((end, self._seq[sub["id"]], self._due_renewal(sub)))
            elif sub["status"] == "incomplete" and sub["created"] + INCOMPLETE_LIFETIME <= target:
                awaiting = {s["subscription"] for s in self.sessions.values() if s["id"] in self._async_outcome}
                if sub["id"] not in awaiting:
                    moment = sub["created"] + INCOMPLETE_LIFETIME
                    candidates.append((moment, self._seq[sub["id"]], self._due_expire_incomplete(sub)))
        for session in self.sessions.values():
            if session["status"] == "open" and session["expires_at"] <= target:
                candidates.append(
                    (session["expires_at"], self._seq[session["id"]], lambda s=session: self.expire_session(s["id"]))
                )
        if not candidates:
            return None
        moment, _seq, action = min(candidates, key=lambda c: (c[0], c[1]))
        return moment, action

    def _due_cancel(self, sub: JSON, at: int) -> Any:
        return lambda: self._end_subscription(sub, at, reason=None)

    def _due_renewal(self, sub: JSON) -> Any:
        return lambda: self._renew(sub)

    def _due_expire_incomplete(self, sub: JSON) -> Any:
        def expire() -> None:
            before = self.render(sub)
            sub["status"] = "incomplete_expired"
            sub["ended_at"] = self.now()
            after = self.render(sub)
            self._emit("customer.subscription.updated", after, diff(before, after))

        return expire

    def _renew(self, sub: JSON) -> None:
        start, end = self._period(sub)
        if sub["cancel_at_period_end"] or (sub["cancel_at"] is not None and sub["cancel_at"] <= end):
            self._end_subscription(sub, end, reason=None)
            return
        before = self.render(sub)
        new_end = period_end(sub["billing_cycle_anchor"], end, *self._interval(sub))
        self._set_period(sub, end, new_end)
        lines = self._pending_prorations.pop(sub["id"], []) + self._period_lines(sub)
        invoice = self._new_invoice(sub, "subscription_cycle", lines, start, end)
        after = self.render(sub)
        self._emit("customer.subscription.updated", after, diff(before, after))
        self._emit("invoice.created", invoice)
        paused = sub["pause_collection"]
        if paused is not None:  # collection paused: the period's invoice is not charged
            self._collect_paused(invoice, paused["behavior"])
            return
        self._finalize(invoice)
        self._charge(invoice, sub)

    def _collect_paused(self, invoice: JSON, behavior: str) -> None:
        """``pause_collection``: the invoice is voided (``void``), kept as a draft (``keep_as_draft``) or
        marked uncollectible (``mark_uncollectible``); nothing is charged."""
        now = self.now()
        invoice["auto_advance"] = False
        if behavior == "keep_as_draft":
            return
        self._finalize(invoice)
        if behavior == "void":
            invoice["status"] = "void"
            invoice["status_transitions"]["voided_at"] = now
            self._emit("invoice.voided", invoice)
        else:
            invoice["status"] = "uncollectible"
            invoice["status_transitions"]["marked_uncollectible_at"] = now
            self._emit("invoice.marked_uncollectible", invoice)

    def _end_subscription(self, sub: JSON, at: int, *, reason: str | None) -> None:
        sub["status"] = "canceled"
        sub["ended_at"] = at
        if sub["canceled_at"] is None:
            sub["canceled_at"] = at
        if reason is not None or sub["cancellation_details"]["reason"] is None:
            sub["cancellation_details"]["reason"] = reason or "cancellation_requested"
        for invoice in self.invoices.values():
            if invoice["status"] == "open" and invoice["parent"]["subscription_details"]["subscription"] == sub["id"]:
                invoice["next_payment_attempt"] = None
        self._emit("customer.subscription.deleted", self.render(sub))

    def fail_next_renewal(self, sub_id: str, times: int = 1) -> None:
        """The next ``times`` charges of this subscription fail (invoice ``payment_failed``, ``past_due``)."""
        with self.lock:
            self._subscription(sub_id)
            self._fail_renewals[sub_id] = self._fail_renewals.get(sub_id, 0) + times

    def require_action_next_renewal(self, sub_id: str, times: int = 1) -> None:
        """The next ``times`` charges of this subscription need the card holder's authentication (3-D
        Secure): ``invoice.payment_action_required``, the invoice left open, ``past_due``."""
        with self.lock:
            self._subscription(sub_id)
            self._action_renewals[sub_id] = self._action_renewals.get(sub_id, 0) + times

    def retry_invoice(self, invoice_id: str, *, succeed: bool = True) -> JSON:
        """A payment retry of an open invoice (Smart Retries, or the customer updating the card)."""
        with self.lock:
            invoice = self._invoice(invoice_id)
            if invoice["status"] != "open":
                raise StripeError(400, "Invoice is already paid" if invoice["status"] == "paid" else "Invoice not open")
            sub = self.subscriptions[invoice["parent"]["subscription_details"]["subscription"]]
            if succeed:
                self._pay(invoice, sub)
            else:
                self._fail_payment(invoice, sub)
            return self.render(invoice)

    def exhaust_payment_retries(self, sub_id: str, *, outcome: Literal["canceled", "unpaid"] = "canceled") -> JSON:
        """All retries failed: the subscription is cancelled (``customer.subscription.deleted``) or left ``unpaid``."""
        with self.lock:
            sub = self._subscription(sub_id)
            if outcome == "canceled":
                sub["cancellation_details"]["reason"] = "payment_failed"
                self._end_subscription(sub, self.now(), reason="payment_failed")
            else:
                before = self.render(sub)
                sub["status"] = "unpaid"
                after = self.render(sub)
                self._emit("customer.subscription.updated", after, diff(before, after))
            return self.render(sub)

    def portal_update(
        self,
        sub_id: str,
        *,
        quantity: int | None = None,
        price: str | None = None,
        proration_behavior: str = "always_invoice",
    ) -> JSON:
        """What the billing portal does when the customer changes seats or plan: the item updated and,
        with ``always_invoice`` (a portal configuration may say otherwise), the change invoiced at once
        (``subscription_update``)."""
        with self.lock:
            self._subscription(sub_id)
            item_id = self._sub_items[sub_id][0]
            change: JSON = {"id": item_id}
            if quantity is not None:
                change["quantity"] = quantity
            if price is not None:
                change["price"] = price
            return self.update_subscription(sub_id, items=[change], proration_behavior=proration_behavior)

    def pause_collection(self, sub_id: str, behavior: str = "void") -> JSON:
        """Pause collection (``pause_collection[behavior]``: ``void``, ``keep_as_draft`` or
        ``mark_uncollectible``); the subscription stays ``active`` and its periods go on unpaid."""
        return self.update_subscription(sub_id, pause_collection={"behavior": behavior})

    def resume_collection(self, sub_id: str) -> JSON:
        """Resume collection (``pause_collection=""``): the next period's invoice is charged again."""
        return self.update_subscription(sub_id, pause_collection="clear")

    def pause_subscription(self, sub_id: str) -> JSON:
        """Status ``paused``, as Stripe pauses a subscription whose trial ended without a payment method
        (``trial_settings.end_behavior.missing_payment_method=pause``; the fake models no trials, so this
        control stands in for that moment): no invoices, no renewals, ``customer.subscription.paused``."""
        with self.lock:
            sub = self._subscription(sub_id)
            if sub["status"] not in ("active", "trialing"):
                raise StripeError(400, f"A subscription with status {sub['status']} cannot be paused.")
            before = self.render(sub)
            sub["status"] = "paused"
            after = self.render(sub)
            self._emit("customer.subscription.updated", after, diff(before, after))
            self._emit("customer.subscription.paused", after)
            return after

    def resume_subscription(self, sub_id: str, *, billing_cycle_anchor: str = "now") -> JSON:
        """``POST /v1/subscriptions/{id}/resume``: a ``paused`` subscription starts a new period (anchor
        ``now``; ``unchanged`` keeps the old cycle, the period running on from its last end) and is invoiced
        at once; paid, it is ``active`` (``customer.subscription.resumed``), else ``past_due``."""
        with self.lock:
            sub = self._subscription(sub_id)
            if sub["status"] != "paused":
                raise StripeError(400, "Only a paused subscription can be resumed.")
            now = self.now()
            before = self.render(sub)
            if billing_cycle_anchor == "now":
                sub["billing_cycle_anchor"] = now
                start, end = now, period_end(now, now, *self._interval(sub))
            else:
                start, end = self._period(sub)
                while end <= now:
                    start, end = end, period_end(sub["billing_cycle_anchor"], end, *self._interval(sub))
            self._set_period(sub, start, end)
            sub["status"] = "active"
            invoice = self._new_invoice(sub, "subscription_cycle", self._period_lines(sub), start, end)
            after = self.render(sub)
            self._emit("customer.subscription.updated", after, diff(before, after))
            self._emit("customer.subscription.resumed", after)
            self._emit("invoice.created", invoice)
            self._finalize(invoice)
            self._charge(invoice, sub)
            return self.render(sub)

    def cancel_at_period_end(self, sub_id: str, cancel: bool = True) -> JSON:
        """What the billing portal's "Cancel plan" does (or "Renew plan", with ``cancel=False``)."""
        return self.update_subscription(sub_id, cancel_at_period_end=cancel)

    def cancel_subscription(self, sub_id: str) -> JSON:
        """Cancel now (``DELETE /v1/subscriptions/{id}``): ``customer.subscription.deleted``."""
        with self.lock:
            sub = self._subscription(sub_id)
            if sub["status"] in ("canceled", "incomplete_expired"):
                raise StripeError(400, "This subscription has already been canceled.")
            sub["canceled_at"] = self.now()
            self._end_subscription(sub, self.now(), reason="cancellation_requested")
            return self.render(sub)

    # --- billing portal ----------------------------------------------------------------------------------
    def create_portal_session(
        self, customer: str, return_url: str | None, *, locale: str | None = None, configuration: str | None = None
    ) -> JSON:
        with self.lock:
            self._customer(customer, param="customer", status=400)
            if configuration is not None:
                found = self.portal_configurations.get(configuration)
                if found is None:
                    raise missing("configuration", configuration, param="configuration", status=400)
                if not found["active"]:
                    raise StripeError(
                        400,
                        "The provided configuration is not active.",
                        code="parameter_invalid",
                        param="configuration",
                    )
            secret = random_token(24)
            session: JSON = {
                "id": new_id("billing_portal.session"),
                "object": "billing_portal.session",
                "configuration": configuration or DEFAULT_PORTAL_CONFIGURATION,
                "created": self.now(),
                "customer": customer,
                "customer_account": None,
                "flow": None,
                "livemode": False,
                "locale": locale,
                "on_behalf_of": None,
                "return_url": return_url,
                "url": f"{self.base_url}/p/session/{secret}",
            }
            self._store(self.portal_sessions, session)
            self._portal_secrets[secret] = session["id"]
            self._emit("billing_portal.session.created", session)
            return self.render(session)

    def portal_session_by_secret(self, secret: str) -> JSON | None:
        with self.lock:
            session_id = self._portal_secrets.get(secret)
            return None if session_id is None else self.render(self.portal_sessions[session_id])

    def portal_features(self, configuration_id: str) -> JSON:
        """What a portal session's configuration lets the customer do: the stored configuration's
        ``features``, or for Stripe's default one (the dashboard's settings) everything, invoiced at once."""
        with self.lock:
            found = self.portal_configurations.get(configuration_id)
            if found is not None:
                return copy.deepcopy(found["features"])
            features = portal_features_defaults()
            features["customer_update"] = {"allowed_updates": ["address", "email", "tax_id"], "enabled": True}
            features["invoice_history"]["enabled"] = True
            features["payment_method_update"]["enabled"] = True
            features["subscription_cancel"]["enabled"] = True
            update = features["subscription_update"]
            update.update(
                enabled=True, default_allowed_updates=["price", "quantity"], proration_behavior="always_invoice"
            )
            update["products"] = None  # the default configuration: any price of the subscription's product
            return features

    def create_portal_configuration(
        self,
        features: JSON,
        *,
        metadata: dict[str, str] | None = None,
        name: str | None = None,
        default_return_url: str | None = None,
        business_profile: JSON | None = None,
    ) -> JSON:
        """``POST /v1/billing_portal/configurations``: ``features`` already checked and merged onto the
        defaults (see ``api.portal_features``)."""
        with self.lock:
            now = self.now()
            config: JSON = {
                "id": new_id("billing_portal.configuration"),
                "object": "billing_portal.configuration",
                "active": True,
                "application": None,
                "business_profile": {
                    "headline": None,
                    "privacy_policy_url": None,
                    "terms_of_service_url": None,
                    **(business_profile or {}),
                },
                "created": now,
                "default_return_url": default_return_url,
                "features": features,
                "is_default": False,
                "livemode": False,
                "login_page": {"enabled": False, "url": None},
                "metadata": dict(metadata or {}),
                "name": name,
                "updated": now,
            }
            self._store(self.portal_configurations, config)
            self._emit("billing_portal.configuration.created", config)
            return self.render(config)

    def update_portal_configuration(self, configuration_id: str, changes: JSON) -> JSON:
        with self.lock:
            config = self.portal_configuration(configuration_id)
            before = self.render(config)
            config.update(changes)
            after = self.render(config)
            if after != before:
                config["updated"] = self.now()
                after = self.render(config)
                self._emit("billing_portal.configuration.updated", after, diff(before, after))
            return after

    def portal_configuration(self, configuration_id: str) -> JSON:
        found = self.portal_configurations.get(configuration_id)
        if found is None:
            raise missing("configuration", configuration_id)
        return found

    # --- webhook endpoints ----------------------------------------------------------------------------
    def create_webhook_endpoint(
        self,
        url: str,
        enabled_events: list[str],
        *,
        api_version: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> JSON:
        """``POST /v1/webhook_endpoints``: the answer (only this one) carries the signing ``secret``. The
        endpoint receives the fake's deliveries (``webhooks``), like one added with ``add_endpoint``."""
        with self.lock:
            delivery = self.webhooks.add_endpoint(url, enabled_events=enabled_events)
            endpoint: JSON = {
                "id": delivery.id,
                "object": "webhook_endpoint",
                "api_version": api_version,
                "application": None,
                "created": self.now(),
                "description": description,
                "enabled_events": list(enabled_events),
                "livemode": False,
                "metadata": dict(metadata or {}),
                "status": "enabled",
                "url": url,
            }
            self._store(self.webhook_endpoints, endpoint)
            return {**self.render(endpoint), "secret": delivery.secret}

    def update_webhook_endpoint(self, endpoint_id: str, changes: JSON) -> JSON:
        with self.lock:
            endpoint = self.webhook_endpoint(endpoint_id)
            endpoint.update(changes)
            self.webhooks.update_endpoint(
                endpoint_id,
                url=endpoint["url"],
                enabled_events=endpoint["enabled_events"],
                enabled=endpoint["status"] == "enabled",
            )
            return self.render(endpoint)

    def webhook_endpoint(self, endpoint_id: str) -> JSON:
        found = self.webhook_endpoints.get(endpoint_id)
        if found is None:
            raise missing("webhook_endpoint", endpoint_id)
        return found

    # --- helpers for tests ------------------------------------------------------------------------------------
    def events_of(self, type_: str | None = None, *, object_id: str | None = None) -> list[JSON]:
        """Events in emission order, optionally of one type and/or about one object."""
        with self.lock:
            return [
                copy.deepcopy(e)
                for e in self.events.values()
                if (type_ is None or e["type"] == type_)
                and (object_id is None or e["data"]["object"].get("id") == object_id)
            ]

    def subscription_for_session(self, session_id: str) -> JSON | None:
        with self.lock:
            sub_id = self._session(session_id)["subscription"]
            return None if sub_id is None else self.render(self.subscriptions[sub_id])
