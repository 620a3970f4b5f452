"""Driving the fake's hosted pages without a browser (what a buyer's browser would post)."""

from __future__ import annotations

import httpx

from .state import CARD_OK


def submit_checkout(
    session_url: str,
    *,
    card: str = CARD_OK,
    email: str | None = None,
    name: str = "Test Buyer",
    expiry: str = "12 / 34",
    cvc: str = "123",
    iban: str | None = None,
    authenticate: bool = True,
) -> httpx.Response:
    """POST the hosted checkout form at ``session_url`` (not following the redirect); when the card's bank
    asks for 3-D Secure, answer the challenge page (``authenticate``) as the buyer would.

    Paid: 303 to the session's success URL. Declined (or authentication failed): 402 with the page showing
    the message.
    """
    form = {"card_number": card, "card_expiry": expiry, "card_cvc": cvc, "name": name}
    if email is not None:
        form["email"] = email
    if iban is not None:
        form = {"iban": iban, "name": name, **({"email": email} if email else {})}
    answer = httpx.post(session_url, data=form, follow_redirects=False, timeout=15)
    if answer.status_code == 200 and 'id="three-d-secure"' in answer.text:
        form["three_d_secure"] = "complete" if authenticate else "fail"
        answer = httpx.post(session_url, data=form, follow_redirects=False, timeout=15)
    return answer


def pay_hosted_invoice(invoice_url: str, *, authenticate: bool = True) -> httpx.Response:
    """Open Stripe's hosted invoice page at ``invoice_url`` and press its button (completing the 3-D Secure
    step when asked; ``authenticate=False`` abandons it). Paid: 200 "Invoice paid"; not paid: 402."""
    page = httpx.get(invoice_url, timeout=15)
    if page.status_code != 200:
        return page
    form = {"authenticate": "complete" if authenticate else "fail"}
    return httpx.post(invoice_url, data=form, follow_redirects=False, timeout=15)
