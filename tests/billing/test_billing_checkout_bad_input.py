"""Bad input on POST /v1/checkout/sessions, with Stripe configured (the fake Stripe, catalog synced): each
answer is problem+json with a stable ``code`` (and the field at fault where there is one), never a 500, and
nothing is stored: no checkout row, customer, license, idempotency record or audit event, and no Checkout
Session (nor anything else) asked of Stripe."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fakestripe import FakeStripe
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from licensing.kit.fields import EMAIL_MAX, NAME_MAX
from licensing.models import AuditEvent, Checkout, Customer, IdempotencyRecord, License

PROBLEM = "application/problem+json"
CHECKOUT = "/v1/checkout/sessions"
GOOD = {"interval": "month", "seats": 5, "email": "ada@acme.example", "company": "Acme", "name": "Ada"}
HUGE = 70 * 1024  # over the default 64 KiB body limit


@dataclass(frozen=True)
class Raw:
    """A body sent as these exact bytes."""

    data: bytes
    content_type: str = "application/json"
    chunked: bool = False


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 8192):
        yield data[start : start + 8192]


@dataclass
class Buyer:
    client: Any
    fake: FakeStripe
    engine: Engine

    def post(self, body: Any) -> Any:
        if isinstance(body, Raw):
            content: Any = _chunks(body.data) if body.chunked else body.data
            return self.client.post(CHECKOUT, content=content, headers={"Content-Type": body.content_type})
        return self.client.post(CHECKOUT, json=body)

    def expect(self, cases: list[tuple[str, Any, int, str, str | None]]) -> None:
        """Each ``(label, body, status, code, field)``: the problem answered; ``field`` is the one at fault
        (``field`` of a core refusal, one of ``errors[].field`` of a validation_error)."""
        for label, body, status, code, field in cases:
            response = self.post(body)
            where = f"{label}: {response.status_code} {response.text[:300]}"
            assert response.status_code == status, where
            assert response.headers["content-type"].split(";")[0] == PROBLEM, where
            problem = response.json()
            assert problem["status"] == status and problem["code"] == code, where
            assert all(isinstance(problem[k], str) and problem[k] for k in ("type", "title", "detail")), where
            if field is not None:
                fields = {problem.get("field")} | {e["field"] for e in problem.get("errors", [])}
                assert field in fields, where

    def assert_nothing_stored(self) -> None:
        with Session(self.engine) as session:
            for model in (Checkout, Customer, License, IdempotencyRecord, AuditEvent):
                count = session.scalar(select(func.count()).select_from(model))
                assert count == 0, f"{model.__tablename__}: {count} rows"
        assert self.fake.sessions == {} and self.fake.customers == {}
        asked = [
            f"{r.method} {r.path}"
            for r in self.fake.requests
            if not r.path.startswith(
                ("/v1/products", "/v1/prices", "/v1/billing_portal/configurations")
            )  # sync-catalog's
        ]
        assert asked == [], f"Stripe was asked: {asked}"


@pytest.fixture
def buyer(client: Any, fake_stripe: FakeStripe, engine: Engine, catalog_in_stripe: None) -> Iterator[Buyer]:
    # The app of tests/conftest.py, with this folder's settings: Stripe at the fake, webhooks on.
    buyer = Buyer(client, fake_stripe, engine)
    yield buyer
    buyer.assert_nothing_stored()


def test_the_good_body_opens_a_checkout(client: Any, fake_stripe: FakeStripe, catalog_in_stripe: None) -> None:
    """The control: what the other tests spoil is accepted as it is, so their refusals are the input's fault."""
    response = client.post(CHECKOUT, json=GOOD)
    assert response.status_code == 201, response.text
    assert len(fake_stripe.sessions) == 1


def test_malformed_json_is_a_400(buyer: Buyer) -> None:
    buyer.expect(
        [
            (f"malformed {raw.data[:24]!r}", raw, 400, "malformed_json", None)
            for raw in (
                Raw(b"{"),
                Raw(b'{"interval": "month",}'),
                Raw(b'{"interval": }'),
                Raw(b"not json"),
                Raw(b"{'interval': 'month'}"),
                Raw(b'{"interval": "month"} trailing'),
                Raw(b'{"interval": "unterminated}'),
                Raw(b'{"interval": "\xff\xfe"}'),  # not UTF-8
                Raw(b"[" * 30_000 + b"]" * 30_000),  # nested past the parser's limit
            )
        ]
    )


def test_a_body_that_is_not_an_object_is_a_422(buyer: Buyer) -> None:
    buyer.expect(
        [
            *[
                (f"not an object: {value!r}", value, 422, "validation_error", None)
                for value in ([], [GOOD], "x", 5, True)
            ],
            ("null", None, 422, "validation_error", None),
            (
                "form-encoded",
                Raw(b"interval=month&seats=5", "application/x-www-form-urlencoded"),
                422,
                "validation_error",
                None,
            ),
            ("JSON sent as text/plain", Raw(b'{"interval": "month"}', "text/plain"), 422, "validation_error", None),
        ]
    )


def test_an_oversized_body_is_a_413(buyer: Buyer) -> None:
    padded = b'{"interval": "month", "seats": 5, "email": "ada@acme.example", "company": "' + b"a" * HUGE + b'"}'
    buyer.expect(
        [
            ("oversized", Raw(padded), 413, "payload_too_large", None),
            ("oversized, chunked", Raw(padded, chunked=True), 413, "payload_too_large", None),
        ]
    )


@pytest.mark.parametrize("field", ["email", "company", "name"])
def test_nul_and_control_characters_are_a_422(buyer: Buyer, field: str) -> None:
    value = GOOD[field]
    assert isinstance(value, str)
    buyer.expect(
        [
            (f"NUL at the end of {field}", {**GOOD, field: value + "\x00"}, 422, "validation_error", field),
            (f"NUL inside {field}", {**GOOD, field: value[:2] + "\x00" + value[2:]}, 422, "validation_error", field),
            (f"only NUL in {field}", {**GOOD, field: "\x00"}, 422, "validation_error", field),
            (f"an escape in {field}", {**GOOD, field: value[:1] + "\x1b" + value[1:]}, 422, "validation_error", field),
            (f"a bidi override in {field}", {**GOOD, field: value + "\u202e"}, 422, "validation_error", field),
        ]
    )


def test_wrong_types_are_a_422(buyer: Buyer) -> None:
    wrong: dict[str, list[Any]] = {
        "seats": ["5", "five", True, False, 2.5, 5.0, None, [5], {"seats": 5}],
        "interval": [5, True, None, ["month"], {"month": 1}],
        "email": [5, None, ["ada@acme.example"], {"address": "ada@acme.example"}],
        "company": [5, None, ["Acme"], False],
        "name": [5, ["Ada"], True],
    }
    buyer.expect(
        [
            (f"{field} as {value!r}", {**GOOD, field: value}, 422, "validation_error", field)
            for field, values in wrong.items()
            for value in values
        ]
    )
    missing = [
        (f"no {field}", {k: v for k, v in GOOD.items() if k != field}, 422, "validation_error", field)
        for field in ("seats", "interval", "email", "company")
    ]
    buyer.expect([*missing, ("an unknown field", {**GOOD, "coupon": "FREE"}, 422, "validation_error", "coupon")])


def test_an_unknown_interval_is_a_422(buyer: Buyer) -> None:
    buyer.expect(
        [
            (f"interval {value!r}", {**GOOD, "interval": value}, 422, "invalid_interval", "interval")
            for value in ("week", "day", "monthly", "yearly", "MONTH", "Year", "", "month\u200b")
        ]
    )


def test_over_long_fields_are_a_422(buyer: Buyer) -> None:
    long_email = "a" * 60 + "@" + "b" * (EMAIL_MAX - 60) + ".example"
    buyer.expect(
        [
            ("interval over 20 characters", {**GOOD, "interval": "month" * 5}, 422, "validation_error", "interval"),
            ("email over its limit", {**GOOD, "email": long_email}, 422, "validation_error", "email"),
            ("company over its limit", {**GOOD, "company": "c" * (NAME_MAX + 1)}, 422, "validation_error", "company"),
            ("name over its limit", {**GOOD, "name": "n" * (NAME_MAX + 1)}, 422, "validation_error", "name"),
            ("company far over", {**GOOD, "company": "c" * 10_000}, 422, "validation_error", "company"),
        ]
    )
