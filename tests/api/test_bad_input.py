"""Bad input on every endpoint that takes a body or parameters: a clean problem+json with a stable
code, never a 500, and nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_testkit import Api, check_problem

NOW = datetime.now(UTC).replace(microsecond=0)


def iso(delta_days: float) -> str:
    return (NOW + timedelta(days=delta_days)).isoformat()


@dataclass(frozen=True)
class Raw:
    """A body sent as these exact bytes, as JSON."""

    data: bytes
    chunked: bool = False


MALFORMED = [
    Raw(b"{"),
    Raw(b'{"name": }'),
    Raw(b"not json"),
    Raw(b'{"a": 1,}'),
    Raw(b"{'single': 'quotes'}"),
    Raw(b'{"a": "unterminated}'),
    Raw(b"\xff\xfe{\x00}"),
    Raw(b'{"a": 1} trailing'),
    Raw(b"[" * 30_000 + b"]" * 30_000),
]
NOT_AN_OBJECT = [[], [1], "text", 5, None, True]
HUGE = 70 * 1024


@dataclass
class World:
    api: Api
    customer_id: str
    license_id: str
    counts: dict[str, int]
    license_before: dict[str, Any]

    def send(self, method: str, path: str, payload: Any = None, params: dict[str, Any] | None = None) -> Any:
        headers = dict(self.api.auth)
        if isinstance(payload, Raw):
            headers["Content-Type"] = "application/json"
            content: Any = payload.data
            if payload.chunked:
                content = _chunks(payload.data)
            return self.api.client.request(method, path, content=content, headers=headers, params=params)
        if method == "GET":
            return self.api.client.get(path, headers=headers, params=params)
        return self.api.client.request(method, path, json=payload, headers=headers, params=params)

    def expect(self, cases: list[tuple[str, Any, int, str | None]], method: str, path: str) -> None:
        for label, payload, status, code in cases:
            response = self.send(method, path, payload)
            assert response.status_code != 500, f"{label}: {response.text}"
            try:
                check_problem(response, status, code)
            except AssertionError as exc:
                raise AssertionError(f"{method} {path} with {label}: {exc}") from None

    def expect_query(self, path: str, cases: list[tuple[dict[str, Any], int, str | None]]) -> None:
        for params, status, code in cases:
            response = self.send("GET", path, params=params)
            try:
                check_problem(response, status, code)
            except AssertionError as exc:
                raise AssertionError(f"GET {path} with {params}: {exc}") from None


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 8192):
        yield data[start : start + 8192]


@pytest.fixture
def world(api: Api) -> Iterator[World]:
    customer = api.customer()
    lic = api.issue(customer["id"], tier="enterprise", seats=10, duration_days=100)["license"]
    state = World(api, customer["id"], lic["id"], api.counts(), api.license(lic["id"]))
    yield state
    # Nothing was written by any of the bad requests.
    assert api.counts() == state.counts
    assert api.license(lic["id"]) == state.license_before


def common_body_cases(valid: dict[str, Any]) -> list[tuple[str, Any, int, str | None]]:
    """What every JSON-body endpoint must refuse, built around one valid body."""
    cases: list[tuple[str, Any, int, str | None]] = [
        (f"malformed {raw.data[:20]!r}", raw, 400, "malformed_json") for raw in MALFORMED
    ]
    cases += [(f"not an object: {value!r}", value, 422, "validation_error") for value in NOT_AN_OBJECT]
    cases += [
        ("no body", None, 422, "validation_error"),
        ("an empty object", {}, 422, None),
        ("an unknown field", {**valid, "surprise": 1}, 422, "validation_error"),
        ("a misspelt field", {**valid, "seets": 5}, 422, "validation_error"),
        ("oversized", Raw(b'{"x": "' + b"a" * HUGE + b'"}'), 413, "payload_too_large"),
        ("oversized, chunked", Raw(b'{"x": "' + b"a" * HUGE + b'"}', chunked=True), 413, "payload_too_large"),
    ]
    if any(isinstance(v, str) for v in valid.values()):
        nul = {k: (v + "\x00" if isinstance(v, str) else v) for k, v in valid.items()}
        cases.append(("NUL in a string", nul, 422, None))
        control = {k: (v[:1] + "\x01" + v[1:] if isinstance(v, str) else v) for k, v in valid.items()}
        cases.append(("a control character in a string", control, 422, None))
    return cases


def test_post_customers(world: World) -> None:
    valid = {"name": "Ada", "email": "ada2@example.com", "company": "Ex"}
    cases = [
        *common_body_cases(valid),
        ("name as a number", {**valid, "name": 5}, 422, "validation_error"),
        ("email as a number", {**valid, "email": 5}, 422, "validation_error"),
        ("company as a list", {**valid, "company": ["a"]}, 422, "validation_error"),
        ("name null", {**valid, "name": None}, 422, "validation_error"),
        ("name blank", {**valid, "name": "   "}, 422, "validation_error"),
        ("name too long", {**valid, "name": "n" * 201}, 422, "validation_error"),
        ("email missing", {"name": "Ada"}, 422, "validation_error"),
        ("email not an address", {**valid, "email": "ada.example.com"}, 422, "invalid_email"),
        ("email with spaces", {**valid, "email": "ada lovelace@example.com"}, 422, "invalid_email"),
        ("email too long", {**valid, "email": "a" * 320 + "@example.com"}, 422, "validation_error"),
    ]
    world.expect(cases, "POST", "/v1/customers")


def test_get_customers(world: World) -> None:
    world.expect_query(
        "/v1/customers",
        [
            ({"limit": 0}, 422, "validation_error"),
            ({"limit": -1}, 422, "validation_error"),
            ({"limit": 201}, 422, "validation_error"),
            ({"limit": "ten"}, 422, "validation_error"),
            ({"limit": "1e3"}, 422, "validation_error"),
            ({"cursor": "garbage"}, 422, "invalid_cursor"),
            ({"cursor": "lic_01jd0000000000000000000000"}, 422, "invalid_cursor"),
            ({"cursor": "cus_../../etc"}, 422, "invalid_cursor"),
            ({"cursor": "cus_' OR 1=1 --"}, 422, "invalid_cursor"),
            ({"cursor": ""}, 422, "invalid_cursor"),
            ({"cursor": "cus_" + "a" * 100}, 422, "validation_error"),
            ({"email": "x" * 321}, 422, "validation_error"),
            ({"email": "a\x00b"}, 422, None),
        ],
    )
    check_problem(world.send("GET", "/v1/customers/cus_00000000000000000000000000"), 404, "customer_not_found")
    check_problem(world.send("GET", "/v1/customers/" + "c" * 41), 422, "validation_error")
    check_problem(world.send("GET", "/v1/customers/cus_%00"), 422)
    check_problem(world.send("GET", "/v1/customers/cus_%FF%FE"), 404, "customer_not_found")


def test_post_licenses(world: World) -> None:
    cid = world.customer_id
    valid = {"customer_id": cid, "tier": "enterprise", "seats": 10, "duration_days": 30}
    pro = {"customer_id": cid, "tier": "professional", "seats": 10, "duration_days": 30}
    cases = [
        *common_body_cases(valid),
        # wrong types
        ("customer_id as a number", {**valid, "customer_id": 5}, 422, "validation_error"),
        ("seats as a string", {**valid, "seats": "10"}, 422, "validation_error"),
        ("seats as a float", {**valid, "seats": 10.5}, 422, "validation_error"),
        ("seats as a bool", {**valid, "seats": True}, 422, "validation_error"),
        ("seats NaN", Raw(b'{"customer_id": "%s", "tier": "free", "seats": NaN}' % cid.encode()), 422, None),
        ("seats Infinity", Raw(b'{"customer_id": "%s", "tier": "free", "seats": 1e999}' % cid.encode()), 422, None),
        ("duration as a string", {**valid, "duration_days": "30"}, 422, "validation_error"),
        ("trial as a string", {**pro, "trial": "true"}, 422, "validation_error"),
        ("features as a string", {**pro, "features": "saml"}, 422, "validation_error"),
        ("features of numbers", {**pro, "features": [1]}, 422, "validation_error"),
        ("features as an object", {**pro, "features": {"saml": True}}, 422, "validation_error"),
        ("grace as a string", {**valid, "grace_days": "10"}, 422, "validation_error"),
        ("note as a number", {**valid, "note": 5}, 422, "validation_error"),
        ("starts_at as garbage", {**valid, "starts_at": "next tuesday"}, 422, "validation_error"),
        ("starts_at as an object", {**valid, "starts_at": {"y": 2030}}, 422, "validation_error"),
        # tier
        ("unknown tier", {**valid, "tier": "platinum"}, 422, "validation_error"),
        ("tier in capitals", {**valid, "tier": "Enterprise"}, 422, "validation_error"),
        ("tier missing", {"customer_id": cid}, 422, "validation_error"),
        ("trial of enterprise", {**valid, "trial": True}, 422, "invalid_trial"),
        ("trial of free", {"customer_id": cid, "tier": "free", "trial": True}, 422, "invalid_trial"),
        # features
        ("enterprise feature on professional", {**pro, "features": ["cluster"]}, 422, "unknown_feature"),
        ("made-up feature on professional", {**pro, "features": ["teleport"]}, 422, "unknown_feature"),
        ("feature on free", {"customer_id": cid, "tier": "free", "features": ["saml"]}, 422, "unknown_feature"),
        ("feature with a space", {**pro, "features": ["Bad Name"]}, 422, "invalid_feature"),
        ("feature in capitals", {**valid, "features": ["SAML"]}, 422, "invalid_feature"),
        ("feature with punctuation", {**valid, "features": ["saml;drop"]}, 422, "invalid_feature"),
        ("feature starting with a digit", {**valid, "features": ["1x"]}, 422, "invalid_feature"),
        ("feature too long", {**valid, "features": ["f" * 65]}, 422, "validation_error"),
        ("empty feature name", {**valid, "features": [""]}, 422, "validation_error"),
        ("too many features", {**valid, "features": [f"f{i}" for i in range(101)]}, 422, "validation_error"),
        # seats
        ("zero seats", {**valid, "seats": 0}, 422, "validation_error"),
        ("negative seats", {**valid, "seats": -5}, 422, "validation_error"),
        ("absurd seats", {**valid, "seats": 10_000_001}, 422, "validation_error"),
        ("huge seats", {**valid, "seats": 10**30}, 422, "validation_error"),
        ("professional over its maximum", {**pro, "seats": 100_001}, 422, "invalid_seats"),
        ("trial over 1000", {**pro, "trial": True, "seats": 1001}, 422, "invalid_seats"),
        ("seats on free", {"customer_id": cid, "tier": "free", "seats": 5}, 422, None),
        # dates
        (
            "expires before it starts",
            {**valid, "duration_days": None, "starts_at": iso(10), "expires_at": iso(5)},
            422,
            "invalid_term",
        ),
        (
            "expires when it starts",
            {**valid, "duration_days": None, "starts_at": iso(10), "expires_at": iso(10)},
            422,
            "invalid_term",
        ),
        ("naive starts_at", {**valid, "starts_at": "2030-01-01T00:00:00"}, 422, "validation_error"),
        (
            "naive expires_at",
            {**valid, "duration_days": None, "expires_at": "2030-01-01T00:00:00"},
            422,
            "validation_error",
        ),
        ("a date, no time", {**valid, "duration_days": None, "expires_at": "2030-01-01"}, 422, "validation_error"),
        ("both expires_at and duration_days", {**valid, "expires_at": iso(30)}, 422, "invalid_term"),
        ("zero duration", {**valid, "duration_days": 0}, 422, "validation_error"),
        ("negative duration", {**valid, "duration_days": -30}, 422, "validation_error"),
        ("absurd duration", {**valid, "duration_days": 36_501}, 422, "validation_error"),
        ("expires in 200 years", {**valid, "duration_days": None, "expires_at": iso(200 * 365)}, 422, "invalid_term"),
        ("starts in 200 years", {**valid, "starts_at": iso(200 * 365)}, 422, "invalid_term"),
        (
            "starts in year 9999",
            {**valid, "starts_at": "9999-12-01T00:00:00Z", "duration_days": 365},
            422,
            "invalid_term",
        ),
        (
            "starts in year 1",
            {
                **valid,
                "duration_days": None,
                "starts_at": "0001-01-01T00:00:00+01:00",
                "expires_at": "0001-06-01T00:00:00Z",
            },
            422,
            "invalid_term",
        ),
        (
            "starts in 1900",
            {**valid, "duration_days": None, "starts_at": "1900-01-01T00:00:00Z", "expires_at": "1901-01-01T00:00:00Z"},
            422,
            "invalid_term",
        ),
        (
            "ends in year 9999 west of UTC",
            {**valid, "duration_days": None, "expires_at": "9999-12-31T23:59:59-05:00"},
            422,
            "invalid_term",
        ),
        ("professional without an end", {**pro, "duration_days": None}, 422, "invalid_term"),
        ("negative grace", {**valid, "grace_days": -1}, 422, "validation_error"),
        ("absurd grace", {**valid, "grace_days": 3651}, 422, "validation_error"),
        # the rest
        ("installation id with a space", {**valid, "installation_id": "srv 1"}, 422, "validation_error"),
        ("installation id with a slash", {**valid, "installation_id": "../srv"}, 422, "validation_error"),
        ("installation id too long", {**valid, "installation_id": "i" * 201}, 422, "validation_error"),
        ("note too long", {**valid, "note": "n" * 2001}, 422, "validation_error"),
        ("customer id too long", {**valid, "customer_id": "c" * 41}, 422, "validation_error"),
        ("unknown customer", {**valid, "customer_id": "cus_00000000000000000000000000"}, 404, "customer_not_found"),
    ]
    world.expect(cases, "POST", "/v1/licenses")


def test_get_licenses(world: World) -> None:
    world.expect_query(
        "/v1/licenses",
        [
            ({"limit": 0}, 422, "validation_error"),
            ({"limit": 1000}, 422, "validation_error"),
            ({"limit": "all"}, 422, "validation_error"),
            ({"cursor": "nonsense"}, 422, "invalid_cursor"),
            ({"cursor": "cus_01jd0000000000000000000000"}, 422, "invalid_cursor"),
            ({"cursor": "lic_a-b"}, 422, "invalid_cursor"),
            ({"cursor": "lic_" + "a" * 100}, 422, "validation_error"),
            ({"tier": "platinum"}, 422, "validation_error"),
            ({"status": "alive"}, 422, "validation_error"),
            ({"status": "ACTIVE"}, 422, "validation_error"),
            ({"customer_id": "c" * 41}, 422, "validation_error"),
            ({"customer_id": "cus_\x00"}, 422, None),
            ({"installation_id": "i" * 201}, 422, "validation_error"),
        ],
    )
    for path in ("/v1/licenses/lic_00000000000000000000000000", "/v1/licenses/lic_00000000000000000000000000/file"):
        check_problem(world.send("GET", path), 404, "license_not_found")
    for path in ("/v1/licenses/" + "l" * 41, "/v1/licenses/" + "l" * 41 + "/file"):
        check_problem(world.send("GET", path), 422, "validation_error")
    check_problem(world.send("GET", "/v1/licenses/lic_%00"), 422)


def test_post_renew(world: World) -> None:
    path = f"/v1/licenses/{world.license_id}/renew"
    valid = {"duration_days": 30, "seats": 20, "note": "renewal"}
    cases = [
        *common_body_cases(valid),
        ("neither end", {"seats": 20}, 422, "invalid_term"),
        ("both ends", {"duration_days": 30, "expires_at": iso(400)}, 422, "invalid_term"),
        ("naive expires_at", {"expires_at": "2031-01-01T00:00:00"}, 422, "validation_error"),
        ("expires in the past", {"expires_at": iso(-1)}, 422, "invalid_term"),
        ("expires in 200 years", {"expires_at": iso(200 * 365)}, 422, "invalid_term"),
        ("duration as a string", {"duration_days": "30"}, 422, "validation_error"),
        ("zero duration", {"duration_days": 0}, 422, "validation_error"),
        ("absurd duration", {"duration_days": 10**6}, 422, "validation_error"),
        ("seats as a string", {**valid, "seats": "20"}, 422, "validation_error"),
        ("zero seats", {**valid, "seats": 0}, 422, "validation_error"),
        ("absurd seats", {**valid, "seats": 10**9}, 422, "validation_error"),
        ("note as a list", {**valid, "note": ["n"]}, 422, "validation_error"),
        ("a tier change", {**valid, "tier": "free"}, 422, "validation_error"),
    ]
    world.expect(cases, "POST", path)
    check_problem(world.send("POST", "/v1/licenses/lic_00000000000000000000000000/renew", valid), 404)
    check_problem(world.send("POST", "/v1/licenses/" + "l" * 41 + "/renew", valid), 422, "validation_error")


def test_post_revoke(world: World) -> None:
    path = f"/v1/licenses/{world.license_id}/revoke"
    valid = {"reason": "chargeback"}
    cases = [
        *common_body_cases(valid),
        ("reason missing", {}, 422, "validation_error"),
        ("reason empty", {"reason": ""}, 422, "validation_error"),
        ("reason blank", {"reason": "  \n\t "}, 422, "validation_error"),
        ("reason as a number", {"reason": 5}, 422, "validation_error"),
        ("reason null", {"reason": None}, 422, "validation_error"),
        ("reason too long", {"reason": "r" * 2001}, 422, "validation_error"),
    ]
    world.expect(cases, "POST", path)
    check_problem(world.send("POST", "/v1/licenses/lic_00000000000000000000000000/revoke", valid), 404)


def test_post_trials(world: World) -> None:
    valid = {"email": "it@newco.example", "company": "NewCo", "accept_terms": True}
    cases = [
        *common_body_cases(valid),
        ("email as a number", {**valid, "email": 5}, 422, "validation_error"),
        ("email not an address", {**valid, "email": "it-at-newco"}, 422, "invalid_email"),
        ("company missing", {"email": "it@newco.example", "accept_terms": True}, 422, "validation_error"),
        ("company blank", {**valid, "company": "  "}, 422, "validation_error"),
        ("company as a number", {**valid, "company": 5}, 422, "validation_error"),
        ("seats as a string", {**valid, "seats": "5"}, 422, "validation_error"),
        ("zero seats", {**valid, "seats": 0}, 422, "validation_error"),
        ("1001 seats", {**valid, "seats": 1001}, 422, "validation_error"),
        ("terms as a string", {**valid, "accept_terms": "yes"}, 422, "validation_error"),
        ("terms as a number", {**valid, "accept_terms": 1}, 422, "validation_error"),
        ("terms refused", {**valid, "accept_terms": False}, 422, "terms_not_accepted"),
        ("terms missing", {"email": "it@newco.example", "company": "NewCo"}, 422, "validation_error"),
        ("installation id with a space", {**valid, "installation_id": "a b"}, 422, "validation_error"),
        ("installation id as a number", {**valid, "installation_id": 5}, 422, "validation_error"),
        ("a tier", {**valid, "tier": "enterprise"}, 422, "validation_error"),
        ("a duration", {**valid, "duration_days": 365}, 422, "validation_error"),
    ]
    world.expect(cases, "POST", "/v1/trials")


def test_post_free_licenses(world: World) -> None:
    valid = {"email": "free@newco.example", "company": "NewCo"}
    cases = [
        *common_body_cases(valid),
        ("email missing", {"company": "NewCo"}, 422, "validation_error"),
        ("email as a number", {**valid, "email": 5}, 422, "validation_error"),
        ("email as a list", {**valid, "email": ["a@b.example"]}, 422, "validation_error"),
        ("email not an address", {**valid, "email": "free"}, 422, "invalid_email"),
        ("company as a number", {**valid, "company": 5}, 422, "validation_error"),
        ("company too long", {**valid, "company": "c" * 201}, 422, "validation_error"),
        ("installation id with a space", {**valid, "installation_id": "a b"}, 422, "validation_error"),
        ("seats", {**valid, "seats": 5}, 422, "validation_error"),
        ("a tier", {**valid, "tier": "enterprise"}, 422, "validation_error"),
    ]
    world.expect(cases, "POST", "/v1/free-licenses")


def test_post_refresh(world: World) -> None:
    valid = {"license_file": "-----BEGIN LICENSE FILE-----\nabc\n-----END LICENSE FILE-----\n"}
    cases = [c for c in common_body_cases(valid) if c[0] != "NUL in a string"] + [
        ("license_file missing", {}, 422, "validation_error"),
        ("license_file empty", {"license_file": ""}, 422, "validation_error"),
        ("license_file as a number", {"license_file": 5}, 422, "validation_error"),
        ("license_file as a list", {"license_file": ["a"]}, 422, "validation_error"),
        ("license_file too long", {"license_file": "a" * 20_001}, 422, "validation_error"),
        ("license_file garbage", {"license_file": "hello"}, 422, "invalid_license"),
        ("license_file NUL", {"license_file": "a\x00b"}, 422, None),
        ("license_file not armor", valid, 422, "invalid_license"),
    ]
    world.expect(cases, "POST", "/v1/licenses/refresh")


def test_get_audit_events(world: World) -> None:
    world.expect_query(
        "/v1/audit-events",
        [
            ({"limit": 0}, 422, "validation_error"),
            ({"limit": 201}, 422, "validation_error"),
            ({"cursor": "abc"}, 422, "invalid_cursor"),
            ({"cursor": "-1"}, 422, "invalid_cursor"),
            ({"cursor": "1.5"}, 422, "invalid_cursor"),
            ({"cursor": "9" * 19}, 422, "invalid_cursor"),
            ({"cursor": "lic_abc"}, 422, "invalid_cursor"),
            ({"cursor": "١٢٣"}, 422, "invalid_cursor"),
            ({"cursor": "²"}, 422, "invalid_cursor"),
            ({"subject_id": "s" * 101}, 422, "validation_error"),
            ({"action": "a" * 101}, 422, "validation_error"),
            ({"action": "license.issued\x00"}, 422, None),
        ],
    )


def test_unknown_routes_and_methods_are_problems_too(world: World) -> None:
    check_problem(world.send("GET", "/v1/nothing-here"), 404, "not_found")
    check_problem(world.send("DELETE", "/v1/customers"), 405, "method_not_allowed")
    check_problem(world.send("PUT", f"/v1/licenses/{world.license_id}", {"seats": 1}), 405, "method_not_allowed")
    check_problem(world.send("GET", "/v1/licenses/refresh"), 404)
