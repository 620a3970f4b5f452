"""The e-mails the service writes, each with a plain-text and an HTML part (text from inside a license,
such as a company name, is escaped in the HTML). The license goes as an attachment ``<license id>.lic``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from licensing.mail.outbox import Message
from licensing.mail.smtp import Attachment
from licensing.models import Lead, License

LICENSE_CONTENT_TYPE = "application/x-license-file"


def _when(moment: datetime | None) -> str:
    return "never (perpetual)" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def html_document(
    title: str,
    paragraphs: Sequence[str],
    facts: Sequence[tuple[str, str]] = (),
    action: tuple[str, str] | None = None,
) -> str:
    """A small self-contained HTML e-mail: no remote images, styles inline. Arguments are plain text;
    ``action`` (label, URL) is a link shown as a button after the first paragraph."""
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{escape(k)}</th><td>{escape(v)}</td></tr>'
        for k, v in facts
    )
    table = f'<table style="border-collapse:collapse;margin:12px 0">{rows}</table>' if rows else ""
    parts = [f"<p>{escape(p)}</p>" for p in paragraphs]
    if action is not None:
        label, url = action
        button = (
            f'<p><a href="{escape(url)}" style="display:inline-block;padding:8px 16px;background:#1d4ed8;'
            f'color:#ffffff;text-decoration:none;border-radius:4px">{escape(label)}</a></p>'
        )
        parts.insert(1, button)
    body = "".join(parts)
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>'
        f"{escape(title)}</title></head>"
        '<body style="font-family:system-ui,sans-serif;max-width:40em;line-height:1.5">'
        f'<h1 style="font-size:1.3em">{escape(title)}</h1>{body}{table}</body></html>'
    )


def text_document(title: str, paragraphs: Sequence[str], facts: Sequence[tuple[str, str]] = ()) -> str:
    width = max((len(k) for k, _ in facts), default=0)
    lines = [title, "=" * len(title), ""]
    for paragraph in paragraphs:
        lines += [paragraph, ""]
    lines += [f"  {k.ljust(width)}  {v}" for k, v in facts]
    return "\n".join(lines).rstrip() + "\n"


def buy_paragraph(buy_url: str) -> str:
    """What a trial's e-mails say about its buy link (licensing.licenses.buylinks)."""
    return (
        "Ready to buy? This link opens checkout with your details filled in, and the license you buy replaces "
        f"this trial on your servers: {buy_url} (it is yours: do not forward it)."
    )


def license_message(lic: License, public_url: str, *, headline: str, intro: str, buy_url: str | None = None) -> Message:
    """The license e-mail: what it is, how to install it, the file attached as ``<id>.lic``; for a trial,
    its buy link (``buy_url``) as a button (the e-mail then holds a secret: blanked in the outbox once sent)."""
    tier = lic.tier.title() + (" trial" if lic.trial else "")
    facts = [
        ("License", lic.id),
        ("Edition", tier),
        ("Seats", "unlimited" if lic.seats is None else str(lic.seats)),
        ("Valid until", _when(lic.expires_at)),
        ("Grace period", f"{lic.grace_days} days after that" if lic.grace_days else "none"),
        ("Licensed to", lic.customer.company or lic.customer.name),
    ]
    if lic.supersedes_id:
        facts.append(("Replaces", lic.supersedes_id))
    paragraphs = [
        intro,
        f"Your license file is attached as {lic.id}.lic. To install it, open your server's administration "
        "console, go to the license page and upload the file (or paste its text). Servers that can reach us "
        "pick up renewals by themselves.",
        f"Your licenses, the public keys and the revocation list for offline installs: {public_url.rstrip('/')}/portal",
    ]
    if buy_url is not None:
        paragraphs.insert(1, buy_paragraph(buy_url))
    return Message(
        to=lic.customer.email,
        subject=headline,
        text=text_document(headline, paragraphs, facts),
        html=html_document(headline, paragraphs, facts, action=("Buy Professional", buy_url) if buy_url else None),
        attachments=(Attachment(f"{lic.id}.lic", lic.license_file, LICENSE_CONTENT_TYPE),),
        secret=buy_url is not None,
    )


def lead_message(lead: Lead, owner: str) -> Message:
    """To the owner of ``lead``'s organisation: who asked for what (every lead, once). What the lead typed
    is shown as text, escaped; the owner is the service's own sales staff."""
    title = f"New {lead.kind.upper()} lead: {lead.organisation}"
    asked = {
        "trial": "for a Professional trial",
        "free": "for a free license",
        "contact": "to be contacted by sales",
    }[lead.source]
    paragraphs = [
        f"{lead.email} asked {asked}. You own the organisation {lead.organisation}: "
        "GET /v1/leads?organisation= lists all its leads."
    ]
    facts = [
        (label, str(value))
        for label, value in (
            ("Organisation", lead.organisation),
            ("E-mail", lead.email),
            ("Name", lead.name),
            ("Company", lead.company),
            ("Kind", lead.kind),
            ("Source", lead.source),
            ("Interest", lead.interest),
            ("Seats", lead.seats),
            ("Installation", lead.installation_id),
            ("Outcome", lead.outcome),
            ("Message", lead.message),
        )
        if value is not None
    ]
    return Message(
        to=owner,
        subject=title[:200],
        text=text_document(title, paragraphs, facts),
        html=html_document(title, paragraphs, facts),
    )
