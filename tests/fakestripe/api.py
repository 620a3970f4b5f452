"""The fake Stripe's API operations: parameter checking as Stripe does it, lists, search and ``expand[]``.

Each operation takes the ``FakeStripe`` and a ``Call`` (decoded parameters and path arguments) and
returns the JSON answer, or raises ``StripeError``. ``ROUTES`` maps ``(method, path pattern)`` to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .state import SUBSCRIPTION_STATUSES, FakeStripe, portal_features_defaults
from .wire import (
    JSON,
    StripeError,
    apply_metadata,
    check_known,
    get_bool,
    get_dict,
    get_enum,
    get_int,
    get_list,
    get_str,
    missing,
    parameter_invalid,
    parameter_missing,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EXPANDABLE = {
    "charge",
    "customer",
    "subscription",
    "latest_invoice",
    "invoice",
    "product",
    "price",
    "default_price",
    "line_items",
    "payment_intent",
    "default_payment_method",
}
LIST_PARAMS = {"limit", "starting_after", "ending_before", "expand", "created"}
INTERVALS = ("day", "week", "month", "year")


@dataclass
class Call:
    method: str
    path: str
    params: JSON
    args: tuple[str, ...] = ()
    request_id: str = ""
    idempotency_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Operation = Callable[[FakeStripe, Call], JSON]


# --- expand ------------------------------------------------------------------------------------------
def expansions(params: JSON) -> list[str]:
    value = params.get("expand")
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StripeError(400, "Invalid array", code="parameter_invalid_array", param="expand")
    return value


def expand(fake: FakeStripe, obj: JSON, paths: list[str]) -> JSON:
    for path in paths:
        parts = path.split(".")
        if len([p for p in parts if p != "data"]) > 4:
            raise StripeError(
                400, f"You cannot expand more than 4 levels of a property. Property: {path}", param="expand"
            )
        _expand(fake, obj, parts, path)
    return obj


def _expand(fake: FakeStripe, node: JSON, parts: list[str], path: str) -> None:
    key, rest = parts[0], parts[1:]
    if node.get("object") in ("list", "search_result") and key == "data":
        for element in node["data"]:
            if rest:
                _expand(fake, element, rest, path)
        return
    if key == "line_items" and node.get("object") == "checkout.session":
        if not isinstance(node.get("line_items"), dict):
            items = fake.session_line_items(node["id"])
            node["line_items"] = {
                "object": "list",
                "data": items,
                "has_more": False,
                "url": f"/v1/checkout/sessions/{node['id']}/line_items",
            }
    elif key not in node:
        raise StripeError(400, f"This property cannot be expanded ({path}).", param="expand")
    value = node[key]
    if isinstance(value, str):
        if key not in EXPANDABLE:
            raise StripeError(400, f"This property cannot be expanded ({path}).", param="expand")
        try:
            value = fake.get(value)
        except KeyError:
            raise StripeError(
                400,
                f"This property cannot be expanded ({path}): the fake Stripe does not hold {value}.",
                param="expand",
            ) from None
        node[key] = value
    if rest and isinstance(value, dict):
        _expand(fake, value, rest, path)


def answer(fake: FakeStripe, call: Call, obj: JSON) -> JSON:
    return expand(fake, obj, expansions(call.params))


# --- lists and search ----------------------------------------------------------------------------------
def _created_filter(params: JSON) -> Callable[[JSON], bool]:
    value = params.get("created")
    if value is None or value == "":
        return lambda _o: True
    if isinstance(value, str):
        exact = get_int(params, "created")
        return lambda o: o["created"] == exact
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid created", param="created")
    check_known(value, {"gt", "gte", "lt", "lte"}, "created")
    bounds = {op: get_int(value, op, param=f"created[{op}]") for op in value}

    def keep(o: JSON) -> bool:
        c = o["created"]
        return all(
            (op == "gt" and c > b) or (op == "gte" and c >= b) or (op == "lt" and c < b) or (op == "lte" and c <= b)
            for op, b in bounds.items()
            if b is not None
        )

    return keep


def list_answer(fake: FakeStripe, call: Call, objects: list[JSON], url: str, kind: str) -> JSON:
    params = call.params
    limit = get_int(params, "limit")
    if limit is None:
        limit = 10
    if not 1 <= limit <= 100:
        raise StripeError(
            400, "This value must be greater than or equal to 1 and less than or equal to 100.", param="limit"
        )
    keep = _created_filter(params)
    objects = [o for o in objects if keep(o)]
    ids = [o["id"] for o in objects]
    after = get_str(params, "starting_after")
    before = get_str(params, "ending_before")
    if after is not None and before is not None:
        raise StripeError(400, "You may only specify one of these parameters: ending_before, starting_after.")
    if after is not None:
        if after not in ids:
            raise missing(kind, after, param="starting_after", status=400)
        start = ids.index(after) + 1
        page, has_more = objects[start : start + limit], len(objects) > start + limit
    elif before is not None:
        if before not in ids:
            raise missing(kind, before, param="ending_before", status=400)
        end = ids.index(before)
        page, has_more = objects[max(0, end - limit) : end], end - limit > 0
    else:
        page, has_more = objects[:limit], len(objects) > limit
    result: JSON = {"object": "list", "data": [fake.render(o) for o in page], "has_more": has_more, "url": url}
    return expand(fake, result, expansions(params))


_CLAUSE = re.compile(
    r"""^\s*(-?)([a-z_]+(?:\[['"][^'"]+['"]\])?)\s*(:|~|>=|<=|>|<)\s*(?:'([^']*)'|"([^"]*)"|(\S+))\s*$"""
)


def _field(obj: JSON, name: str) -> Any:
    meta = re.match(r"""^metadata\[['"]([^'"]+)['"]\]$""", name)
    if meta:
        return obj.get("metadata", {}).get(meta.group(1))
    return obj.get(name)


def search_answer(fake: FakeStripe, call: Call, objects: list[JSON], url: str, fields: set[str]) -> JSON:
    """Stripe's search query language, the part the fake needs: ``field:'value'`` clauses (also ``~`` for
    a substring, ``-`` to negate, numeric comparisons) joined by ``AND``; ``metadata['key']:'value'``."""
    params = call.params
    check_known(params, {"query", "limit", "page", "expand"})
    query = get_str(params, "query", required=True)
    assert query is not None
    if " OR " in query:
        raise StripeError(400, "The fake Stripe's search does not support OR.", param="query")
    clauses = []
    for text in query.split(" AND "):
        match = _CLAUSE.match(text)
        if match is None:
            raise StripeError(400, f"Invalid search query: {query}", code="parameter_invalid", param="query")
        negate, name, op, *values = match.groups()
        if name not in fields and not name.startswith("metadata["):
            raise StripeError(400, f"Field `{name}` is an unsupported search field.", param="query")
        clauses.append((negate == "-", name, op, next(v for v in values if v is not None)))

    def matches(obj: JSON) -> bool:
        for negate, name, op, value in clauses:
            actual = _field(obj, name)
            if op == ":":
                hit = str(actual).lower() == value.lower() if isinstance(actual, bool) else actual == value
            elif op == "~":
                hit = isinstance(actual, str) and value.lower() in actual.lower()
            else:
                number = float(value)
                hit = (
                    isinstance(actual, int | float)
                    and {
                        ">": actual > number,
                        "<": actual < number,
                        ">=": actual >= number,
                        "<=": actual <= number,
                    }[op]
                )
            if hit == negate:
                return False
        return True

    found = [o for o in objects if matches(o)]
    limit = get_int(params, "limit") or 10
    page_token = get_str(params, "page")
    offset = int(page_token) if page_token and page_token.isdigit() else 0
    page = found[offset : offset + limit]
    has_more = len(found) > offset + limit
    result: JSON = {
        "object": "search_result",
        "data": [fake.render(o) for o in page],
        "has_more": has_more,
        "next_page": str(offset + limit) if has_more else None,
        "url": url,
    }
    return expand(fake, result, expansions(params))


# --- products ------------------------------------------------------------------------------------------
PRODUCT_FIELDS = {"name", "description", "metadata", "active", "unit_label", "url", "images", "expand"}


def create_product(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, PRODUCT_FIELDS | {"id"})
    name = get_str(p, "name", required=True)
    assert name is not None
    active = get_bool(p, "active")
    product = fake.create_product(
        name,
        product_id=get_str(p, "id"),
        description=get_str(p, "description"),
        metadata=apply_metadata({}, p),
        active=True if active is None else active,
        unit_label=get_str(p, "unit_label"),
        url=get_str(p, "url"),
        images=get_list(p, "images"),
    )
    return answer(fake, call, product)


def retrieve_product(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        return answer(fake, call, fake.render(fake._product(call.args[0])))


def update_product(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, PRODUCT_FIELDS | {"default_price"})
    with fake.lock:
        product = fake._product(call.args[0])
        changes: JSON = {}
        for key in ("name", "description", "unit_label", "url", "default_price"):
            if key in p:
                if key == "name" and p[key] == "":
                    raise StripeError(400, "You must supply a non-empty name.", param="name")
                changes[key] = get_str(p, key)
        if "active" in p:
            changes["active"] = get_bool(p, "active")
        if "images" in p:
            changes["images"] = get_list(p, "images") or []
        if "metadata" in p:
            changes["metadata"] = apply_metadata(product["metadata"], p)
        return answer(fake, call, fake.update_product(call.args[0], changes))


def list_products(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, LIST_PARAMS | {"active", "ids", "url", "shippable"})
    active = get_bool(p, "active")
    ids = get_list(p, "ids")
    with fake.lock:
        objects = [
            o
            for o in fake.ordered(fake.products)
            if (active is None or o["active"] == active) and (ids is None or o["id"] in ids)
        ]
        return list_answer(fake, call, objects, "/v1/products", "product")


def search_products(fake: FakeStripe, call: Call) -> JSON:
    with fake.lock:
        return search_answer(
            fake, call, fake.ordered(fake.products), "/v1/products/search", {"name", "active", "description", "url"}
        )


# --- prices --------------------------------------------------------------------------------------------
def create_price(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(
        p,
        {
            "product",
            "product_data",
            "currency",
            "unit_amount",
            "recurring",
            "lookup_key",
            "transfer_lookup_key",
            "nickname",
            "metadata",
            "active",
            "tax_behavior",
            "billing_scheme",
            "expand",
        },
    )
    currency = get_str(p, "currency", required=True)
    assert currency is not None
    unit_amount = get_int(p, "unit_amount", required=True)
    assert unit_amount is not None
    if unit_amount < 0:
        raise StripeError(400, "This value must be greater than or equal to 0.", param="unit_amount")
    get_enum(p, "billing_scheme", ("per_unit",))
    recurring = get_dict(p, "recurring")
    interval: str | None = None
    interval_count = 1
    if recurring is not None:
        check_known(recurring, {"interval", "interval_count", "usage_type"}, "recurring")
        interval = get_enum(recurring, "interval", INTERVALS, param="recurring[interval]")
        if interval is None:
            raise parameter_missing("recurring[interval]")
        interval_count = get_int(recurring, "interval_count", param="recurring[interval_count]") or 1
        get_enum(recurring, "usage_type", ("licensed",), param="recurring[usage_type]")
    product = get_str(p, "product")
    product_data = get_dict(p, "product_data")
    if (product is None) == (product_data is None):
        if product is None:
            raise parameter_missing("product")
        raise StripeError(400, "You may only specify one of these parameters: product, product_data.", param="product")
    active = get_bool(p, "active")
    with fake.lock:
        if product_data is not None:
            check_known(product_data, {"name", "metadata", "unit_label", "id"}, "product_data")
            name = get_str(product_data, "name", required=True, param="product_data[name]")
            assert name is not None
            product = fake.create_product(
                name,
                product_id=get_str(product_data, "id"),
                metadata=apply_metadata({}, product_data),
                unit_label=get_str(product_data, "unit_label"),
            )["id"]
        assert product is not None
        price = fake.create_price(
            product=product,
            currency=currency,
            unit_amount=unit_amount,
            interval=interval,
            interval_count=interval_count,
            lookup_key=get_str(p, "lookup_key"),
            transfer_lookup_key=bool(get_bool(p, "transfer_lookup_key")),
            nickname=get_str(p, "nickname"),
            metadata=apply_metadata({}, p),
            active=True if active is None else active,
            tax_behavior=get_enum(p, "tax_behavior", ("exclusive", "inclusive", "unspecified")) or "unspecified",
        )
        return answer(fake, call, price)


def retrieve_price(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        return answer(fake, call, fake.render(fake._price(call.args[0])))


def update_price(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, {"active", "lookup_key", "transfer_lookup_key", "metadata", "nickname", "tax_behavior", "expand"})
    with fake.lock:
        price = fake._price(call.args[0])
        changes: JSON = {}
        if "active" in p:
            changes["active"] = get_bool(p, "active")
        for key in ("lookup_key", "nickname"):
            if key in p:
                changes[key] = get_str(p, key)
        if "tax_behavior" in p:
            changes["tax_behavior"] = get_enum(p, "tax_behavior", ("exclusive", "inclusive", "unspecified"))
        if "metadata" in p:
            changes["metadata"] = apply_metadata(price["metadata"], p)
        updated = fake.update_price(call.args[0], changes, transfer_lookup_key=bool(get_bool(p, "transfer_lookup_key")))
        return answer(fake, call, updated)


def list_prices(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, LIST_PARAMS | {"active", "currency", "product", "type", "lookup_keys", "recurring"})
    active = get_bool(p, "active")
    currency = get_str(p, "currency")
    product = get_str(p, "product")
    type_ = get_enum(p, "type", ("one_time", "recurring"))
    keys = get_list(p, "lookup_keys")
    if keys is not None and len(keys) > 10:
        raise StripeError(400, "You can pass at most 10 lookup keys.", param="lookup_keys")
    recurring = get_dict(p, "recurring") or {}
    check_known(recurring, {"interval", "usage_type", "meter"}, "recurring")
    interval = get_enum(recurring, "interval", INTERVALS, param="recurring[interval]")
    with fake.lock:
        objects = [
            o
            for o in fake.ordered(fake.prices)
            if (active is None or o["active"] == active)
            and (currency is None or o["currency"] == currency.lower())
            and (product is None or o["product"] == product)
            and (type_ is None or o["type"] == type_)
            and (keys is None or o["lookup_key"] in keys)
            and (interval is None or (o["recurring"] or {}).get("interval") == interval)
        ]
        return list_answer(fake, call, objects, "/v1/prices", "price")


def search_prices(fake: FakeStripe, call: Call) -> JSON:
    with fake.lock:
        return search_answer(
            fake,
            call,
            fake.ordered(fake.prices),
            "/v1/prices/search",
            {"lookup_key", "active", "product", "currency", "type"},
        )


# --- customers -----------------------------------------------------------------------------------------
CUSTOMER_FIELDS = {"email", "name", "description", "phone", "metadata", "expand", "preferred_locales"}


def _email(params: JSON, name: str = "email") -> str | None:
    email = get_str(params, name)
    if email is not None and not EMAIL.match(email):
        raise StripeError(400, f"Invalid email address: {email}", code="email_invalid", param=name)
    return email


def create_customer(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, CUSTOMER_FIELDS)
    customer = fake.create_customer(
        email=_email(p),
        name=get_str(p, "name"),
        description=get_str(p, "description"),
        phone=get_str(p, "phone"),
        metadata=apply_metadata({}, p),
    )
    return answer(fake, call, customer)


def retrieve_customer(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        return answer(fake, call, fake.render(fake._customer(call.args[0])))


def update_customer(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, CUSTOMER_FIELDS)
    with fake.lock:
        customer = fake._customer(call.args[0])
        changes: JSON = {}
        if "email" in p:
            changes["email"] = _email(p)
        for key in ("name", "description", "phone"):
            if key in p:
                changes[key] = get_str(p, key)
        if "preferred_locales" in p:
            changes["preferred_locales"] = get_list(p, "preferred_locales") or []
        if "metadata" in p:
            changes["metadata"] = apply_metadata(customer["metadata"], p)
        return answer(fake, call, fake.update_customer(call.args[0], changes))


def delete_customer(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, set())
    return fake.delete_customer(call.args[0])


def list_customers(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, LIST_PARAMS | {"email"})
    email = get_str(p, "email")
    with fake.lock:
        objects = [o for o in fake.ordered(fake.customers) if email is None or o["email"] == email]
        return list_answer(fake, call, objects, "/v1/customers", "customer")


def search_customers(fake: FakeStripe, call: Call) -> JSON:
    with fake.lock:
        return search_answer(
            fake, call, fake.ordered(fake.customers), "/v1/customers/search", {"email", "name", "phone", "created"}
        )


# --- checkout sessions ---------------------------------------------------------------------------------
def create_checkout_session(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(
        p,
        {
            "mode",
            "line_items",
            "success_url",
            "cancel_url",
            "customer",
            "customer_email",
            "client_reference_id",
            "metadata",
            "subscription_data",
            "payment_method_types",
            "allow_promotion_codes",
            "automatic_tax",
            "billing_address_collection",
            "tax_id_collection",
            "locale",
            "expires_at",
            "ui_mode",
            "expand",
        },
    )
    mode = get_enum(p, "mode", ("payment", "setup", "subscription"))
    if mode is None:
        raise parameter_missing("mode")
    if mode != "subscription":
        raise StripeError(400, "The fake Stripe only implements Checkout in mode=subscription.", param="mode")
    get_enum(p, "ui_mode", ("hosted",))
    success_url = get_str(p, "success_url", required=True)
    assert success_url is not None
    customer = get_str(p, "customer")
    customer_email = _email(p, "customer_email")
    if customer is not None and customer_email is not None:
        raise StripeError(400, "You may only specify one of these parameters: customer, customer_email.")
    reference = get_str(p, "client_reference_id")
    if reference is not None and len(reference) > 200:
        raise parameter_invalid("client_reference_id", "client_reference_id must be at most 200 characters.")
    raw_items = get_list(p, "line_items")
    if not raw_items:
        raise StripeError(
            400,
            "You must specify either `line_items` or `price` (deprecated) in `subscription` mode.",
            param="line_items",
        )
    line_items: list[tuple[str, int]] = []
    for index, raw in enumerate(raw_items):
        name = f"line_items[{index}]"
        if not isinstance(raw, dict):
            raise StripeError(400, "Invalid object", param=name)
        check_known(raw, {"price", "quantity"}, name)
        price = get_str(raw, "price", required=True, param=f"{name}[price]")
        quantity = get_int(raw, "quantity", param=f"{name}[quantity]")
        quantity = 1 if quantity is None else quantity
        if quantity < 1:
            raise StripeError(400, "This value must be greater than or equal to 1.", param=f"{name}[quantity]")
        assert price is not None
        line_items.append((price, quantity))
    subscription_data = get_dict(p, "subscription_data") or {}
    check_known(subscription_data, {"metadata", "description"}, "subscription_data")
    automatic_tax = get_dict(p, "automatic_tax") or {}
    check_known(automatic_tax, {"enabled", "liability"}, "automatic_tax")
    tax_ids = get_dict(p, "tax_id_collection") or {}
    check_known(tax_ids, {"enabled", "required"}, "tax_id_collection")
    get_bool(tax_ids, "enabled", param="tax_id_collection[enabled]")  # recorded with the request (fake.requests)
    expires_at = get_int(p, "expires_at")
    if expires_at is not None and not fake.now() + 1800 <= expires_at <= fake.now() + 86400:
        raise parameter_invalid("expires_at", "The `expires_at` timestamp must be 30 minutes to 24 hours from now.")
    session = fake.create_checkout_session(
        line_items=line_items,
        success_url=success_url,
        cancel_url=get_str(p, "cancel_url"),
        customer=customer,
        customer_email=customer_email,
        client_reference_id=reference,
        metadata=apply_metadata({}, p),
        subscription_metadata=apply_metadata({}, subscription_data),
        locale=get_str(p, "locale"),
        allow_promotion_codes=get_bool(p, "allow_promotion_codes"),
        automatic_tax=bool(get_bool(automatic_tax, "enabled", param="automatic_tax[enabled]")),
        billing_address_collection=get_enum(p, "billing_address_collection", ("auto", "required")),
        expires_at=expires_at,
    )
    return answer(fake, call, session)


def retrieve_checkout_session(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        return answer(fake, call, fake.render(fake._session(call.args[0])))


def checkout_line_items(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, LIST_PARAMS - {"created"})
    with fake.lock:
        fake._session(call.args[0])
        items = fake._session_items[call.args[0]]
        return list_answer(fake, call, items, f"/v1/checkout/sessions/{call.args[0]}/line_items", "item")


def expire_checkout_session(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    return answer(fake, call, fake.expire_session(call.args[0]))


def list_checkout_sessions(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, LIST_PARAMS | {"customer", "subscription", "status", "payment_intent", "customer_details"})
    customer = get_str(p, "customer")
    subscription = get_str(p, "subscription")
    status = get_enum(p, "status", ("open", "complete", "expired"))
    details = get_dict(p, "customer_details") or {}
    check_known(details, {"email"}, "customer_details")
    email = get_str(details, "email", param="customer_details[email]")
    with fake.lock:
        objects = [
            o
            for o in fake.ordered(fake.sessions)
            if (customer is None or o["customer"] == customer)
            and (subscription is None or o["subscription"] == subscription)
            and (status is None or o["status"] == status)
            and (email is None or (o["customer_details"] or {}).get("email") == email)
        ]
        return list_answer(fake, call, objects, "/v1/checkout/sessions", "checkout.session")


# --- subscriptions -------------------------------------------------------------------------------------
def retrieve_subscription(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        return answer(fake, call, fake.render(fake._subscription(call.args[0])))


def update_subscription(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(
        p,
        {
            "items",
            "cancel_at_period_end",
            "cancel_at",
            "proration_behavior",
            "proration_date",
            "payment_behavior",
            "metadata",
            "description",
            "billing_cycle_anchor",
            "cancellation_details",
            "discounts",
            "pause_collection",
            "expand",
        },
    )
    pause: JSON | Literal["clear"] | None = None
    if "pause_collection" in p:
        if p["pause_collection"] == "":
            pause = "clear"
        else:
            raw_pause = get_dict(p, "pause_collection")
            if raw_pause is None:
                raise StripeError(400, "Invalid object", param="pause_collection")
            check_known(raw_pause, {"behavior", "resumes_at"}, "pause_collection")
            behavior = get_enum(raw_pause, "behavior", ("keep_as_draft", "mark_uncollectible", "void"))
            if behavior is None:
                raise StripeError(
                    400, "Missing required param: pause_collection[behavior].", param="pause_collection[behavior]"
                )
            pause = {"behavior": behavior, "resumes_at": get_int(raw_pause, "resumes_at")}
    coupons: list[str] = []
    for index, raw in enumerate(get_list(p, "discounts") or []):
        name = f"discounts[{index}]"
        if not isinstance(raw, dict):
            raise StripeError(400, "Invalid object", param=name)
        check_known(raw, {"coupon"}, name)
        coupon = get_str(raw, "coupon", required=True, param=f"{name}[coupon]")
        assert coupon is not None
        coupons.append(coupon)
    raw_items = get_list(p, "items")
    items: list[JSON] = []
    for index, raw in enumerate(raw_items or []):
        name = f"items[{index}]"
        if not isinstance(raw, dict):
            raise StripeError(400, "Invalid object", param=name)
        check_known(raw, {"id", "price", "quantity", "deleted", "metadata"}, name)
        change: JSON = {}
        if "id" in raw:
            change["id"] = get_str(raw, "id", param=f"{name}[id]")
        if "price" in raw:
            change["price"] = get_str(raw, "price", param=f"{name}[price]")
        if "quantity" in raw:
            quantity = get_int(raw, "quantity", param=f"{name}[quantity]")
            if quantity is not None and quantity < 0:
                raise StripeError(400, "This value must be greater than or equal to 0.", param=f"{name}[quantity]")
            change["quantity"] = quantity
        if get_bool(raw, "deleted", param=f"{name}[deleted]"):
            change["deleted"] = True
        items.append(change)
    cancel_at: int | Literal["clear"] | None = None
    if "cancel_at" in p:
        cancel_at = "clear" if p["cancel_at"] == "" else get_int(p, "cancel_at")
    proration = get_enum(p, "proration_behavior", ("create_prorations", "none", "always_invoice"))
    get_enum(
        p,
        "payment_behavior",
        ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"),
    )
    get_int(p, "proration_date")
    anchor = get_enum(p, "billing_cycle_anchor", ("now", "unchanged"))
    with fake.lock:
        sub = fake._subscription(call.args[0])
        metadata = apply_metadata(sub["metadata"], p) if "metadata" in p else None
        details = get_dict(p, "cancellation_details")
        if details is not None:
            check_known(details, {"comment", "feedback"}, "cancellation_details")
            sub["cancellation_details"]["comment"] = get_str(details, "comment")
            sub["cancellation_details"]["feedback"] = get_str(details, "feedback")
        updated = fake.update_subscription(
            call.args[0],
            items=items or None,
            cancel_at_period_end=get_bool(p, "cancel_at_period_end"),
            cancel_at=cancel_at,
            proration_behavior=proration or "create_prorations",
            metadata=metadata,
            description=get_str(p, "description") if "description" in p else None,
            billing_cycle_anchor=anchor,
            pause_collection=pause,
        )
        for coupon in coupons:
            updated = fake.apply_coupon(call.args[0], coupon)
        return answer(fake, call, updated)


def resume_subscription(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, {"billing_cycle_anchor", "proration_behavior", "proration_date", "expand"})
    anchor = get_enum(p, "billing_cycle_anchor", ("now", "unchanged"))
    get_enum(p, "proration_behavior", ("create_prorations", "none", "always_invoice"))
    get_int(p, "proration_date")
    with fake.lock:
        return answer(fake, call, fake.resume_subscription(call.args[0], billing_cycle_anchor=anchor or "now"))


def cancel_subscription(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, {"invoice_now", "prorate", "cancellation_details", "expand"})
    get_bool(p, "invoice_now")
    get_bool(p, "prorate")
    with fake.lock:
        sub = fake._subscription(call.args[0])
        details = get_dict(p, "cancellation_details")
        if details is not None:
            check_known(details, {"comment", "feedback"}, "cancellation_details")
            sub["cancellation_details"]["comment"] = get_str(details, "comment")
            sub["cancellation_details"]["feedback"] = get_str(details, "feedback")
        return answer(fake, call, fake.cancel_subscription(call.args[0]))


def list_subscriptions(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, LIST_PARAMS | {"customer", "price", "status", "collection_method"})
    customer = get_str(p, "customer")
    price = get_str(p, "price")
    status = get_enum(p, "status", (*SUBSCRIPTION_STATUSES, "all", "ended"))
    get_enum(p, "collection_method", ("charge_automatically", "send_invoice"))

    def status_ok(o: JSON) -> bool:
        if status is None:
            return bool(o["status"] not in ("canceled", "incomplete_expired"))
        if status == "all":
            return True
        if status == "ended":
            return bool(o["status"] in ("canceled", "incomplete_expired"))
        return bool(o["status"] == status)

    with fake.lock:
        objects = [
            o
            for o in fake.ordered(fake.subscriptions)
            if (customer is None or o["customer"] == customer)
            and status_ok(o)
            and (price is None or any(fake.items[si]["price"] == price for si in fake._sub_items[o["id"]]))
        ]
        return list_answer(fake, call, objects, "/v1/subscriptions", "subscription")


def search_subscriptions(fake: FakeStripe, call: Call) -> JSON:
    with fake.lock:
        return search_answer(
            fake,
            call,
            fake.ordered(fake.subscriptions),
            "/v1/subscriptions/search",
            {"status", "customer", "created", "canceled_at"},
        )


def retrieve_subscription_item(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        item = fake.items.get(call.args[0])
        if item is None:
            raise missing("subscription_item", call.args[0])
        return answer(fake, call, fake.render(item))


def list_subscription_items(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, LIST_PARAMS | {"subscription"})
    sub_id = get_str(p, "subscription", required=True)
    assert sub_id is not None
    with fake.lock:
        fake._subscription(sub_id, param="subscription")
        objects = [fake.items[si] for si in fake._sub_items[sub_id]]
        return list_answer(fake, call, objects, "/v1/subscription_items", "subscription_item")


# --- invoices ------------------------------------------------------------------------------------------
def retrieve_invoice(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        return answer(fake, call, fake.render(fake._invoice(call.args[0])))


def list_invoices(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, LIST_PARAMS | {"customer", "subscription", "status", "collection_method"})
    customer = get_str(p, "customer")
    subscription = get_str(p, "subscription")
    status = get_enum(p, "status", ("draft", "open", "paid", "uncollectible", "void"))
    with fake.lock:
        objects = [
            o
            for o in fake.ordered(fake.invoices)
            if (customer is None or o["customer"] == customer)
            and (subscription is None or o["parent"]["subscription_details"]["subscription"] == subscription)
            and (status is None or o["status"] == status)
        ]
        return list_answer(fake, call, objects, "/v1/invoices", "invoice")


def invoice_lines(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, LIST_PARAMS - {"created"})
    with fake.lock:
        lines = fake._invoice(call.args[0])["lines"]["data"]
        return list_answer(fake, call, lines, f"/v1/invoices/{call.args[0]}/lines", "line_item")


def search_invoices(fake: FakeStripe, call: Call) -> JSON:
    with fake.lock:
        return search_answer(
            fake, call, fake.ordered(fake.invoices), "/v1/invoices/search", {"customer", "status", "created", "total"}
        )


# --- money: charges, refunds, disputes, invoice payments ----------------------------------------------
def retrieve_charge(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        return answer(fake, call, fake.render(fake._charge_of(call.args[0], param="id")))


def list_filtered(
    fake: FakeStripe, call: Call, store: dict[str, JSON], filters: tuple[str, ...], url: str, kind: str
) -> JSON:
    """A list endpoint whose ``filters`` are string parameters matched exactly against the object's fields."""
    check_known(call.params, LIST_PARAMS | set(filters))
    wanted = {name: value for name in filters if (value := get_str(call.params, name)) is not None}
    with fake.lock:
        objects = [o for o in fake.ordered(store) if all(o[name] == value for name, value in wanted.items())]
        return list_answer(fake, call, objects, url, kind)


def list_charges(fake: FakeStripe, call: Call) -> JSON:
    return list_filtered(fake, call, fake.charges, ("customer", "payment_intent"), "/v1/charges", "charge")


def create_refund(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, {"charge", "payment_intent", "amount", "reason", "metadata", "expand"})
    charge_id = get_str(p, "charge")
    intent = get_str(p, "payment_intent")
    amount = get_int(p, "amount")
    reason = get_enum(p, "reason", ("duplicate", "fraudulent", "requested_by_customer"))
    metadata = apply_metadata({}, p)
    with fake.lock:
        if charge_id is None and intent is not None:
            charge_id = next((c["id"] for c in fake.charges.values() if c["payment_intent"] == intent), None)
            if charge_id is None:
                raise missing("payment_intent", intent, param="payment_intent")
        if charge_id is None:
            raise parameter_missing("charge")
        return answer(fake, call, fake.create_refund(charge_id, amount, reason, metadata))


def retrieve_refund(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        refund = fake.refunds.get(call.args[0])
        if refund is None:
            raise missing("refund", call.args[0])
        return answer(fake, call, fake.render(refund))


def list_disputes(fake: FakeStripe, call: Call) -> JSON:
    return list_filtered(fake, call, fake.disputes, ("charge", "payment_intent"), "/v1/disputes", "dispute")


def retrieve_dispute(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        dispute = fake.disputes.get(call.args[0])
        if dispute is None:
            raise missing("dispute", call.args[0])
        return answer(fake, call, fake.render(dispute))


def list_invoice_payments(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, LIST_PARAMS | {"invoice", "payment", "status"})
    invoice = get_str(p, "invoice")
    payment = get_dict(p, "payment") or {}
    check_known(payment, {"type", "payment_intent", "payment_record"}, prefix="payment")
    kind = get_enum(payment, "type", ("payment_intent", "payment_record"), param="payment[type]")
    intent = get_str(payment, "payment_intent", param="payment[payment_intent]")
    if payment and kind is None:
        raise parameter_missing("payment[type]")
    status = get_enum(p, "status", ("canceled", "open", "paid"))
    with fake.lock:
        objects = [
            o
            for o in fake.ordered(fake.invoice_payments)
            if (invoice is None or o["invoice"] == invoice)
            and (kind is None or o["payment"]["type"] == kind)
            and (intent is None or o["payment"].get("payment_intent") == intent)
            and (status is None or o["status"] == status)
        ]
        return list_answer(fake, call, objects, "/v1/invoice_payments", "invoice_payment")


def retrieve_invoice_payment(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        found = fake.invoice_payments.get(call.args[0])
        if found is None:
            raise missing("invoice_payment", call.args[0])
        return answer(fake, call, fake.render(found))


# --- coupons -------------------------------------------------------------------------------------------
def create_coupon(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(
        p,
        {"id", "percent_off", "amount_off", "currency", "duration", "duration_in_months", "name", "metadata", "expand"},
    )
    percent_text = get_str(p, "percent_off")
    try:
        percent_off = None if percent_text is None else float(percent_text)
    except ValueError:
        raise parameter_invalid("percent_off", "Invalid decimal: " + percent_text) from None
    duration = get_enum(p, "duration", ("forever", "once", "repeating")) or "once"
    coupon = fake.create_coupon(
        percent_off=percent_off,
        amount_off=get_int(p, "amount_off"),
        currency=get_str(p, "currency"),
        duration=duration,  # type: ignore[arg-type]
        duration_in_months=get_int(p, "duration_in_months"),
        name=get_str(p, "name"),
        coupon_id=get_str(p, "id"),
        metadata=apply_metadata({}, p),
    )
    return answer(fake, call, coupon)


def retrieve_coupon(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        coupon = fake.coupons.get(call.args[0])
        if coupon is None:
            raise missing("coupon", call.args[0])
        return answer(fake, call, fake.render(coupon))


# --- billing portal and events -----------------------------------------------------------------------------
def create_portal_session(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, {"customer", "return_url", "configuration", "locale", "expand"})
    customer = get_str(p, "customer", required=True)
    assert customer is not None
    session = fake.create_portal_session(
        customer, get_str(p, "return_url"), locale=get_str(p, "locale"), configuration=get_str(p, "configuration")
    )
    return answer(fake, call, session)


CUSTOMER_UPDATES = ("address", "email", "name", "phone", "shipping", "tax_id")
PRORATIONS = ("always_invoice", "create_prorations", "none")


def _flag(value: JSON, name: str, param: str, *, required: bool = True) -> bool | None:
    flag = get_bool(value, name, param=f"{param}[{name}]")
    if flag is None and required:
        raise parameter_missing(f"{param}[{name}]")
    return flag


def _strings(value: JSON, name: str, param: str, choices: tuple[str, ...] | None = None) -> list[str] | None:
    if name not in value:
        return None
    items = [] if value[name] == "" else get_list(value, name, param=f"{param}[{name}]") or []
    for i, item in enumerate(items):
        if not isinstance(item, str) or (choices is not None and item not in choices):
            raise parameter_invalid(f"{param}[{name}][{i}]", f"Invalid {param}[{name}][{i}]: must be one of {choices}")
    return list(items)


def _portal_products(fake: FakeStripe, value: JSON, param: str) -> list[JSON]:
    rows = [] if value.get("products") == "" else get_list(value, "products", param=param) or []
    products: list[JSON] = []
    for i, row in enumerate(rows):
        where = f"{param}[{i}]"
        if not isinstance(row, dict):
            raise StripeError(400, f"Invalid object: {where}", code="parameter_invalid_object", param=where)
        check_known(row, {"product", "prices", "adjustable_quantity"}, where)
        product = get_str(row, "product", required=True, param=f"{where}[product]")
        assert product is not None
        fake._product(product, param=f"{where}[product]", status=400)
        prices = _strings(row, "prices", where) or []
        if not prices:
            raise parameter_missing(f"{where}[prices]")
        for price_id in prices:
            price = fake._price(price_id, param=f"{where}[prices]", status=400)
            if price["product"] != product or not price["recurring"]:
                raise parameter_invalid(
                    f"{where}[prices]", f"The price {price_id} is not a recurring price of the product {product}."
                )
        quantity: JSON = {"enabled": False, "maximum": None, "minimum": 1}
        adjustable = get_dict(row, "adjustable_quantity", param=f"{where}[adjustable_quantity]")
        if adjustable is not None:
            qparam = f"{where}[adjustable_quantity]"
            check_known(adjustable, {"enabled", "maximum", "minimum"}, qparam)
            quantity["enabled"] = _flag(adjustable, "enabled", qparam)
            for bound in ("maximum", "minimum"):
                if bound in adjustable:
                    quantity[bound] = get_int(adjustable, bound, param=f"{qparam}[{bound}]")
            if quantity["minimum"] is None:
                quantity["minimum"] = 1
        products.append({"adjustable_quantity": quantity, "prices": prices, "product": product})
    return products


def portal_features(fake: FakeStripe, given: JSON, current: JSON) -> JSON:
    """``features[...]`` of a configuration create or update, merged onto ``current`` as Stripe merges
    nested hashes (lists replaced whole), and checked."""
    features = {key: dict(value) for key, value in current.items()}
    check_known(given, set(features), "features")
    for name, value in given.items():
        param = f"features[{name}]"
        if not isinstance(value, dict):
            raise StripeError(400, f"Invalid object: {param}", code="parameter_invalid_object", param=param)
        target = features[name]
        if name == "customer_update":
            check_known(value, {"allowed_updates", "enabled"}, param)
            updates = _strings(value, "allowed_updates", param, CUSTOMER_UPDATES)
            if updates is not None:
                target["allowed_updates"] = updates
        elif name == "invoice_history":
            check_known(value, {"enabled"}, param)
        elif name == "payment_method_update":
            check_known(value, {"enabled", "payment_method_configuration"}, param)
            if "payment_method_configuration" in value:
                target["payment_method_configuration"] = get_str(value, "payment_method_configuration")
        elif name == "subscription_cancel":
            check_known(value, {"enabled", "mode", "proration_behavior", "cancellation_reason"}, param)
            for key, choices in (("mode", ("at_period_end", "immediately")), ("proration_behavior", PRORATIONS)):
                chosen = get_enum(value, key, choices, param=f"{param}[{key}]")
                if chosen is not None:
                    target[key] = chosen
        elif name == "subscription_pause":
            check_known(value, {"enabled"}, param)
        elif name == "subscription_update":
            check_known(
                value,
                {"enabled", "default_allowed_updates", "products", "proration_behavior", "billing_cycle_anchor"},
                param,
            )
            allowed = _strings(value, "default_allowed_updates", param, ("price", "promotion_code", "quantity"))
            if allowed is not None:
                target["default_allowed_updates"] = allowed
            if "products" in value:
                target["products"] = _portal_products(fake, value, f"{param}[products]")
            chosen = get_enum(value, "proration_behavior", PRORATIONS, param=f"{param}[proration_behavior]")
            if chosen is not None:
                target["proration_behavior"] = chosen
            anchor = get_enum(
                value, "billing_cycle_anchor", ("now", "unchanged"), param=f"{param}[billing_cycle_anchor]"
            )
            if anchor is not None:
                target["billing_cycle_anchor"] = anchor
        if "enabled" in value:
            target["enabled"] = _flag(value, "enabled", param)
    update = features["subscription_update"]
    if update["enabled"] and (not update["default_allowed_updates"] or not update["products"]):
        raise StripeError(
            400,
            "To enable subscription updates, you must specify default_allowed_updates and products.",
            param="features[subscription_update]",
        )
    return features


CONFIGURATION_FIELDS = {
    "business_profile",
    "default_return_url",
    "features",
    "metadata",
    "name",
    "expand",
    "login_page",
}


def _business_profile(p: JSON) -> JSON | None:
    profile = get_dict(p, "business_profile")
    if profile is None:
        return None
    check_known(profile, {"headline", "privacy_policy_url", "terms_of_service_url"}, "business_profile")
    return {k: get_str(profile, k) for k in profile}


def create_portal_configuration(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, CONFIGURATION_FIELDS)
    given = get_dict(p, "features")
    if given is None:
        raise parameter_missing("features")
    with fake.lock:
        features = portal_features(fake, given, portal_features_defaults())
        config = fake.create_portal_configuration(
            features,
            metadata=apply_metadata({}, p),
            name=get_str(p, "name"),
            default_return_url=get_str(p, "default_return_url"),
            business_profile=_business_profile(p),
        )
        return answer(fake, call, config)


def update_portal_configuration(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, CONFIGURATION_FIELDS | {"active"})
    with fake.lock:
        current = fake.portal_configuration(call.args[0])
        changes: JSON = {}
        given = get_dict(p, "features")
        if given is not None:
            changes["features"] = portal_features(fake, given, current["features"])
        if "metadata" in p:
            changes["metadata"] = apply_metadata(current["metadata"], p)
        for key in ("name", "default_return_url"):
            if key in p:
                changes[key] = get_str(p, key)
        if "active" in p:
            changes["active"] = get_bool(p, "active")
        profile = _business_profile(p)
        if profile is not None:
            changes["business_profile"] = {**current["business_profile"], **profile}
        return answer(fake, call, fake.update_portal_configuration(call.args[0], changes))


def retrieve_portal_configuration(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        return answer(fake, call, fake.render(fake.portal_configuration(call.args[0])))


def list_portal_configurations(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, LIST_PARAMS - {"created"} | {"active", "is_default"})
    active = get_bool(p, "active")
    is_default = get_bool(p, "is_default")
    with fake.lock:
        objects = [
            o
            for o in fake.ordered(fake.portal_configurations)
            if (active is None or o["active"] == active) and (is_default is None or o["is_default"] == is_default)
        ]
        return list_answer(fake, call, objects, "/v1/billing_portal/configurations", "configuration")


# --- webhook endpoints ----------------------------------------------------------------------------------
WEBHOOK_ENDPOINT_FIELDS = {"url", "enabled_events", "api_version", "description", "metadata", "connect", "expand"}


def _enabled_events(p: JSON, *, required: bool) -> list[str] | None:
    events = get_list(p, "enabled_events")
    if events is None:
        if required:
            raise parameter_missing("enabled_events")
        return None
    if not events or not all(isinstance(e, str) and e for e in events):
        raise StripeError(400, "Invalid array", param="enabled_events")
    return [str(e) for e in events]


def _webhook_url(p: JSON, *, required: bool) -> str | None:
    url = get_str(p, "url", required=required)
    if url is not None and not url.startswith(("https://", "http://")):
        raise StripeError(400, "Invalid URL: An explicit scheme (such as https) must be provided.", param="url")
    return url


def create_webhook_endpoint(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, WEBHOOK_ENDPOINT_FIELDS)
    url = _webhook_url(p, required=True)
    events = _enabled_events(p, required=True)
    assert url is not None and events is not None
    with fake.lock:
        endpoint = fake.create_webhook_endpoint(
            url,
            events,
            api_version=get_str(p, "api_version"),
            description=get_str(p, "description"),
            metadata=apply_metadata({}, p),
        )
        return answer(fake, call, endpoint)


def update_webhook_endpoint(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, {"url", "enabled_events", "description", "metadata", "disabled", "expand"})
    with fake.lock:
        current = fake.webhook_endpoint(call.args[0])
        changes: JSON = {}
        url = _webhook_url(p, required=False)
        if url is not None:
            changes["url"] = url
        events = _enabled_events(p, required=False)
        if events is not None:
            changes["enabled_events"] = events
        if "description" in p:
            changes["description"] = get_str(p, "description")
        if "metadata" in p:
            changes["metadata"] = apply_metadata(current["metadata"], p)
        disabled = get_bool(p, "disabled")
        if disabled is not None:
            changes["status"] = "disabled" if disabled else "enabled"
        return answer(fake, call, fake.update_webhook_endpoint(call.args[0], changes))


def retrieve_webhook_endpoint(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        return answer(fake, call, fake.render(fake.webhook_endpoint(call.args[0])))


def list_webhook_endpoints(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, LIST_PARAMS - {"created"})
    with fake.lock:
        objects = list(fake.ordered(fake.webhook_endpoints))
        return list_answer(fake, call, objects, "/v1/webhook_endpoints", "webhook_endpoint")


def retrieve_event(fake: FakeStripe, call: Call) -> JSON:
    check_known(call.params, {"expand"})
    with fake.lock:
        event = fake.events.get(call.args[0])
        if event is None:
            raise missing("event", call.args[0])
        return answer(fake, call, fake.render(event))


def list_events(fake: FakeStripe, call: Call) -> JSON:
    p = call.params
    check_known(p, LIST_PARAMS | {"type", "types", "delivery_success"})
    type_ = get_str(p, "type")
    types = get_list(p, "types")
    if type_ is not None and types is not None:
        raise StripeError(400, "You may only specify one of these parameters: type, types.")
    wanted = [type_] if type_ is not None else types

    def type_ok(event_type: str) -> bool:
        if wanted is None:
            return True
        return any(event_type == w or (w.endswith("*") and event_type.startswith(w[:-1])) for w in wanted)

    with fake.lock:
        objects = [o for o in fake.ordered(fake.events) if type_ok(o["type"])]
        return list_answer(fake, call, objects, "/v1/events", "event")


ROUTES: list[tuple[str, str, Operation]] = [
    ("POST", r"/v1/products", create_product),
    ("GET", r"/v1/products", list_products),
    ("GET", r"/v1/products/search", search_products),
    ("GET", r"/v1/products/([^/]+)", retrieve_product),
    ("POST", r"/v1/products/([^/]+)", update_product),
    ("POST", r"/v1/prices", create_price),
    ("GET", r"/v1/prices", list_prices),
    ("GET", r"/v1/prices/search", search_prices),
    ("GET", r"/v1/prices/([^/]+)", retrieve_price),
    ("POST", r"/v1/prices/([^/]+)", update_price),
    ("POST", r"/v1/customers", create_customer),
    ("GET", r"/v1/customers", list_customers),
    ("GET", r"/v1/customers/search", search_customers),
    ("GET", r"/v1/customers/([^/]+)", retrieve_customer),
    ("POST", r"/v1/customers/([^/]+)", update_customer),
    ("DELETE", r"/v1/customers/([^/]+)", delete_customer),
    ("POST", r"/v1/checkout/sessions", create_checkout_session),
    ("GET", r"/v1/checkout/sessions", list_checkout_sessions),
    ("GET", r"/v1/checkout/sessions/([^/]+)", retrieve_checkout_session),
    ("GET", r"/v1/checkout/sessions/([^/]+)/line_items", checkout_line_items),
    ("POST", r"/v1/checkout/sessions/([^/]+)/expire", expire_checkout_session),
    ("GET", r"/v1/subscriptions", list_subscriptions),
    ("GET", r"/v1/subscriptions/search", search_subscriptions),
    ("GET", r"/v1/subscriptions/([^/]+)", retrieve_subscription),
    ("POST", r"/v1/subscriptions/([^/]+)/resume", resume_subscription),
    ("POST", r"/v1/subscriptions/([^/]+)", update_subscription),
    ("DELETE", r"/v1/subscriptions/([^/]+)", cancel_subscription),
    ("GET", r"/v1/subscription_items", list_subscription_items),
    ("GET", r"/v1/subscription_items/([^/]+)", retrieve_subscription_item),
    ("GET", r"/v1/invoices", list_invoices),
    ("GET", r"/v1/invoices/search", search_invoices),
    ("GET", r"/v1/invoices/([^/]+)", retrieve_invoice),
    ("GET", r"/v1/invoices/([^/]+)/lines", invoice_lines),
    ("GET", r"/v1/charges", list_charges),
    ("GET", r"/v1/charges/([^/]+)", retrieve_charge),
    ("POST", r"/v1/refunds", create_refund),
    ("GET", r"/v1/refunds/([^/]+)", retrieve_refund),
    ("GET", r"/v1/disputes", list_disputes),
    ("GET", r"/v1/disputes/([^/]+)", retrieve_dispute),
    ("GET", r"/v1/invoice_payments", list_invoice_payments),
    ("GET", r"/v1/invoice_payments/([^/]+)", retrieve_invoice_payment),
    ("POST", r"/v1/coupons", create_coupon),
    ("GET", r"/v1/coupons/([^/]+)", retrieve_coupon),
    ("POST", r"/v1/billing_portal/sessions", create_portal_session),
    ("POST", r"/v1/billing_portal/configurations", create_portal_configuration),
    ("GET", r"/v1/billing_portal/configurations", list_portal_configurations),
    ("GET", r"/v1/billing_portal/configurations/([^/]+)", retrieve_portal_configuration),
    ("POST", r"/v1/billing_portal/configurations/([^/]+)", update_portal_configuration),
    ("POST", r"/v1/webhook_endpoints", create_webhook_endpoint),
    ("GET", r"/v1/webhook_endpoints", list_webhook_endpoints),
    ("GET", r"/v1/webhook_endpoints/([^/]+)", retrieve_webhook_endpoint),
    ("POST", r"/v1/webhook_endpoints/([^/]+)", update_webhook_endpoint),
    ("GET", r"/v1/events", list_events),
    ("GET", r"/v1/events/([^/]+)", retrieve_event),
]

_COMPILED = [(method, re.compile(pattern + "$"), op) for method, pattern, op in ROUTES]


def route(method: str, path: str) -> tuple[Operation, tuple[str, ...]] | None:
    for route_method, pattern, op in _COMPILED:
        if route_method == method:
            match = pattern.match(path)
            if match:
                return op, match.groups()
    return None
