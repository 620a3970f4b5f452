"""Activation by file: an installation's signed activation request binds the license line it names to
that installation (SPEC section 8).

The answer is the line's next license, with the same term, seats and features as the line's newest, its
``installation_id`` and ``"cnf": {"jkt": <the installation key's thumbprint>}``, superseding the newest
(issued through :func:`licensing.licenses.issuance.issue_license`: audited, counted). The same request
again (by digest) answers the same license; another request from the installation the line is bound to
answers the line's newest license. A request from another installation is a move: refused (409
``already_activated``) unless sales ask for it (``move``), or, in the portal, the line has moved fewer
than its offer's ``max_moves`` times in the past 365 days (else 409 ``move_limit_reached``).

Concurrent activations of a line apply one after the other: each locks the line's first license
(``SELECT ... FOR UPDATE``) before it reads the binding, and the unique digest and binding rows back the
lock up.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing.access import audit
from licensing.airgap import ActivationRequest as RequestFile
from licensing.context import Core
from licensing.installs.files import read_request
from licensing.kit.db import atomic, new_id
from licensing.kit.errors import Conflict, NotFound
from licensing.licenses.issuance import IssueRequest, issue_license
from licensing.licenses.queries import newest_of_line
from licensing.licenses.status import status_of
from licensing.models import ActivationRequest, InstallationBinding, InstallationMove, License, Subscription

log = logging.getLogger("licensing.installs")
MOVE_WINDOW = timedelta(days=365)


def _not_found(license_id: str) -> NotFound:
    return NotFound(f"No license {license_id!r}.", code="license_not_found")


def _answered(session: Session, digest: str, customer_id: str | None) -> License | None:
    """The license answered to this request before, if it was (another customer's: 404, as any other)."""
    found = session.scalars(select(ActivationRequest).where(ActivationRequest.digest == digest)).first()
    if found is None:
        return None
    if customer_id is not None and found.license.customer_id != customer_id:
        raise _not_found(found.requested_license_id)
    return found.license


def _lock_line(session: Session, line_id: str) -> None:
    """Serialise the activations of one line: lock its first license (whose id is the line's)."""
    session.scalars(select(License.id).where(License.id == line_id).with_for_update()).first()


def moves_in_past_year(session: Session, core: Core, line_id: str) -> int:
    since = core.now() - MOVE_WINDOW
    count = session.scalar(
        select(func.count()).where(InstallationMove.line_id == line_id, InstallationMove.moved_at > since)
    )
    return int(count or 0)


def _check_live(lic: License, named: License, core: Core, portal: bool) -> None:
    now = core.now()
    for candidate in (named, lic) if portal else (lic,):
        if candidate.revoked_at is not None:
            raise Conflict(f"License {candidate.id} is revoked: it cannot be activated.", code="license_revoked")
    if status_of(lic, now) == "expired" or (lic.expires_at is not None and lic.expires_at <= now):
        raise Conflict(
            f"License {lic.id} has expired: renew it before activating an installation.", code="license_expired"
        )


def _issue_bound(session: Session, core: Core, newest: License, request: RequestFile, actor: str) -> License:
    known = core.catalog.known_features
    return issue_license(
        session,
        core,
        IssueRequest(
            customer=newest.customer,
            offer=core.catalog.offer_for(newest.tier, newest.trial),
            actor=actor,
            source=newest.source,
            seats=newest.seats,
            unlimited_seats=newest.seats is None and newest.tier == "enterprise",
            features=[f for f in newest.features if f in known],
            custom_features=[f for f in newest.features if f not in known],
            starts_at=newest.starts_at,
            expires_at=newest.expires_at,
            grace_days=newest.grace_days,
            installation_id=request.installation_id,
            cnf_jkt=request.thumbprint,
            subscription_id=newest.subscription_id,
            supersedes=newest,
            note=newest.note,
        ),
    )


@atomic
def activate(
    session: Session,
    core: Core,
    request_text: str,
    *,
    actor: str,
    customer_id: str | None = None,
    move: bool = False,
) -> License:
    """The license bound to the installation that signed ``request_text`` (see the module's docstring).

    ``customer_id``: the portal's signed-in customer; only a live license of theirs may be activated
    (another customer's is 404 ``license_not_found``, as one that does not exist), and a move needs no
    ``move`` there but counts against the offer's ``max_moves``. Errors: 422 ``invalid_request_file``
    (with ``reason``, the reader's code), 404 ``license_not_found``, 409 ``license_revoked``,
    ``license_expired``, ``license_superseded`` (portal: an older license of a line bound elsewhere),
    ``already_activated``, ``move_limit_reached``.
    """
    request = read_request(request_text)
    portal = customer_id is not None
    answered = _answered(session, request.digest, customer_id)
    if answered is not None:
        return answered
    named = session.get(License, request.license_id)
    if named is None or (portal and named.customer_id != customer_id):
        raise _not_found(request.license_id)
    line_id = named.line_id
    _lock_line(session, line_id)
    answered = _answered(session, request.digest, customer_id)  # committed while we waited for the lock
    if answered is not None:
        return answered
    newest = newest_of_line(session, line_id)
    session.refresh(newest)
    binding = session.scalars(
        select(InstallationBinding)
        .where(InstallationBinding.line_id == line_id)
        .execution_options(populate_existing=True)
    ).first()
    same = binding is not None and (binding.jkt, binding.installation_id) == (
        request.thumbprint,
        request.installation_id,
    )
    _check_live(newest, named, core, portal)
    now = core.now()
    if same and newest.cnf_jkt == request.thumbprint:
        lic = newest  # already bound to this installation: its license as it is now
    else:
        if portal and named.id != newest.id and not same:
            raise Conflict(
                f"License {named.id} was replaced by {newest.id}: activate that one.",
                code="license_superseded",
                superseded_by=newest.id,
            )
        # Bound elsewhere: to another installation's key, or (issued with an installation_id and no key
        # yet) to another installation id.
        if binding is not None:
            bound_to: tuple[str, str] | None = None if same else (binding.installation_id, binding.jkt)
        elif newest.installation_id is not None and newest.installation_id != request.installation_id:
            bound_to = (newest.installation_id, "")
        else:
            bound_to = None
        if bound_to is not None:
            if portal:
                allowed = core.catalog.offer_for(newest.tier, newest.trial).max_moves
                made = moves_in_past_year(session, core, line_id)
                if made >= allowed:
                    raise Conflict(
                        f"This license has moved to another installation {made} time(s) in the past year, "
                        f"the most its offer allows ({allowed}); contact sales to move it again.",
                        code="move_limit_reached",
                        moves=made,
                        max_moves=allowed,
                    )
            elif not move:
                raise Conflict(
                    f"License line {line_id} is bound to installation {bound_to[0]!r}; "
                    'ask for a move ("move": true) to bind it to another.',
                    code="already_activated",
                    installation_id=bound_to[0],
                )
        lic = _issue_bound(session, core, newest, request, actor)
        if binding is None:
            binding = InstallationBinding(line_id=line_id)
            session.add(binding)
        if bound_to is not None:
            session.add(
                InstallationMove(
                    line_id=line_id,
                    from_installation_id=bound_to[0],
                    from_jkt=bound_to[1],
                    to_installation_id=request.installation_id,
                    to_jkt=request.thumbprint,
                    license_id=lic.id,
                    source="portal" if portal else "api",
                    moved_at=now,
                    moved_by=actor,
                )
            )
            audit.record(
                session,
                now,
                actor,
                "license.moved",
                "license",
                lic.id,
                line_id=line_id,
                from_installation_id=bound_to[0],
                from_jkt=bound_to[1] or None,
                to_installation_id=request.installation_id,
                to_jkt=request.thumbprint,
            )
        binding.installation_id, binding.public_jwk, binding.jkt = (
            request.installation_id,
            request.public_jwk,
            request.thumbprint,
        )
        binding.license_id, binding.bound_at, binding.bound_by = lic.id, now, actor
        session.execute(update(Subscription).where(Subscription.line_id == line_id).values(license_id=lic.id))
    session.add(
        ActivationRequest(
            id=new_id("act"),
            digest=request.digest,
            line_id=line_id,
            requested_license_id=named.id,
            license_id=lic.id,
            installation_id=request.installation_id,
            jkt=request.thumbprint,
            product_version=request.product_version,
            created_at=now,
            created_by=actor,
        )
    )
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the lock makes this unreachable; the unique rows are its backup
        raise Conflict("Another activation of this license ran at the same time; try again.", code="conflict") from None
    audit.record(
        session,
        now,
        actor,
        "license.activated",
        "license",
        lic.id,
        line_id=line_id,
        requested_license_id=named.id,
        installation_id=request.installation_id,
        jkt=request.thumbprint,
        product_version=request.product_version,
        request_digest=request.digest,
    )
    log.info("license.activated", extra={"license_id": lic.id, "line_id": line_id, "by": actor})
    return lic
