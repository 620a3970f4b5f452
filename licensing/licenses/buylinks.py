"""Buy links: how a trial's holder proves, at checkout, that the purchase is hers (SPEC 6).

An address typed at checkout proves nothing (anyone can type ``nobody@victim.example``), so a paid license
supersedes a trial only when the checkout names a buy link of that trial. Only the trial's holder gets
one: it is mailed with the trial license and with the trial's last reminder, and the customer portal
makes one for the holder signed in there. A link is ``/checkout?trial=<token>``; the database keeps
only the SHA-256 of the token (:mod:`licensing.kit.tokens`). It works, as often as needed, until the
trial ends, and only while the trial is neither revoked nor replaced. Without one, the purchase starts
a line of its own and the trial runs out by itself; such a purchase does not make the organisation
"pay" for the trial rules either (:func:`licensing.licenses.status.organisation_pays`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from licensing.access import audit
from licensing.context import Core
from licensing.kit.db import atomic
from licensing.kit.errors import Conflict, ValidationFailed
from licensing.kit.tokens import find, new_token
from licensing.licenses.queries import successor_of
from licensing.models import License, TrialBuyLink

LINK_PREFIX = "tbl"
INVALID = "invalid_trial_link"


def checkout_url(core: Core, secret: str) -> str:
    return f"{core.public_url.rstrip('/')}/checkout?trial={secret}"


def replaceable(session: Session, core: Core, lic: License) -> bool:
    """``lic`` is a running trial: not ended, revoked or replaced (a purchase may replace it)."""
    return (
        lic.trial
        and lic.revoked_at is None
        and lic.expires_at is not None
        and core.now() < lic.expires_at
        and successor_of(session, lic) is None
    )


@atomic
def buy_link(session: Session, core: Core, trial: License, *, actor: str = "service") -> str:
    """A new buy link for ``trial`` (its holder's alone: callers hand it to her), valid until the trial ends.
    ``Conflict`` (``not_a_running_trial``) for a license that is not a running trial."""
    if not replaceable(session, core, trial):
        raise Conflict(
            f"License {trial.id} is not a running trial: there is nothing to replace.", code="not_a_running_trial"
        )
    assert trial.expires_at is not None
    now = core.now()
    token = new_token(LINK_PREFIX)
    link = TrialBuyLink(license_id=trial.id, token_hash=token.hash, created_at=now, expires_at=trial.expires_at)
    session.add(link)
    session.flush()
    audit.record(session, now, actor, "trial.buy_link", "license", trial.id, link_id=link.id)
    return checkout_url(core, token.secret)


def trial_of(session: Session, core: Core, secret: str | None) -> License | None:
    """The trial a buy link's token names, while the link works: the trial not ended, revoked or replaced."""
    link = find(session, TrialBuyLink, TrialBuyLink.token_hash, secret, LINK_PREFIX)
    if link is None or core.now() >= link.expires_at:
        return None
    trial = session.get(License, link.license_id)
    return trial if trial is not None and replaceable(session, core, trial) else None


def require_trial(session: Session, core: Core, secret: str) -> License:
    """:func:`trial_of`, or ``ValidationFailed`` (``invalid_trial_link``) for a link that does not work."""
    trial = trial_of(session, core, secret)
    if trial is None:
        raise ValidationFailed(
            "This buy link does not work any more (the trial ended, was replaced or revoked, or the link is not "
            "one of ours). Buy without it, or ask sales to move your trial.",
            field="trial_token",
            code=INVALID,
        )
    return trial
