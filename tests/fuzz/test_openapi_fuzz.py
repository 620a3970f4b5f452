"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document, with schemathesis.

Every operation of /openapi.json (public and sales ops, every method) gets generated requests:
the document's examples, schemathesis' coverage cases (boundary values, missing and wrongly typed
fields, undeclared methods) and random valid and invalid bodies, query and path parameters. Each
answer must not be a server error, must have a status, content type and body the document
declares, and, when it is an error, must be problem+json with a string ``code`` (SPEC section 5).

The requests reach the app in-process over ASGI (``case.call(app=...)``), on a per-test database:
each operation runs once on SQLite and once on PostgreSQL, where NUL characters in text fail.

Stripe is configured against the fake Stripe (tests/fakestripe), with the catalog synced, so a checkout
really opens a Checkout Session there and the webhook really checks signatures: fuzzed (unsigned) webhook
bodies answer 400 ``invalid_signature`` (``malformed_event`` when not even UTF-8), never a server error.
``test_signed_webhook_bodies`` signs them as Stripe would, so they reach the parsing of the event.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from fakestripe import FakeStripe, sign
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from sqlalchemy import Engine
from stripetools import with_fake_stripe

from api.app import create_app
from api.checkout import WEBHOOK_PATH
from billing.catalog_sync import sync_catalog
from licensing.kit.db import Base, make_engine
from licensing.kit.settings import Settings
from licensing.models import RevocationList

# The document is the app's own, served by an app that never touches its (in-memory) database;
# the tests send their requests to the `app` fixture, which is the same app on a real database.
_DOCUMENT_APP = create_app(
    Settings(
        database_url="sqlite://",
        keys_dir=Path(tempfile.gettempdir()) / "licensing-fuzz-no-keys",
        log_level="WARNING",
        worker_in_process=False,
        _env_file=None,  # type: ignore[call-arg]
    ),
    engine=make_engine("sqlite://"),
)
DOCUMENT: dict[str, Any] = _DOCUMENT_APP.openapi()

# The Authorization header is not generated from the security scheme: the tests send a real key
# (or, on purpose, none). Invalid data may also be refused with 413 when it is a body over the
# size limit. An explicit config keeps any schemathesis.toml out of the run.
CONFIG = {
    "generation": {"with-security-parameters": False},
    "checks": {
        "negative_data_rejection": {
            "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
        }
    },
}
schema = schemathesis.openapi.from_asgi("/openapi.json", _DOCUMENT_APP, config=schemathesis.Config.from_dict(CONFIG))

# Sales-ops operations: those that declare a security requirement (a bearer API key).
SECURED = {
    (method.upper(), path)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    # An API key's: not a self-serve request's or a checkout's poll token, whose absence answers 404 like a
    # wrong one.
    if any(
        scheme not in ("PollToken", "CheckoutPollToken")
        for requirement in operation.get("security", [])
        for scheme in requirement
    )
}


@pytest.fixture(name="settings")
def stripe_settings(settings: Settings, fake_stripe: FakeStripe, stripe_webhook_secret: str) -> Settings:
    """The app under test with Stripe configured against the fake Stripe: checkout and webhooks enabled."""
    return with_fake_stripe(settings, fake_stripe, stripe_webhook_secret)


@pytest.fixture
def app(app: Any) -> Any:
    """The app, with the catalog's prices in the fake Stripe, so a valid checkout opens a session there."""
    sync_catalog(app.state.runtime.core)
    return app


class SignWebhooks:
    """ASGI middleware that signs the body of every POST to the webhook as Stripe would (``Stripe-Signature``
    with the webhook secret, now), replacing any signature sent: fuzzed bodies then reach the event's parsing."""

    def __init__(self, app: Any, secret: str) -> None:
        self.app, self.secret = app, secret

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != WEBHOOK_PATH:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        signature = sign(body, self.secret, int(time.time())).encode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"stripe-signature"]
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": [*headers, (b"stripe-signature", signature)]}, replay, send)


@pytest.fixture
def signed_app(app: Any, stripe_webhook_secret: str) -> SignWebhooks:
    return SignWebhooks(app, stripe_webhook_secret)


PROBLEM_FIELDS = {"type": str, "title": str, "status": int, "detail": str, "code": str}


def json_body(response: schemathesis.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        raise AssertionError(
            f"{response.status_code} answered a body that is not JSON: {response.content[:200]!r}"
        ) from None


def problem_details(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Every error answer is application/problem+json with type, title, status, detail and a string code."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == "application/problem+json", (
        f"{response.status_code} answered with content type {content_type!r}, not application/problem+json"
    )
    body = json_body(response)
    assert isinstance(body, dict), f"the problem is not a JSON object: {body!r}"
    for field, kind in PROBLEM_FIELDS.items():
        assert isinstance(body.get(field), kind), f"problem field {field!r} is not a {kind.__name__}: {body!r}"
    assert body["status"] == response.status_code, f"problem status {body['status']} != {response.status_code}"
    assert body["code"], f"empty problem code: {body!r}"
    return None


def sales_ops_need_a_key(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Without a key, a sales-ops operation answers 401 missing_api_key: nothing is read or done.

    What is refused before the key is looked at is exempt: an undeclared method (405), a body over
    the limit (413), a body that is not JSON at all (400 malformed_json, FastAPI parses the body
    before it runs dependencies) and NUL in the address (422 invalid_url).
    """
    if (case.method.upper(), case.path) not in SECURED or response.status_code in (405, 413):
        return None
    assert response.status_code in (400, 401, 422), f"answered {response.status_code} without an API key"
    body = json_body(response)
    if (response.status_code, body.get("code")) in ((400, "malformed_json"), (422, "invalid_url")):
        return None
    assert response.status_code == 401, f"answered {response.status_code} without an API key: {body!r}"
    assert body.get("code") == "missing_api_key", body
    assert (response.headers.get("www-authenticate") or [""])[0] == "Bearer"
    return None


WEBHOOK_REFUSALS = {"invalid_signature", "malformed_event"}
CHECKOUT_PATH = "/v1/checkout/sessions"


def checkout_reaches_stripe(fake: FakeStripe) -> Any:
    """Checkout is enabled and Stripe answers: never 404 ``billing_disabled`` nor 503; a checkout started
    (201) is a Checkout Session the fake Stripe holds, its ``url`` the fake's hosted page."""

    def checkout_answers(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
        if case.method.upper() != "POST" or case.path != CHECKOUT_PATH:
            return None
        assert response.status_code not in (404, 503), f"checkout answered {response.status_code}: {response.text}"
        if response.status_code == 201:
            url = json_body(response)["url"]
            prefix = f"{fake.base_url}/c/pay/"
            assert url.startswith(prefix) and url[len(prefix) :] in fake.sessions, f"not a fake Stripe session: {url}"
        return None

    return checkout_answers


def webhook_answers(signed: bool) -> Any:
    """The webhook answers a signed body 200 (stored or ignored) or 400 ``malformed_event``, and an unsigned
    one 400 ``invalid_signature`` (``malformed_event`` when not even UTF-8); over the size limit 413.
    Nothing else (no 404: webhooks are enabled)."""

    def check(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
        if case.method.upper() != "POST" or case.path != WEBHOOK_PATH or response.status_code == 413:
            return None
        if signed:
            assert response.status_code in (200, 400), f"a signed webhook answered {response.status_code}"
            if response.status_code == 200:
                return None
        assert response.status_code == 400, f"an unsigned webhook answered {response.status_code}"
        code = json_body(response).get("code")
        # Unsigned, a body that is not even UTF-8 is malformed before its signature is looked at.
        assert code in ({"malformed_event"} if signed else WEBHOOK_REFUSALS), f"webhook refused with {code!r}"
        return None

    check.__name__ = f"webhook_answers_{'signed' if signed else 'unsigned'}"
    return check


# Every check the document lets schemathesis make, except `positive_data_acceptance`: a schema-valid
# request may still break a business rule the schema cannot express (a trial without accepting the
# terms, an unknown customer, seats: null below enterprise) and is then rightly refused with a 4xx.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    unsupported_method,
    allow_header_conformance,
    problem_details,
]


def checks_for(case: schemathesis.Case, *, signed: bool = False) -> list[Any]:
    """The checks of one case. GET /v1/licenses/refresh (and /preview) is routed to GET
    /v1/licenses/{license_id} (and answers 404 license_not_found), so a 405 there rightly allows GET,
    which the document cannot list under those paths: the Allow header check is left out for them alone.

    A signed webhook body is Stripe's word: the service stores what it can use and answers 200 even when
    the event lacks fields the document describes (the schema documents Stripe's events, it does not
    validate them), so ``negative_data_rejection`` is left out there and ``webhook_answers`` says what
    it must answer instead."""
    if case.path in ("/v1/licenses/refresh", "/v1/licenses/preview"):
        return [check for check in CHECKS if check is not allow_header_conformance]
    if case.path == WEBHOOK_PATH:
        kept = [check for check in CHECKS if not (signed and check is negative_data_rejection)]
        return [*kept, webhook_answers(signed)]
    return CHECKS


# Each operation's examples share one database (function-scoped fixtures, on purpose), database
# round-trips (PostgreSQL most) make examples slow, and patterned strings are drawn by filtering.
# Random where developers run it, so each run explores new inputs; a fixed seed in CI, so a landing
# never hangs on a roll of the dice (a finding from a developer's run becomes a regression test).
FUZZ_SETTINGS = settings(
    max_examples=50,
    derandomize=bool(os.environ.get("CI")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_with_a_sales_key(case: schemathesis.Case, app: Any, auth: dict[str, str], fake_stripe: FakeStripe) -> None:
    case.call_and_validate(app=app, headers=auth, checks=[*checks_for(case), checkout_reaches_stripe(fake_stripe)])


@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=10, phases=[Phase.generate])
def test_api_without_a_key(case: schemathesis.Case, app: Any, fake_stripe: FakeStripe) -> None:
    case.call_and_validate(
        app=app, checks=[*checks_for(case), sales_ops_need_a_key, checkout_reaches_stripe(fake_stripe)]
    )


@schema.include(method="POST", path=WEBHOOK_PATH).parametrize()
@FUZZ_SETTINGS
def test_signed_webhook_bodies(case: schemathesis.Case, signed_app: SignWebhooks) -> None:
    """Fuzzed webhook bodies signed as Stripe signs them: stored or ignored (200), or 400 ``malformed_event``."""
    case.call_and_validate(app=signed_app, checks=checks_for(case, signed=True))


def test_the_fuzzed_document_is_the_apps(client: Any) -> None:
    """The document the tests were generated from is the one the app under test serves, and every
    operation in it is fuzzed."""
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == DOCUMENT
    fuzzed = {(operation.ok().method.upper(), operation.ok().path) for operation in schema.get_all_operations()}
    documented = {(method.upper(), path) for path, operations in DOCUMENT["paths"].items() for method in operations}
    assert fuzzed == documented
    assert len(fuzzed) >= 15
    assert {path for _, path in SECURED} >= {"/v1/customers", "/v1/licenses", "/v1/audit-events"}


APIWorkflow = schema.as_state_machine()
# What a workflow keeps from the one before: the sales key, and the revocation list's single row.
KEPT_TABLES = {"api_keys", "revocation_lists"}


def empty_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                connection.execute(table.delete())
        connection.execute(sa.update(RevocationList).values(entries=0, document=""))


def test_api_workflows(app: Any, engine: Engine, auth: dict[str, str]) -> None:
    """Sequences of calls that feed one answer's ids to the next call (customer -> license -> renew,
    revoke, download), from the links schemathesis infers; the per-operation tests rarely hit an
    existing id. Each workflow starts from empty tables, so what it draws depends only on itself."""

    class Workflow(APIWorkflow):
        def setup(self) -> None:
            empty_tables(engine)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"app": app, "headers": auth}

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=checks_for(case), headers=auth)

    Workflow.run(settings=settings(FUZZ_SETTINGS, max_examples=30, stateful_step_count=10))
