"""Usage reports and their receipts (SPEC section 8).

A report is accepted only for a line bound to the key that signed it (the header's ``kid`` is the bound
thumbprint, and the signature checks with the bound public JWK); it is stored once, by digest (the same
report again answers the same receipt) and by (line, key, seq). Its ``prev`` must be the digest of the
stored report ``seq - 1`` when that one is stored (409 ``chain_broken``); a report whose ``seq - 1`` is not
stored is accepted and marked (``gap``). The overage is counted against the line's newest license's seats;
over the seats, a true-up is recorded (:mod:`licensing.installs.trueups`). Concurrent reports of one line
apply one after the other: each locks the line's binding row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing.access import audit
from licensing.airgap import RECEIPT_TYP, armor_receipt, receipt_claims
from licensing.airgap import overage as overage_of
from licensing.context import Core
from licensing.installs import trueups
from licensing.installs.files import report_routing, verify_report
from licensing.kit.db import atomic, new_id
from licensing.kit.errors import Conflict, NotFound
from licensing.licenses.queries import newest_of_line
from licensing.models import InstallationBinding, License, UsageReport

log = logging.getLogger("licensing.installs")


@dataclass(frozen=True)
class Accepted:
    """What ``POST /v1/usage-reports`` answers: the armored receipt and what it says."""

    receipt: str
    seq: int
    overage: int
    gap: bool
    report_id: str
    peak_users: int
    seats: int | None


def _accepted(row: UsageReport) -> Accepted:
    return Accepted(row.receipt, row.seq, row.overage, row.gap, row.id, row.peak_users, row.seats)


def _stored(session: Session, digest: str) -> UsageReport | None:
    return session.scalars(select(UsageReport).where(UsageReport.digest == digest)).first()


@atomic
def accept_usage_report(
    session: Session, core: Core, report_text: str, *, actor: str, customer_id: str | None = None
) -> Accepted:
    """Check, store and answer a usage report (see the module's docstring). ``customer_id``: the portal's
    signed-in customer (another customer's license is 404, as one that does not exist).

    Errors: 422 ``invalid_report_file`` (with ``reason``, the reader's code: a report that is not one, a
    wrong ``typ``, an ``alg`` other than EdDSA/Ed25519, a bad signature), 404 ``license_not_found``, 409
    ``not_activated`` (the line is bound to no installation), ``installation_mismatch`` (signed by another
    key than the line's, or naming another installation), ``chain_broken``, ``report_conflict`` (another
    report of the same seq is stored).
    """
    kid, license_id = report_routing(report_text)
    lic = session.get(License, license_id) if license_id else None
    if lic is None or (customer_id is not None and lic.customer_id != customer_id):
        raise NotFound(f"No license {license_id!r}.", code="license_not_found")
    line_id = lic.line_id
    binding = session.scalars(
        select(InstallationBinding)
        .where(InstallationBinding.line_id == line_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if binding is None:
        raise Conflict(
            f"License {license_id} is not bound to an installation: activate it before sending usage reports.",
            code="not_activated",
        )
    if kid != binding.jkt:
        raise Conflict(
            "The report is signed by another installation key than the one this license is bound to.",
            code="installation_mismatch",
        )
    report = verify_report(report_text, binding.public_jwk)
    if report.installation_id != binding.installation_id:
        raise Conflict(
            f"The report names installation {report.installation_id!r}; "
            f"this license is bound to {binding.installation_id!r}.",
            code="installation_mismatch",
        )
    stored = _stored(session, report.digest)
    if stored is not None:
        return _accepted(stored)
    same_seq = session.scalars(
        select(UsageReport).where(
            UsageReport.line_id == line_id, UsageReport.jkt == binding.jkt, UsageReport.seq == report.seq
        )
    ).first()
    if same_seq is not None:
        raise Conflict(
            f"Another report of seq {report.seq} from this installation was received already.",
            code="report_conflict",
            seq=report.seq,
        )
    previous = (
        session.scalars(
            select(UsageReport).where(
                UsageReport.line_id == line_id, UsageReport.jkt == binding.jkt, UsageReport.seq == report.seq - 1
            )
        ).first()
        if report.seq > 1
        else None
    )
    if previous is not None and report.prev != previous.digest:
        raise Conflict(
            f"The report's prev is not the digest of the report of seq {previous.seq} received before.",
            code="chain_broken",
            seq=report.seq,
        )
    gap = report.seq > 1 and previous is None
    newest = newest_of_line(session, line_id)
    seats = newest.seats
    overage = overage_of(report.peak_users, seats)
    now = core.now()
    row = UsageReport(
        id=new_id("urp"),
        digest=report.digest,
        line_id=line_id,
        license_id=lic.id,
        installation_id=report.installation_id,
        jkt=binding.jkt,
        seq=report.seq,
        prev=report.prev,
        period_start=report.period_start,
        period_end=report.period_end,
        peak_users=report.peak_users,
        daily=[[day, users] for day, users in report.daily_seconds],
        gap=gap,
        seats=seats,
        overage=overage,
        receipt="",
        received_at=now,
        received_by=actor,
    )
    claims = receipt_claims(report, issuer=core.issuer, seats=seats, gap=gap, now=now)
    row.receipt = armor_receipt(core.signer().sign_compact(RECEIPT_TYP, claims, ordered=True))
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the binding's lock makes this unreachable; the unique columns back it up
        raise Conflict("The same report was received at the same time; send it again.", code="conflict") from None
    audit.record(
        session,
        now,
        actor,
        "usage_report.received",
        "license",
        lic.id,
        report_id=row.id,
        line_id=line_id,
        installation_id=row.installation_id,
        seq=row.seq,
        digest=row.digest,
        peak_users=row.peak_users,
        seats=seats,
        overage=overage,
        gap=gap,
    )
    if overage > 0:
        trueups.record(session, core, row, newest)
    log.info(
        "usage_report.received",
        extra={"report_id": row.id, "license_id": lic.id, "seq": row.seq, "overage": overage, "gap": gap},
    )
    return _accepted(row)
