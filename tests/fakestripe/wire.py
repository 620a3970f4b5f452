"""Stripe's wire format: bracket-notation form decoding, error objects, ids and parameter readers."""

from __future__ import annotations

import secrets
import string
from typing import Any

JSON = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits

# Prefix and random length of each kind of id, as Stripe shapes them (test mode).
ID_SHAPES: dict[str, tuple[str, int]] = {
    "product": ("prod_", 14),
    "price": ("price_1", 23),
    "customer": ("cus_", 14),
    "checkout.session": ("cs_test_a1", 58),
    "item": ("li_1", 23),
    "subscription": ("sub_1", 23),
    "subscription_item": ("si_", 14),
    "invoice": ("in_1", 23),
    "line_item": ("il_1", 23),
    "billing_portal.session": ("bps_1", 23),
    "billing_portal.configuration": ("bpc_1", 23),
    "discount": ("di_1", 23),
    "event": ("evt_1", 23),
    "request": ("req_", 14),
    "webhook_endpoint": ("we_1", 23),
    "charge": ("ch_3", 24),
    "payment_intent": ("pi_3", 24),
    "refund": ("re_3", 24),
    "dispute": ("dp_1", 23),
    "invoice_payment": ("inpay_1", 23),
}


def new_id(kind: str) -> str:
    prefix, length = ID_SHAPES[kind]
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def random_token(length: int = 32) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class StripeError(Exception):
    """An error answered as Stripe's error object ``{"error": {...}}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.decline_code = decline_code

    def body(self, request_id: str | None = None) -> JSON:
        error: JSON = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        if request_id is not None:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def missing(kind: str, ident: str, *, param: str | None = "id", status: int = 404) -> StripeError:
    """Stripe's ``resource_missing`` error ("No such customer: 'cus_x'")."""
    return StripeError(status, f"No such {kind}: '{ident}'", code="resource_missing", param=param)


def parameter_missing(param: str) -> StripeError:
    return StripeError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def parameter_invalid(param: str, message: str) -> StripeError:
    return StripeError(400, message, code="parameter_invalid", param=param)


# --- bracket notation ----------------------------------------------------------------------------
def _split_key(key: str) -> list[str]:
    """``line_items[0][price]`` -> ``["line_items", "0", "price"]``; ``expand[]`` -> ``["expand", ""]``."""
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    parts = [head]
    rest = "[" + rest
    while rest:
        if not rest.startswith("[") or "]" not in rest:
            raise StripeError(400, f"Invalid parameter name: {key}", code="parameter_unknown", param=key)
        inner, _, rest = rest[1:].partition("]")
        parts.append(inner)
    return parts


def _to_lists(node: Any) -> Any:
    """Dicts whose keys are all indexes (from ``[0]``/``[]``) become lists, in index order."""
    if not isinstance(node, dict):
        return node
    converted = {key: _to_lists(value) for key, value in node.items()}
    if converted and all(isinstance(key, int) for key in converted):
        return [converted[key] for key in sorted(converted)]
    return {str(key): value for key, value in converted.items()}


def decode_form(pairs: list[tuple[str, str]]) -> JSON:
    """Decode ``application/x-www-form-urlencoded`` pairs in Stripe's bracket notation into nested data.

    ``a[b]=1`` -> ``{"a": {"b": "1"}}``; ``a[0][b]=1`` and ``a[][b]`` -> lists; values stay strings
    (Stripe's own parser types them per parameter). A repeated plain key keeps the last value.
    """
    root: dict[Any, Any] = {}
    appended: dict[tuple[Any, ...], int] = {}
    for key, value in pairs:
        parts = _split_key(key)
        node: dict[Any, Any] = root
        trail: tuple[Any, ...] = ()
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            index: Any
            if depth > 0 and part == "":
                # "[]" appends; "a[][b]=1&a[][c]=2" fills one element per distinct sub-key like Rack.
                count = appended.get(trail, 0)
                if last or not isinstance(node.get(count - 1), dict) or parts[depth + 1] in node[count - 1]:
                    appended[trail] = count + 1
                    index = count
                else:
                    index = count - 1
            elif depth > 0 and part.isdigit():
                index = int(part)
            else:
                index = part
            trail = (*trail, index)
            if last:
                node[index] = value
            else:
                child = node.get(index)
                if not isinstance(child, dict):
                    child = {}
                    node[index] = child
                node = child
    result = _to_lists(root)
    assert isinstance(result, dict)
    return result


# --- parameter readers ---------------------------------------------------------------------------
def check_known(params: JSON, allowed: set[str], prefix: str = "") -> None:
    """Stripe rejects parameters it does not know; so does the fake (for what it does not emulate)."""
    for key in params:
        if key not in allowed:
            name = f"{prefix}[{key}]" if prefix else key
            raise StripeError(400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name)


def get_str(params: JSON, name: str, *, required: bool = False, param: str | None = None) -> str | None:
    value = params.get(name)
    label = param or name
    if value is None or value == "":
        if required:
            raise parameter_missing(label)
        return None
    if not isinstance(value, str):
        raise StripeError(400, f"Invalid string: {value!r}", code="parameter_invalid_string", param=label)
    return value


def get_int(params: JSON, name: str, *, required: bool = False, param: str | None = None) -> int | None:
    value = get_str(params, name, required=required, param=param)
    if value is None:
        return None
    label = param or name
    try:
        return int(value)
    except ValueError:
        raise StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=label) from None


def get_bool(params: JSON, name: str, *, param: str | None = None) -> bool | None:
    value = get_str(params, name, param=param)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise StripeError(400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=param or name)
    return value == "true"


def get_dict(params: JSON, name: str, *, param: str | None = None) -> JSON | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise StripeError(400, f"Invalid object: {name}", code="parameter_invalid_object", param=param or name)
    return value


def get_list(params: JSON, name: str, *, param: str | None = None) -> list[Any] | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, list):
        raise StripeError(400, f"Invalid array: {name}", code="parameter_invalid_array", param=param or name)
    return value


def get_enum(params: JSON, name: str, choices: tuple[str, ...], *, param: str | None = None) -> str | None:
    value = get_str(params, name, param=param)
    if value is not None and value not in choices:
        label = param or name
        raise StripeError(400, f"Invalid {label}: must be one of {', '.join(choices)}", param=label)
    return value


def apply_metadata(current: dict[str, str], params: JSON, *, param: str = "metadata") -> dict[str, str]:
    """Stripe's metadata update: keys merge, an empty value unsets a key, ``metadata=`` clears all."""
    if param not in params:
        return current
    value = params[param]
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeError(400, "Invalid object", code="parameter_invalid_object", param=param)
    merged = dict(current)
    for key, item in value.items():
        if not isinstance(item, str):
            raise StripeError(400, f"Invalid metadata value for {key}", param=f"{param}[{key}]")
        if len(key) > 40:
            raise StripeError(400, "Metadata keys can be at most 40 characters.", param=f"{param}[{key}]")
        if len(item) > 500:
            raise StripeError(400, "Metadata values can be at most 500 characters.", param=f"{param}[{key}]")
        if item == "":
            merged.pop(key, None)
        else:
            merged[key] = item
    if len(merged) > 50:
        raise StripeError(400, "Metadata can have at most 50 keys.", param=param)
    return merged
