"""Listing licenses by status (``queries.list_licenses``) finds the page's ids first, then reads their rows:
every page is what filtering every license by ``status_of`` gives, newest first, with no gap or repeat."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.context import Core
from licensing.licenses import queries
from licensing.licenses.customers import create_customer
from licensing.licenses.issuance import IssueRequest, issue_license, renew_license
from licensing.licenses.revocations import revoke_license
from licensing.licenses.status import Status, status_of
from licensing.models import License

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
STATUSES: tuple[Status, ...] = ("active", "grace", "expired", "scheduled", "superseded", "revoked")


def _every_page(session: Session, now: datetime, limit: int, **filters: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = queries.list_licenses(session, now, limit=limit, cursor=cursor, **filters)
        assert len(page.items) <= limit
        ids += [lic.id for lic in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return ids


def _expected(session: Session, now: datetime, status: Status, **filters: Any) -> list[str]:
    later = {old for (old,) in session.execute(select(License.supersedes_id)) if old}
    rows = session.scalars(select(License).order_by(License.id.desc())).all()
    return [
        lic.id
        for lic in rows
        if status_of(lic, now, lic.id in later) == status and all(getattr(lic, k) == v for k, v in filters.items())
    ]


@pytest.mark.parametrize("limit", [1, 2, 50])
def test_status_pages_are_the_status_of_every_license_newest_first(
    session_factory: Callable[[], Any], core: Core, clock: Any, limit: int
) -> None:
    clock.set(T0)
    with session_factory() as session:
        ada = create_customer(session, core, "test", name="Ada", email="ada@queries-7a.example", company=None)
        bob = create_customer(session, core, "test", name="Bob", email="bob@queries-7b.example", company=None)
        pro, ent = core.catalog.offer("professional"), core.catalog.offer("enterprise")
        for customer in (ada, bob):
            for days in (5, 40, 400):
                issue_license(session, core, IssueRequest(customer, pro, "test", seats=3, duration_days=days))
            issue_license(
                session,
                core,
                IssueRequest(customer, ent, "test", seats=10, starts_at=T0 + timedelta(days=60), duration_days=100),
            )
            issue_license(session, core, IssueRequest(customer, core.catalog.offer("free"), "test"))
            line = issue_license(session, core, IssueRequest(customer, pro, "test", seats=2, duration_days=20))
            renewed = renew_license(session, core, "test", line.id, duration_days=20)
            renew_license(session, core, "test", renewed.id, duration_days=20)
            gone = issue_license(session, core, IssueRequest(customer, ent, "test", seats=10, duration_days=300))
            revoke_license(session, core, "test", gone.id, "test")
    for moment in (T0, T0 + timedelta(days=12), T0 + timedelta(days=50), T0 + timedelta(days=70)):
        clock.set(moment)
        with session_factory() as session:
            seen: set[Status] = set()
            for status in STATUSES:
                expected = _expected(session, moment, status)
                assert _every_page(session, moment, limit, status=status) == expected, (status, moment)
                if expected:
                    seen.add(status)
                assert _every_page(session, moment, limit, status=status, customer_id=bob.id) == _expected(
                    session, moment, status, customer_id=bob.id
                )
                assert _every_page(session, moment, limit, status=status, tier="enterprise") == _expected(
                    session, moment, status, tier="enterprise"
                )
            assert _every_page(session, moment, limit) == [
                lic.id for lic in session.scalars(select(License).order_by(License.id.desc()))
            ]
    assert seen >= {"active", "superseded", "revoked", "expired"}
