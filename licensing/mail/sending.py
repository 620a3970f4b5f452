"""Sales e-mailing a license file to its customer, or to another address (SPEC section 5)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from licensing.access import audit
from licensing.context import Core
from licensing.kit.db import atomic, new_id
from licensing.kit.errors import Conflict
from licensing.kit.fields import normalize_email
from licensing.licenses.issuance import get_license
from licensing.mail import outbox
from licensing.mail.templates import license_message


@dataclass(frozen=True)
class Sent:
    license_id: str
    to: str
    message_id: str  # the outbox dedupe key of the queued e-mail


@atomic
def send_license(session: Session, core: Core, actor: str, license_id: str, to: str | None = None) -> Sent:
    """Queue the license e-mail (the file attached) to the customer, or to ``to``; audited as
    ``license.sent``. A revoked license is 409 ``license_revoked``; a bad ``to`` 422 ``invalid_email``."""
    lic = get_license(session, license_id)
    if lic.revoked_at is not None:
        raise Conflict(f"License {lic.id} is revoked; it cannot be sent.", code="license_revoked")
    address = normalize_email(to) if to is not None else lic.customer.email
    now = core.now()
    edition = lic.tier.title() + (" trial" if lic.trial else "")
    message = license_message(
        lic,
        core.public_url,
        headline=f"Your {edition} license",
        intro=f"Here is the {edition} license for {lic.customer.company or lic.customer.name}.",
    )
    if address != message.to:
        message = outbox.Message(
            to=address,
            subject=message.subject,
            text=message.text,
            html=message.html,
            attachments=message.attachments,
            secret=message.secret,
        )
    key = f"license-send:{lic.id}:{new_id('snd')}"
    outbox.enqueue(session, now, key, message)
    audit.record(session, now, actor, "license.sent", "license", lic.id, to=address)
    return Sent(lic.id, address, key)
