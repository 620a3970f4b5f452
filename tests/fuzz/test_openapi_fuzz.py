"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document, with schemathesis.

Every operation of /openapi.json (public and sales ops, every method) gets generated requests:
the document's examples, schemathesis' coverage cases (boundary values, missing and wrongly typed
fields, undeclared methods) and random valid and invalid bodies, query and path parameters. Each
answer must not be a server error, must have a status, content type and body the document
declares, and, when it is an error, must be problem+json with a string ``code`` (SPEC section 5).

The requests reach the app in-process over ASGI (``case.call(app=...)``), on a per-test database:
each operation runs once on SQLite and once on PostgreSQL, where NUL characters in text fail.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
import sqlalchemy as sa
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

from api.app import create_app
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
    # An API key's: not a self-serve request's poll token, whose absence answers 404 like a wrong one.
    if any(scheme != "PollToken" for requirement in operation.get("security", []) for scheme in requirement)
}

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


def checks_for(case: schemathesis.Case) -> list[Any]:
    """The checks of one case. GET /v1/licenses/refresh is routed to GET /v1/licenses/{license_id} (and
    answers 404 license_not_found), so a 405 there rightly allows GET, which the document cannot list
    under /v1/licenses/refresh: the Allow header check is left out for that path alone."""
    if case.path == "/v1/licenses/refresh":
        return [check for check in CHECKS if check is not allow_header_conformance]
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
def test_api_with_a_sales_key(case: schemathesis.Case, app: Any, auth: dict[str, str]) -> None:
    case.call_and_validate(app=app, headers=auth, checks=checks_for(case))


@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=10, phases=[Phase.generate])
def test_api_without_a_key(case: schemathesis.Case, app: Any) -> None:
    case.call_and_validate(app=app, checks=[*checks_for(case), sales_ops_need_a_key])


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
