"""Does an object have the shape of Stripe's own? Checked against Stripe's published examples.

``fixtures3.json`` (next to this file) is Stripe's ``openapi/fixtures3.json``: one example object per
resource, what Stripe's own mock server answers. ``shape_problems(obj)`` compares an object the fake
returned with the example of its kind, recursively: every field of the example must be there, with the
same JSON type (objects compared field by field, arrays element by element against the example's first
element). A ``null`` in the example stands for any type.

One allowance, because Stripe's examples fill fields that real Stripe leaves ``null`` (a subscription's
``cancel_at``, ``pause_collection``, ``trial_end``...): our value may be ``null`` where the example has a
value when the official SDK (installed in the venv, generated from Stripe's OpenAPI spec) declares that
field ``Optional``. Returning a made-up ``cancel_at`` would tell the service a cancellation is pending.
An expanded field (an object where the example has an id) is compared with the example of its own kind.
"""

from __future__ import annotations

import importlib
import inspect
import json
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

import stripe
from stripe._object_classes import OBJECT_CLASSES

from .wire import JSON

FIXTURES = Path(__file__).with_name("fixtures3.json")


@cache
def fixtures() -> dict[str, JSON]:
    resources: dict[str, JSON] = json.loads(FIXTURES.read_text())["resources"]
    return resources


def fixture_for(obj: JSON) -> JSON:
    kind = obj.get("object")
    if kind == "list" or kind == "search_result":
        data = obj.get("data") or []
        element = fixture_for(data[0]) if data else {}
        example: JSON = {"object": kind, "data": [element] if element else [], "has_more": False, "url": "/v1/x"}
        if kind == "search_result":
            example["next_page"] = None
        return example
    if obj.get("deleted") is True and f"deleted_{kind}" in fixtures():
        return fixtures()[f"deleted_{kind}"]
    if not isinstance(kind, str) or kind not in fixtures():
        raise KeyError(f"no Stripe example for object {kind!r}")
    return fixtures()[kind]


@cache
def sdk_class(kind: str) -> type | None:
    entry = OBJECT_CLASSES.get(kind)
    if entry is None:
        return None
    module, name = entry
    found: type = getattr(importlib.import_module(module), name)
    return found


def _resolve(tp: Any) -> Any:
    if isinstance(tp, typing.ForwardRef | str):
        name = tp.__forward_arg__ if isinstance(tp, typing.ForwardRef) else tp
        found = getattr(stripe, name, None)
        return found if isinstance(found, type) else None
    return tp


def field_type(cls: type | None, name: str) -> Any:
    if cls is None:
        return None
    for klass in cls.__mro__:
        annotations = inspect.get_annotations(klass)
        if name in annotations:
            return annotations[name]
    return None


def nullable(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def child_class(tp: Any) -> type | None:
    """The StripeObject class an annotation holds (through Optional, List, ListObject, ExpandableField)."""
    tp = _resolve(tp)
    if tp is None:
        return None
    if isinstance(tp, type) and issubclass(tp, stripe.StripeObject):
        return tp
    for arg in typing.get_args(tp):
        found = child_class(arg)
        if found is not None and found is not stripe.ListObject:
            return found
    origin = typing.get_origin(tp)
    if isinstance(origin, type) and issubclass(origin, stripe.StripeObject) and origin is not stripe.ListObject:
        return origin
    return None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def shape_problems(obj: JSON, example: JSON | None = None, *, path: str | None = None) -> list[str]:
    """What ``obj`` lacks or has of another type, compared with Stripe's example of its kind."""
    example = fixture_for(obj) if example is None else example
    kind = obj.get("object")
    problems: list[str] = []
    if kind in ("list", "search_result"):
        element = sdk_class(str(obj["data"][0].get("object"))) if obj.get("data") else None
        _compare_object(obj, example, None, path or str(kind), problems, element=element)
    else:
        _compare_object(obj, example, sdk_class(kind) if isinstance(kind, str) else None, path or str(kind), problems)
    return problems


def _compare_object(
    ours: JSON, example: JSON, cls: type | None, path: str, problems: list[str], *, element: type | None = None
) -> None:
    """Compare field by field; ``element`` is the class of a list object's ``data`` elements."""
    if isinstance(ours.get("object"), str) and ours.get("object") != example.get("object") and "object" in example:
        # A polymorphic slot (an event's data.object) or an expanded field: use the example of our kind.
        try:
            example = fixture_for(ours)
        except KeyError:
            problems.append(f"{path}: no Stripe example for object {ours.get('object')!r}")
            return
        cls = sdk_class(str(ours["object"]))
    for key, expected in example.items():
        here = f"{path}.{key}"
        if key not in ours:
            problems.append(f"{here}: missing")
            continue
        if element is not None and key == "data":
            _compare_value(ours[key], expected, list[element], here, problems)  # type: ignore[valid-type]
        else:
            _compare_value(ours[key], expected, field_type(cls, key), here, problems)


def _compare_value(ours: Any, expected: Any, tp: Any, path: str, problems: list[str]) -> None:
    if expected is None:
        return
    if ours is None:
        if not nullable(tp):
            problems.append(f"{path}: null where Stripe's example has {json_type(expected)} (and the SDK no Optional)")
        return
    child = child_class(tp)
    if isinstance(expected, str) and isinstance(ours, dict) and "object" in ours:
        # An expanded reference: compare with the example of its own kind.
        try:
            problems.extend(shape_problems(ours, path=path))
        except KeyError as exc:
            problems.append(f"{path}: {exc}")
        return
    if json_type(ours) != json_type(expected):
        problems.append(f"{path}: {json_type(ours)} where Stripe's example has {json_type(expected)}")
        return
    if isinstance(expected, dict) and ours.get("object") in ("list", "search_result"):
        _compare_object(ours, expected, None, path, problems, element=child)
    elif isinstance(expected, dict):
        _compare_object(ours, expected, child, path, problems)
    elif isinstance(expected, list) and expected:
        for index, element in enumerate(ours):
            _compare_value(element, expected[0], child, f"{path}[{index}]", problems)
