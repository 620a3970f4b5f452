"""Fixtures of the console tests: a public URL of the test client's, a frozen clock, staff members and a
browser-like client (``consoletools.Console``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from consoletools import ADMIN, READER, SALES, START, Console
from fastapi.testclient import TestClient

from licensing.context import Core
from licensing.kit.settings import Settings
from licensing.staff.members import add_member


@pytest.fixture(autouse=True)
def frozen(clock: Any) -> None:
    clock.set(START)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": "http://testserver"})


@pytest.fixture
def db(session_factory: Callable[[], Any]) -> Callable[[], Any]:
    return session_factory


@pytest.fixture
def staff(db: Callable[[], Any], core: Core) -> dict[str, str]:
    with db() as session:
        add_member(session, core, SALES, "sales")
        add_member(session, core, ADMIN, "admin")
        add_member(session, core, READER, "readonly")
    return {"sales": SALES, "admin": ADMIN, "readonly": READER}


@pytest.fixture
def console(client: TestClient, db: Callable[[], Any]) -> Console:
    return Console(client, db)


@pytest.fixture
def sales(console: Console, staff: dict[str, str]) -> Console:
    """Signed in as the sales member."""
    console.sign_in(SALES)
    return console


@pytest.fixture
def reader(client: TestClient, db: Callable[[], Any], staff: dict[str, str]) -> Console:
    """Signed in as the readonly member, in a browser of its own."""
    other = Console(TestClient(client.app, base_url="http://testserver"), db)
    other.sign_in(READER)
    return other


@pytest.fixture
def world(db: Callable[[], Any], core: Core) -> dict[str, str]:
    """A customer with a professional license, and a lead of the customer's organisation."""
    from licensing.leads.records import record_lead
    from licensing.licenses.customers import create_customer
    from licensing.licenses.issuance import IssueRequest, issue_license

    with db() as session:
        customer = create_customer(
            session, core, "test", name="Grace Hopper", email="grace@navy-7e1f.example", company="Navy Labs"
        )
        lic = issue_license(
            session,
            core,
            IssueRequest(
                customer=customer,
                offer=core.catalog.offer_for("professional", False),
                actor="test",
                seats=10,
                duration_days=365,
            ),
        )
        record_lead(session, core, "test", email="hal@navy-7e1f.example", source="contact", interest="quote", seats=40)
        return {"customer": customer.id, "license": lic.id, "organisation": customer.organisation}
