"""Webhook intake: verify with the SDK, store each allowed event once, answer at once.

Nothing is processed here: the background loop (:mod:`billing.events`) re-reads the object each stored
event is about from Stripe. So intake is a signature check, a JSON parse and one
``INSERT ... ON CONFLICT (event_id) DO NOTHING``, and a duplicate delivery is a no-op.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from sqlalchemy.orm import Session

from billing.client import event_target, stripe_id
from licensing.context import Core
from licensing.kit import metrics
from licensing.kit.db import insert_ignoring_duplicates
from licensing.kit.errors import DomainError
from licensing.models import StripeEvent

log = logging.getLogger("billing.webhooks")
TOLERANCE_SECONDS = 300  # Stripe's own default: a signature older than 5 minutes is refused
LAST_SECOND = 253_402_300_800  # 10000-01-01: a "created" beyond is not a time (Stripe sends seconds)
MAX_BODY_BYTES = 1024 * 1024  # real Stripe payloads reach a few hundred KiB (an invoice with many lines)

# The events whose object is re-read; any other type is answered 200 and not stored.
ALLOWED_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.payment_action_required",  # 3-D Secure on a renewal: the customer is mailed the invoice's link
        "charge.refunded",
        "charge.dispute.created",
        "charge.dispute.closed",
    }
)


class WebhooksDisabled(DomainError):
    status = 404
    code = "webhooks_disabled"
    title = "Not found"


class InvalidWebhook(DomainError):
    status = 400
    code = "invalid_signature"
    title = "Bad request"


@dataclass(frozen=True)
class Received:
    event_id: str
    type: str
    stored: bool  # False: a duplicate, or a type we do not handle
    handled: bool  # the type is on the allow-list


def webhook_secret(core: Core) -> str:
    secret = core.settings.stripe_webhook_secret
    value = secret.get_secret_value().strip() if secret is not None else ""
    if not value:
        raise WebhooksDisabled(
            "Stripe webhooks are disabled on this service: LICENSING_STRIPE_WEBHOOK_SECRET is not set. "
            "Set it to the endpoint's signing secret (whsec_...) from Stripe's dashboard."
        )
    return value


def _seconds(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < LAST_SECOND


def receive(session: Session, core: Core, payload: bytes, signature: str | None) -> Received:
    """Verify ``payload`` against its ``Stripe-Signature`` and store the event once (in the caller's
    transaction). Raises ``InvalidWebhook`` (400) for an unsigned, forged, stale or malformed call (signed
    but not JSON, not an event, or nested too deep for the parser: its ``RecursionError`` is caught) and
    ``WebhooksDisabled`` (404) without a webhook secret; nothing is written then."""
    secret = webhook_secret(core)
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=TOLERANCE_SECONDS)
        raw = event.to_dict()
    except stripe.SignatureVerificationError as exc:
        log.warning("webhook.rejected", extra={"reason": str(exc)[:200]})
        metrics.webhooks_received.labels(outcome="rejected").inc()
        raise InvalidWebhook(
            "The Stripe-Signature header is missing, does not match the body, or is too old.",
            code="invalid_signature",
        ) from None
    except (ValueError, TypeError, AttributeError, KeyError):  # not UTF-8 (checked first), or signed but not JSON
        metrics.webhooks_received.labels(outcome="malformed").inc()
        raise InvalidWebhook("The webhook body is not a Stripe event.", code="malformed_event") from None
    except RecursionError:  # signed, but nested deeper than the JSON parser or the SDK's objects go
        log.warning("webhook.too_deep", extra={"bytes": len(payload)})
        metrics.webhooks_received.labels(outcome="malformed").inc()
        raise InvalidWebhook(
            "The webhook body is nested too deep to be a Stripe event.", code="malformed_event"
        ) from None
    event_id, event_type = raw.get("id"), raw.get("type")
    if stripe_id(event_id) is None or not isinstance(event_type, str):
        metrics.webhooks_received.labels(outcome="malformed").inc()
        raise InvalidWebhook("The webhook body is not a Stripe event.", code="malformed_event")
    target = event_target(raw) if event_type in ALLOWED_EVENTS else None
    if target is None:
        log.info("webhook.ignored", extra={"event": event_id, "type": event_type})
        metrics.webhooks_received.labels(outcome="ignored").inc()
        return Received(event_id, event_type, stored=False, handled=False)
    now = core.now()
    created = raw.get("created")
    stored = insert_ignoring_duplicates(
        session,
        StripeEvent,
        ["event_id"],
        event_id=event_id[:255],
        type=event_type[:100],
        object_type=target[0],
        object_id=target[1][:255],
        livemode=bool(raw.get("livemode")),
        created=datetime.fromtimestamp(created, UTC) if _seconds(created) else now,
        received_at=now,
        attempts=0,
        next_attempt_at=now,
    )
    log.info("webhook.stored" if stored else "webhook.duplicate", extra={"event": event_id, "type": event_type})
    metrics.webhooks_received.labels(outcome="stored" if stored else "duplicate").inc()
    return Received(event_id, event_type, stored=stored, handled=True)
