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


def _money(amount: int, currency: str) -> str:
    """Minor units as an amount with its currency (``12.50 USD``); zero-decimal currencies left whole."""
    zero_decimal = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf"}
    code = currency.upper() or "?"
    if currency.lower() in zero_decimal:
        return f"{amount} {code}"
    return f"{amount // 100}.{amount % 100:02d} {code}"


REVOKED_BECAUSE = {
    "refunded": "the payment for your Professional subscription has been refunded in full",
    "dispute_lost": "the payment for your Professional subscription was disputed and the dispute was decided "
    "against us",
}


def license_revoked(row: Subscription, lic: License, reason: str, public_url: str) -> Message:
    """To the customer: the subscription's license line was revoked because its payment was taken back."""
    because = REVOKED_BECAUSE.get(reason, reason)
    return _message(
        row,
        "Your Professional license has been revoked",
        [
            f"Your license {lic.id} has been revoked because {because}. Servers using it stop accepting it "
            "once they next fetch the revocation list.",
            f"If you think this is a mistake, or want to subscribe again, visit {public_url.rstrip('/')}/pricing "
            "or reply to this e-mail.",
        ],
        lic,
    )


def dispute_opened(
    to: str,
    row: Subscription,
    lic: License | None,
    *,
    dispute_id: str,
    charge_id: str,
    status: str,
    reason: str,
    amount: int,
    currency: str,
    evidence_due_by: datetime | None,
    invoice: str | None,
) -> Message:
    """To sales (SPEC 6): a customer's payment is disputed; nothing is revoked unless the dispute is lost."""
    headline = f"Payment disputed: {row.customer.company or row.customer.email} ({_money(amount, currency)})"
    facts = [
        ("Dispute", dispute_id),
        ("Status", status),
        ("Reason", reason or "-"),
        ("Amount disputed", _money(amount, currency)),
        ("Evidence due by", _when(evidence_due_by)),
        ("Charge", charge_id),
        ("Invoice", invoice or "-"),
        ("Customer", row.customer.email),
        ("Company", row.customer.company or "-"),
        ("Stripe subscription", row.stripe_subscription_id),
        *_license_facts(row, lic),
    ]
    paragraphs = [
        f"The cardholder has disputed a payment for subscription {row.id} ({reason or 'no reason given'}). "
        "Nothing has been revoked: the license keeps working unless the dispute is lost, when its line is "
        "revoked automatically.",
        "Answer the dispute in Stripe's dashboard (Payments > Disputes) before the evidence is due.",
    ]
    return Message(
        to=to,
        subject=headline[:200],
        text=text_document(headline, paragraphs, facts),
        html=html_document(headline, paragraphs, facts),
    )
