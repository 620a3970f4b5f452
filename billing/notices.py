"""The e-mails of the subscription lifecycle (SPEC section 6): a license issued, a payment failed, a
cancellation scheduled, a subscription ended. Each has a plain-text and an HTML part."""

from __future__ import annotations

from datetime import datetime

from licensing.mail.outbox import Message
from licensing.mail.templates import html_document, license_message, text_document
from licensing.models import License, Subscription


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _portal(public_url: str) -> str:
    return f"{public_url.rstrip('/')}/portal"


def license_issued(lic: License, public_url: str, reason: str) -> Message:
    if reason == "first license":
        headline, intro = "Your Professional license", "Thank you for your purchase. Here is your license."
    elif reason == "converted the trial":
        headline = "Your Professional license (replaces your trial)"
        intro = f"Thank you for your purchase. This license replaces your trial license {lic.supersedes_id}."
    elif reason == "renewal":
        headline = "Your renewed Professional license"
        intro = (
            "Your subscription has renewed. Here is your license for the new period; install it in place of the last."
        )
    else:
        headline = "Your updated Professional license"
        intro = f"Your subscription has changed ({reason}). Here is your new license; install it in place of the last."
    return license_message(lic, public_url, headline=headline, intro=intro)


def _license_facts(row: Subscription, lic: License | None) -> list[tuple[str, str]]:
    facts = [("Subscription", row.id), ("Seats", str(row.seats)), ("Billed", f"per {row.interval}")]
    if lic is not None:
        facts += [
            ("Current license", lic.id),
            ("It is valid until", _when(lic.expires_at)),
            ("and works in grace until", _when(lic.grace_ends_at)),
        ]
    return facts


def _message(row: Subscription, headline: str, paragraphs: list[str], lic: License | None) -> Message:
    facts = _license_facts(row, lic)
    return Message(
        to=row.customer.email,
        subject=headline,
        text=text_document(headline, paragraphs, facts),
        html=html_document(headline, paragraphs, facts),
    )


def payment_failed(row: Subscription, lic: License | None, public_url: str, invoice_url: str | None = None) -> Message:
    """No payment for the new period: the card was declined, or the bank asks the customer to confirm
    the payment (3-D Secure). ``invoice_url`` is Stripe's hosted invoice page, where either is settled."""
    paragraphs = [
        "We could not collect the payment for your Professional subscription, so no new license has been "
        "issued. Your current license keeps working until it expires and then through its grace period.",
    ]
    if invoice_url:
        paragraphs.append(
            "Pay the invoice on Stripe's secure page; if your bank asks you to confirm the payment "
            f"(3-D Secure), you do it there: {invoice_url}"
        )
    paragraphs.append(
        f"Or update your payment method in the billing portal: {_portal(public_url)}. We retry the "
        "payment automatically; once it succeeds, your renewed license is e-mailed to you."
        if invoice_url
        else f"Please update your payment method in the billing portal: {_portal(public_url)}. We retry the "
        "payment automatically; once it succeeds, your renewed license is e-mailed to you."
    )
    return _message(row, "Your payment for the Professional subscription failed", paragraphs, lic)


def cancel_scheduled(row: Subscription, lic: License | None, public_url: str) -> Message:
    return _message(
        row,
        "Your Professional subscription will not renew",
        [
            f"Your subscription is set to end on {_when(row.current_period_end)} and will not renew. "
            "Your current license keeps working until then and through its grace period.",
            f"Changed your mind? Renew it in the billing portal before then: {_portal(public_url)}",
        ],
        lic,
    )


def ended(row: Subscription, lic: License | None, public_url: str) -> Message:
    return _message(
        row,
        "Your Professional subscription has ended",
        [
            "Your subscription has ended; no further license will be issued. Your last license works until it "
            "expires and then through its grace period.",
            f"To subscribe again, visit {public_url.rstrip('/')}/pricing",
        ],
        lic,
    )
