"""The issuance rules live in one function, whoever calls it (sales ops, self-serve, billing), and a
service that fails leaves nothing behind in the caller's transaction (a savepoint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.context import Core
from licensing.kit.errors import Conflict, ValidationFailed
from licensing.licenses.customers import create_customer
from licensing.licenses.issuance import IssueRequest, issue_license
from licensing.licenses.revocations import revoke_license
from licensing.models import AuditEvent, Customer, License
from licensing.selfserve.requests import issue_self_serve, trial_ask


def _rows(session: Session) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        session.scalar(select(func.count()).select_from(m)) or 0 for m in (Customer, License, AuditEvent)
    )


def _customer(session: Session, core: Core, email: str = "ops@core-1f.example") -> Customer:
    return create_customer(session, core, "test", name="Ops", email=email, company=None)


@pytest.mark.parametrize(
    ("offer", "extra", "code"),
    [
        ("professional", {"unlimited_seats": True, "duration_days": 30}, "invalid_seats"),
        ("free", {"unlimited_seats": True}, "invalid_seats"),
        ("professional", {"seats": 5, "features": ["cluster"], "duration_days": 30}, "unknown_feature"),
        ("professional", {"seats": 5, "features": ["Bad Name"], "duration_days": 30}, "invalid_feature"),
        ("professional", {"duration_days": 30}, "seats_required"),
        ("enterprise", {"duration_days": 30}, "seats_required"),
        ("enterprise", {"seats": 5, "features": ["samll"], "duration_days": 30}, "unknown_feature"),
        ("enterprise", {"seats": 5, "custom_features": ["Bad!"], "duration_days": 30}, "invalid_feature"),
        (
            "professional",
            {"seats": 5, "custom_features": ["x"], "duration_days": 30},
            "custom_features_enterprise_only",
        ),
        ("professional", {"seats": 5, "installation_id": "bad id!", "duration_days": 30}, "invalid_installation_id"),
        ("professional", {"seats": 5, "note": "x\u202ey", "duration_days": 30}, "invalid_text"),
        ("professional", {"seats": 5}, "invalid_term"),
    ],
)
def test_every_caller_gets_the_same_rules(
    session_factory: Callable[[], Any], core: Core, offer: str, extra: dict[str, Any], code: str
) -> None:
    with session_factory() as session:
        customer = _customer(session, core)
        request = IssueRequest(customer=customer, offer=core.catalog.offer(offer), actor="billing", **extra)
        with pytest.raises(ValidationFailed) as refused:
            issue_license(session, core, request)
        assert refused.value.code == code


def test_a_trial_is_only_professional(core: Core) -> None:
    with pytest.raises(ValidationFailed, match="Only professional"):
        core.catalog.offer_for("enterprise", True)


def test_superseding_is_guarded_for_every_caller(session_factory: Callable[[], Any], core: Core) -> None:
    with session_factory() as session:
        customer = _customer(session, core)
        offer = core.catalog.offer("professional")
        first = issue_license(session, core, IssueRequest(customer, offer, "billing", seats=3, duration_days=30))
        second = issue_license(
            session, core, IssueRequest(customer, offer, "billing", seats=4, duration_days=60, supersedes=first)
        )
        with pytest.raises(Conflict) as forked:
            issue_license(
                session, core, IssueRequest(customer, offer, "billing", seats=5, duration_days=60, supersedes=first)
            )
        assert forked.value.code == "license_superseded" and forked.value.extra["superseded_by"] == second.id
        revoke_license(session, core, "sales", second.id, "fraud")
        with pytest.raises(Conflict) as revoked:
            issue_license(
                session, core, IssueRequest(customer, offer, "billing", seats=5, duration_days=60, supersedes=second)
            )
        assert revoked.value.code == "license_revoked"


def test_a_failed_service_call_leaves_nothing_and_the_transaction_usable(
    session_factory: Callable[[], Any], core: Core
) -> None:
    with session_factory() as session:
        before = _rows(session)
        # The customer is written before the seat count is refused: the savepoint takes it back.
        ask = trial_ask(email="c@seats-3b.example", company="C", seats=5000, accept_terms=True)
        with pytest.raises(ValidationFailed):
            issue_self_serve(session, core, ask, "public")
        assert _rows(session) == before
        # The caller goes on in the same transaction and commits its own work.
        _customer(session, core, "after@core-2a.example")
    with session_factory() as session:
        assert session.scalar(select(func.count()).where(Customer.email == "after@core-2a.example")) == 1
        assert session.scalar(select(func.count()).where(Customer.email == "c@seats-3b.example")) == 0
