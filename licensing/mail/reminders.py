"""Expiry reminders (SPEC section 6): written to the outbox by the background loop, from the database.

A trial's holder is reminded 3 days before it ends, with its buy link (the purchase replaces the trial);
the holder of any other license that nothing will renew (sales-issued, or its subscription cancelled,
set to cancel at period end, past due or deleted) 30 and 7 days before it ends. Only live licenses are
reminded: not revoked, not superseded, started, with an end; never one that a renewing subscription
(``active`` or ``trialing``, not cancelling at period end) of its line will replace.

There is no timer in memory: every pass asks, per threshold, for the licenses whose end is within that
threshold but not yet within the next nearer one (a license first seen 5 days before its end gets only
the 7-day reminder), that have no reminder for that threshold in the outbox yet. Each reminder is
enqueued with the dedupe key ``reminder:<license id>:<days>``, which the outbox keeps unique
(``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL): however many workers or passes find
the same license, one e-mail is enqueued. The candidates are locked ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL so two workers share the work instead of both doing it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, exists, literal, or_, select
from sqlalchemy.orm import Session

from licensing.licenses.buylinks import buy_link
from licensing.licenses.status import where_status
from licensing.mail.outbox import Message, enqueue
from licensing.mail.templates import buy_paragraph, html_document, text_document
from licensing.models import License, OutboxMessage, Subscription

if TYPE_CHECKING:
    from licensing.context import Runtime

log = logging.getLogger("licensing.reminders")

# Stripe's statuses under which a subscription goes on issuing licenses (see billing.lifecycle.LICENSED).
RENEWING_STATUSES = ("active", "trialing")


@dataclass(frozen=True)
class Threshold:
    """Remind ``days`` before the end, for trials or for the others; ``nearer`` is the next smaller
    threshold of the same kind (0 for none): inside it, only that one is sent."""

    trial: bool
    days: int
    nearer: int = 0

    def dedupe_key(self, license_id: str) -> str:
        return f"reminder:{license_id}:{self.days}"


THRESHOLDS = (Threshold(trial=True, days=3), Threshold(trial=False, days=30, nearer=7), Threshold(trial=False, days=7))


def renewing_subscription() -> ColumnElement[bool]:
    """SQL: a subscription that will replace this license (its own, or one feeding its line) renews."""
    return exists().where(
        or_(Subscription.id == License.subscription_id, Subscription.line_id == License.line_id),
        Subscription.status.in_(RENEWING_STATUSES),
        Subscription.cancel_at_period_end.is_(False),
    )


def _reminded(threshold: Threshold) -> ColumnElement[bool]:
    key = literal("reminder:") + License.id + literal(f":{threshold.days}")
    return exists().where(OutboxMessage.dedupe_key == key)


def due(session: Session, now: datetime, threshold: Threshold, limit: int) -> list[License]:
    """The licenses owed the ``threshold`` reminder at ``now`` that do not have it yet, oldest first."""
    conditions = [
        where_status("active", now),  # not revoked or superseded, started, not ended
        License.trial.is_(threshold.trial),
        License.expires_at.is_not(None),
        License.expires_at <= now + timedelta(days=threshold.days),
        ~renewing_subscription(),
        ~_reminded(threshold),
    ]
    if threshold.nearer:
        conditions.append(License.expires_at > now + timedelta(days=threshold.nearer))
    query = (
        select(License)
        .where(*conditions)
        .order_by(License.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=License)
    )
    return list(session.scalars(query))


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _left(expires_at: datetime, now: datetime) -> str:
    days = max(0, (expires_at - now) // timedelta(days=1))
    if days == 0:
        return "in less than a day"
    return "tomorrow" if days == 1 else f"in {days} days"


def reminder_message(lic: License, now: datetime, public_url: str, buy_url: str | None = None) -> Message:
    """The reminder e-mail for ``lic`` (whose ``expires_at`` is set): what ends when, and what to do; a
    trial's carries its buy link (``buy_url``: the holder's own, so the e-mail then holds a secret)."""
    assert lic.expires_at is not None
    base = public_url.rstrip("/")
    tier = lic.tier.title()
    ends = f"{_when(lic.expires_at)} ({_left(lic.expires_at, now)})"
    if lic.trial:
        headline = f"Your {tier} trial ends {_left(lic.expires_at, now)}"
        paragraphs = [
            f"Your {tier} trial license {lic.id} ends on {ends}. After that, the features of the trial stop working.",
            buy_paragraph(buy_url)
            if buy_url
            else f"To keep them, buy a subscription: {base}/pricing, or sign in to the customer portal "
            f"({base}/portal) and buy from your trial there, so that the license you buy replaces it.",
        ]
    else:
        headline = f"Your {tier} license ends {_left(lic.expires_at, now)}"
        grace = f" It then works for a grace period of {lic.grace_days} days." if lic.grace_days else ""
        paragraphs = [
            f"Your {tier} license {lic.id} ends on {ends}, and nothing renews it.{grace}",
            "To keep using it, renew: reply to this e-mail or contact our sales team, or, for a subscription, "
            f"renew it in the customer portal: {base}/portal",
        ]
    facts = [
        ("License", lic.id),
        ("Edition", tier + (" trial" if lic.trial else "")),
        ("Seats", "unlimited" if lic.seats is None else str(lic.seats)),
        ("Valid until", _when(lic.expires_at)),
        ("Licensed to", lic.customer.company or lic.customer.name),
    ]
    return Message(
        to=lic.customer.email,
        subject=headline,
        text=text_document(headline, paragraphs, facts),
        html=html_document(headline, paragraphs, facts, action=("Buy Professional", buy_url) if buy_url else None),
        secret=buy_url is not None,
    )


class ReminderTask:
    """Enqueues the reminders that are due, up to ``limit`` per threshold a pass, in one transaction."""

    name = "reminders"

    def run_due(self, runtime: Runtime, limit: int) -> int:
        now = runtime.core.now()
        public_url = runtime.settings.public_url
        enqueued = 0
        with runtime.unit_of_work() as session:
            for threshold in THRESHOLDS:
                for lic in due(session, now, threshold, limit):
                    buy_url = buy_link(session, runtime.core, lic, actor="reminders") if lic.trial else None
                    message = reminder_message(lic, now, public_url, buy_url)
                    if enqueue(session, now, threshold.dedupe_key(lic.id), message):
                        enqueued += 1
                        log.info("reminder.enqueued", extra={"license": lic.id, "days": threshold.days})
        return enqueued
