"""Plain regression tests for what the OpenAPI fuzzing (test_openapi_fuzz.py) found:

* a 405 named only one route's method in ``Allow`` (``Allow: POST`` on /v1/customers, which GET also
  serves): FastAPI has a route per method, and Starlette's 405 lists the methods of the first one;
* unknown customer and license ids answered 404, which the document did not declare;
* a webhook body signed with the webhook secret (so only Stripe, or whoever holds the secret, can send it)
  whose ``data`` was not an object, whose ``created`` was out of range, or with NUL (PostgreSQL) or a lone
  surrogate in an id answered 500 (``billing.webhooks.receive``, ``billing.client.event_target``);
  so did one nested too deep for the JSON parser or the SDK's objects (50,000 ``[`` inside ``data``, or only
  500): the ``RecursionError`` escaped. A float ``created`` (``1e20``, or ``1e400``, infinity) is no time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fakestripe import sign
from pydantic import SecretStr

from licensing.kit.settings import Settings
from licensing.models import License, StripeEvent

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert all(isinstance(body[field], str) for field in ("type", "title", "detail"))
    return body


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/v1/customers", {"GET", "POST"}),
        ("DELETE", "/v1/customers", {"GET", "POST"}),
        ("PUT", "/v1/licenses", {"GET", "POST"}),
        ("PATCH", "/v1/licenses/lic_unknown", {"GET"}),
        ("GET", "/v1/licenses/lic_unknown/renew", {"POST"}),
        ("DELETE", "/v1/trials", {"POST"}),
    ],
)
def test_a_405_allows_every_method_of_the_path(
    client: Any, auth: dict[str, str], method: str, path: str, allowed: set[str]
) -> None:
    response = client.request(method, path, headers=auth)
    assert_problem(response, 405, "method_not_allowed")
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
    for other in allowed:
        # Each method Allow names is served there: none of them answers 405.
        assert client.request(other, path, headers=auth).status_code != 405


NOT_FOUND = [
    ("GET", "/v1/customers/{customer_id}", "/v1/customers/cus_unknown", None, "customer_not_found"),
    ("GET", "/v1/licenses/{license_id}", "/v1/licenses/lic_unknown", None, "license_not_found"),
    ("GET", "/v1/licenses/{license_id}/file", "/v1/licenses/lic_unknown/file", None, "license_not_found"),
    ("POST", "/v1/licenses", "/v1/licenses", {"customer_id": "cus_unknown", "tier": "free"}, "customer_not_found"),
    (
        "POST",
        "/v1/licenses/{license_id}/renew",
        "/v1/licenses/lic_unknown/renew",
        {"duration_days": 30},
        "license_not_found",
    ),
    (
        "POST",
        "/v1/licenses/{license_id}/revoke",
        "/v1/licenses/lic_unknown/revoke",
        {"reason": "test"},
        "license_not_found",
    ),
]


@pytest.mark.parametrize(("method", "template", "path", "body", "code"), NOT_FOUND)
def test_an_unknown_id_is_a_documented_404(
    client: Any, auth: dict[str, str], method: str, template: str, path: str, body: Any, code: str
) -> None:
    assert_problem(client.request(method, path, headers=auth, json=body), 404, code)
    declared = client.get("/openapi.json").json()["paths"][template][method.lower()]["responses"]
    assert PROBLEM in declared["404"]["content"]


def test_refreshing_a_license_this_service_does_not_know_is_a_documented_404(
    client: Any, auth: dict[str, str], session_factory: Callable[[], Any]
) -> None:
    customer = client.post("/v1/customers", headers=auth, json={"name": "Ada", "email": "ada@example.com"})
    assert customer.status_code == 201, customer.text
    issued = client.post("/v1/licenses", headers=auth, json={"customer_id": customer.json()["id"], "tier": "free"})
    assert issued.status_code == 201, issued.text
    with session_factory() as session:
        session.execute(sa.delete(License).where(License.id == issued.json()["license"]["id"]))

    response = client.post("/v1/licenses/refresh", json={"license_file": issued.json()["license_file"]})

    assert_problem(response, 404, "license_not_found")
    declared = client.get("/openapi.json").json()["paths"]["/v1/licenses/refresh"]["post"]["responses"]
    assert PROBLEM in declared["404"]["content"]


@pytest.fixture(name="settings")
def webhook_settings(settings: Settings, stripe_webhook_secret: str) -> Settings:
    """Webhooks enabled (intake never calls Stripe, so no API key is needed)."""
    return settings.model_copy(update={"stripe_webhook_secret": SecretStr(stripe_webhook_secret)})


def _event(**fields: Any) -> bytes:
    event = {"id": "evt_fuzz_1", "object": "event", "type": "checkout.session.completed", "created": 1795435200}
    event.update(livemode=False, data={"object": {"id": "cs_test_fuzz", "object": "checkout.session"}})
    return json.dumps({**event, **fields}).encode()


def _nested(depth: int, opening: str = "[", closing: str = "]") -> bytes:
    """A signed-able event whose ``data`` holds ``depth`` nested lists (or objects)."""
    inner = (opening * depth + ("1" if opening != "[" else "") + closing * depth).encode()
    event = _event(data={"object": {"id": "cs_test_fuzz", "object": "checkout.session"}, "deep": "@@"})
    return event.replace(b'"@@"', inner)


NESTED_BODIES = [
    pytest.param(_nested(50_000), id="lists-50000-deep"),
    pytest.param(_nested(50_000, '{"a": ', "}"), id="objects-50000-deep"),
    pytest.param(_nested(2_000), id="lists-2000-deep"),
    pytest.param(_nested(500), id="lists-500-deep"),  # parsed, but too deep for the SDK's StripeObject
    pytest.param(_nested(500, '{"a": ', "}"), id="objects-500-deep"),
]
FLOAT_CREATED = [
    pytest.param(_event(created=1e20), id="created-1e20-float"),
    pytest.param(_event().replace(b'"created": 1795435200', b'"created": 1e400'), id="created-1e400-infinity"),
    pytest.param(_event().replace(b'"created": 1795435200', b'"created": NaN'), id="created-nan"),
]

SIGNED_BODIES = [
    *NESTED_BODIES,
    *FLOAT_CREATED,
    pytest.param(_event(data=[None, None]), id="data-is-a-list"),
    pytest.param(
        _event(data={"object": "x"}),
        id="data-object-is-a-string",
    ),
    pytest.param(
        _event(type="invoice.paid", data={"object": {"object": "invoice", "parent": "x"}}),
        id="invoice-parent-is-a-string",
    ),
    pytest.param(
        _event(created=1795435200000),
        id="created-in-milliseconds",
    ),
    pytest.param(_event(created=-(10**15)), id="created-far-negative"),
    pytest.param(
        _event().replace(b'"evt_fuzz_1"', b'"evt_\\ud800"'),
        id="lone-surrogate-in-the-id",
    ),
    pytest.param(_event(id="evt_\x00"), id="nul-in-the-event-id"),
    pytest.param(_event(data={"object": {"id": "cs_\x00", "object": "checkout.session"}}), id="nul-in-the-object-id"),
    pytest.param(_event(data="x"), id="data-is-a-string"),
    pytest.param(b"[1, 2]", id="not-an-object"),
]


@pytest.mark.parametrize("body", SIGNED_BODIES)
def test_a_signed_webhook_body_is_never_a_server_error(client: Any, stripe_webhook_secret: str, body: bytes) -> None:
    """Stored or ignored (200), or refused as ``malformed_event``: Stripe's word is not trusted blindly."""
    header = sign(body, stripe_webhook_secret, int(time.time()))
    response = client.post(
        "/v1/webhooks/stripe", content=body, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )
    if response.status_code != 200:
        assert_problem(response, 400, "malformed_event")


def _post_signed(client: Any, secret: str, body: bytes) -> Any:
    header = sign(body, secret, int(time.time()))
    return client.post(
        "/v1/webhooks/stripe", content=body, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )


@pytest.mark.parametrize("body", NESTED_BODIES)
def test_a_signed_body_nested_too_deep_is_a_malformed_event(
    client: Any, stripe_webhook_secret: str, body: bytes, session_factory: Callable[[], Any]
) -> None:
    assert_problem(_post_signed(client, stripe_webhook_secret, body), 400, "malformed_event")
    with session_factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(StripeEvent)) == 0


@pytest.mark.parametrize("body", FLOAT_CREATED)
def test_a_float_created_is_stored_with_the_time_it_was_received(
    client: Any, stripe_webhook_secret: str, body: bytes, session_factory: Callable[[], Any]
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    response = _post_signed(client, stripe_webhook_secret, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "event": "evt_fuzz_1", "stored": True}
    with session_factory() as session:
        [event] = session.scalars(sa.select(StripeEvent)).all()
        assert before - timedelta(seconds=5) <= event.created <= datetime.now(UTC) + timedelta(seconds=5)
