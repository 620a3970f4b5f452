"""A recorded true-up for tests of the pages that list them: a sales line activated by an installation,
then a usage report over its seats, all through the service calls (the console's and the API's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from licensing.airgap import InstallationKey, activation_request, usage_report
from licensing.context import Core
from licensing.installs.activation import activate
from licensing.installs.usage import accept_usage_report
from licensing.licenses.issuance import IssueRequest, issue_license
from licensing.models import Customer

DAY = 86_400


@dataclass(frozen=True)
class RecordedTrueUp:
    license_id: str  # the bound license the report names
    installation_id: str


def record_sales_true_up(
    session: Session, core: Core, customer: Customer, now: datetime, *, seats: int, peak: int, installation_id: str
) -> RecordedTrueUp:
    """An enterprise license of ``seats`` for ``customer``, bound to ``installation_id``, and a report of
    two days before ``now`` peaking at ``peak``; in the session's transaction (the caller commits)."""
    offer = core.catalog.offer("enterprise")
    sold = issue_license(
        session, core, IssueRequest(customer=customer, offer=offer, actor="test", seats=seats, duration_days=365)
    )
    key = InstallationKey.generate()
    request = activation_request(key, installation_id, license_text=sold.license_file)
    bound = activate(session, core, request, actor="test")
    today = int(now.timestamp()) // DAY * DAY
    start = today - 3 * DAY
    report = usage_report(
        key,
        license_id=bound.id,
        installation_id=installation_id,
        seq=1,
        prev=None,
        period_start=start,
        period_end=start + 2 * DAY,
        daily=[(start, max(peak - 1, 0)), (start + DAY, peak)],
    )
    accept_usage_report(session, core, report, actor="test")
    return RecordedTrueUp(bound.id, installation_id)
