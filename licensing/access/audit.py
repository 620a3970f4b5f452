"""The audit log: who changed what, and when. Written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from licensing.models import AuditEvent


def record(
    session: Session, at: datetime, actor: str, action: str, subject_type: str, subject_id: str, **data: Any
) -> AuditEvent:
    """Add an audit event (``action`` is dotted: ``license.issued``) at ``at`` (the core's clock)."""
    event = AuditEvent(
        occurred_at=at,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        data={k: v for k, v in data.items() if v is not None},
    )
    session.add(event)
    return event
