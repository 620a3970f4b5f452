"""The installs services as the portal calls them (``customer_id``): only a live license of the
customer's own, moves up to the offer's ``max_moves`` in 365 days; and every refusal keeps nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from airgaptools import DAY, day_start
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.airgap import InstallationKey, activation_request, usage_report
from licensing.context import Core
from licensing.installs.activation import activate
from licensing.installs.usage import accept_usage_report
from licensing.kit.errors import Conflict, DomainError, NotFound
from licensing.licenses.customers import create_customer
from licensing.licenses.issuance import IssueRequest, issue_license, renew_license
from licensing.models import InstallationMove, License, UsageReport


def _license(session: Session, core: Core, email: str, offer: str = "professional", **extra: Any) -> License:
    customer = create_customer(session, core, "test", name="Ops", email=email, company=None)
    request = IssueRequest(
        customer=customer, offer=core.catalog.offer(offer), actor="test", seats=5, duration_days=60, **extra
    )
    return issue_license(session, core, request)


def _count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_portal_activates_only_a_live_license_of_the_customers_own(
    session_factory: Callable[[], Any], core: Core, clock: Any
) -> None:
    key = InstallationKey.generate()
    with session_factory() as session:
        mine = _license(session, core, "it@mine-31ab.example")
        theirs = _license(session, core, "it@theirs-31ab.example")
        mine_id, mine_customer, theirs_file = mine.id, mine.customer_id, theirs.license_file
    with session_factory() as session:
        before = _count(session, License)
        with pytest.raises(NotFound) as other:
            activate(
                session,
                core,
                activation_request(key, "i-1", license_text=theirs_file),
                actor="p",
                customer_id=mine_customer,
            )
        assert other.value.code == "license_not_found"
        assert _count(session, License) == before
    with session_factory() as session:
        lic = session.get(License, mine_id)
        assert lic is not None
        bound = activate(
            session,
            core,
            activation_request(key, "i-1", license_text=lic.license_file),
            actor="p",
            customer_id=mine_customer,
        )
        assert bound.cnf_jkt == key.thumbprint and bound.supersedes_id == mine_id
        # A renewal of the bound license keeps the binding; the old file is superseded.
        renewed = renew_license(session, core, "sales", bound.id, duration_days=30)
        assert (renewed.installation_id, renewed.cnf_jkt) == ("i-1", key.thumbprint)
    with session_factory() as session:
        # An older license of the line, from another installation: replaced, activate the newest.
        with pytest.raises(Conflict) as old:
            activate(
                session,
                core,
                activation_request(InstallationKey.generate(), "i-2", license_id=mine_id),
                actor="p",
                customer_id=mine_customer,
            )
        assert old.value.code == "license_superseded"
        # The same installation, with its older file: the line's newest license.
        again = activate(
            session, core, activation_request(key, "i-1", license_id=mine_id), actor="p", customer_id=mine_customer
        )
        assert again.id == renewed.id
    clock.set(core.now() + timedelta(days=200))  # past the end and its grace
    with session_factory() as session, pytest.raises(Conflict) as expired:
        activate(
            session,
            core,
            activation_request(InstallationKey.generate(), "i-9", license_id=renewed.id),
            actor="p",
            customer_id=mine_customer,
        )
    assert expired.value.code == "license_expired"


def test_portal_moves_stop_at_the_offers_max_moves_in_a_year(
    session_factory: Callable[[], Any], core: Core, clock: Any
) -> None:
    allowed = core.catalog.offer("professional").max_moves
    assert allowed == 3
    with session_factory() as session:
        lic = _license(session, core, "it@mover-77c0.example")
        customer, newest = lic.customer_id, lic.id
    for i in range(allowed + 1):  # the first binds, then `allowed` moves
        with session_factory() as session:
            bound = activate(
                session,
                core,
                activation_request(InstallationKey.generate(), f"host-{i}", license_id=newest),
                actor="portal",
                customer_id=customer,
            )
            newest = bound.id
    with session_factory() as session:
        assert _count(session, InstallationMove) == allowed
        with pytest.raises(Conflict) as refused:
            activate(
                session,
                core,
                activation_request(InstallationKey.generate(), "host-x", license_id=newest),
                actor="portal",
                customer_id=customer,
            )
        assert refused.value.code == "move_limit_reached" and refused.value.extra["max_moves"] == allowed
        # Sales may still move it.
        moved = activate(
            session,
            core,
            activation_request(InstallationKey.generate(), "host-y", license_id=newest),
            actor="sales",
            move=True,
        )
        newest = moved.id
    clock.set(core.now() + timedelta(days=366))  # a year later the portal's moves are allowed again
    with session_factory() as session:
        lic = session.get(License, newest)
        assert lic is not None
        lic_renewed = renew_license(session, core, "sales", newest, duration_days=400)
        again = activate(
            session,
            core,
            activation_request(InstallationKey.generate(), "host-z", license_id=lic_renewed.id),
            actor="portal",
            customer_id=customer,
        )
        assert again.installation_id == "host-z"


def test_a_report_for_another_customers_license_is_not_found(session_factory: Callable[[], Any], core: Core) -> None:
    key = InstallationKey.generate()
    with session_factory() as session:
        lic = _license(session, core, "it@owner-5d2e.example")
        bound = activate(session, core, activation_request(key, "i-1", license_id=lic.id), actor="sales")
        stranger = create_customer(session, core, "test", name="X", email="x@stranger-5d2e.example", company=None)
        bound_id, stranger_id = bound.id, stranger.id
    start = day_start(core.now()) - 5 * DAY
    report = usage_report(
        key,
        license_id=bound_id,
        installation_id="i-1",
        seq=1,
        prev=None,
        period_start=start,
        period_end=start + DAY,
        daily=[(start, 2)],
    )
    with session_factory() as session:
        with pytest.raises(DomainError) as refused:
            accept_usage_report(session, core, report, actor="portal", customer_id=stranger_id)
        assert refused.value.code == "license_not_found"
        assert _count(session, UsageReport) == 0


@pytest.mark.parametrize("value", [-1, "3", True, 1.5])
def test_the_catalog_refuses_a_max_moves_that_is_not_a_count(value: Any) -> None:
    import tomllib
    from pathlib import Path

    import licensing
    from licensing.catalog import CatalogError, parse_catalog

    data = tomllib.loads((Path(licensing.__file__).parent / "catalog.toml").read_text("utf-8"))
    data["offers"]["professional"]["max_moves"] = value
    with pytest.raises(CatalogError, match="max_moves"):
        parse_catalog(data)
