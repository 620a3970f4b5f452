"""Customers and the organisation an e-mail address belongs to."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from email_validator import validate_email
from publicsuffixlist import PublicSuffixList
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.access import audit
from licensing.catalog import Catalog
from licensing.kit import fields
from licensing.kit.db import atomic, lock_name
from licensing.kit.errors import Conflict, NotFound, ValidationFailed
from licensing.kit.fields import normalize_email
from licensing.models import Customer

if TYPE_CHECKING:
    from licensing.context import Core

__all__ = [
    "create_customer",
    "get_customer",
    "mailbox_of",
    "normalize_email",
    "organisation_of",
    "registrable_domain",
    "update_customer",
]


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    """The Public Suffix List shipped in the ``publicsuffixlist`` wheel (read from the package, never
    fetched). Its private section counts (``github.io`` is a public suffix, so ``alice.github.io``
    and ``bob.github.io`` are two organisations); an unknown TLD is taken to be a public suffix."""
    return PublicSuffixList(only_icann=False, accept_unknown=True)


def registrable_domain(domain: str) -> str:
    """The registrable domain ("eTLD+1") of an ASCII (A-label), case-folded ``domain``.

    A domain that is itself a public suffix (``co.uk``, ``github.io``) is its own organisation.
    """
    return _public_suffixes().privatesuffix(domain) or domain


def _split(email: str) -> tuple[str, str]:
    """The local part case-folded and the domain in its ASCII (A-label) form, case-folded."""
    address = normalize_email(email)
    local = address.rpartition("@")[0].casefold()
    return local, validate_email(address, check_deliverability=False).ascii_domain.casefold()


def _canonical(local: str, domain: str, catalog: Catalog) -> str:
    """``local@domain`` as the catalog's ``[trials.canonical]`` rule for ``domain`` says, if it has one."""
    rule = catalog.mailbox_rules.get(domain)
    if rule is None:
        return f"{local}@{domain}"
    mailbox = local
    if rule.tag_separator is not None:
        mailbox = mailbox.partition(rule.tag_separator)[0]
    if rule.ignore_dots:
        mailbox = mailbox.replace(".", "")
    # An address that is nothing but a tag ("+x@gmail.com") keeps its local part as it is.
    return f"{mailbox or local}@{rule.domain}"


def organisation_of(email: str, catalog: Catalog) -> str:
    """The organisation an address belongs to (SPEC section 1), for the trial rules and billing.

    The registrable domain of the address's domain, case-folded, in its ASCII (IDNA A-label) form:
    ``x@eu.acme.co.uk`` and ``y@ACME.co.uk`` are ``acme.co.uk``; ``x@Bücher.example`` is
    ``xn--bcher-kva.example``. At a free-mail provider of the catalog it is instead the canonical
    address: case-folded, then as the catalog's ``[trials.canonical]`` says for that provider, tags
    dropped, dots dropped and an alias domain replaced (``far.mer+1@googlemail.com`` is
    ``farmer@gmail.com``). Raises ValidationFailed (``invalid_email``) for what is not an address.
    """
    local, domain = _split(email)
    if domain not in catalog.free_mail_domains:
        return registrable_domain(domain)
    return _canonical(local, domain, catalog)


def mailbox_of(email: str, catalog: Catalog) -> str:
    """The mailbox an address reaches, for counting the mail sent to it (SPEC section 1's caps).

    The local part case-folded and cut at its first ``+`` (subaddressing: ``Ann+1@x`` and ``ann@x``
    reach one mailbox at most providers), then the catalog's ``[trials.canonical]`` rule where there
    is one (Gmail's dots, Yahoo's ``-keyword``, googlemail.com as gmail.com), at the ASCII domain,
    case-folded. It errs towards one mailbox: whoever owns ``a+shop@x`` may not own ``a@x``, so this
    only counts mail, it never says who may see what. Raises ValidationFailed (``invalid_email``).
    """
    local, domain = _split(email)
    return _canonical(local.partition("+")[0] or local, domain, catalog)


def _check_unique_email(session: Session, email: str, but: str | None = None) -> None:
    """409 ``customer_exists`` when another customer has ``email`` (compared case-insensitively).

    Holds the address's lock until the transaction ends, so two requests giving one address at once
    cannot both pass the check (every creation and change of address takes it)."""
    lock_name(session, f"customer-email:{email.lower()}")
    query = select(Customer.id).where(func.lower(Customer.email) == email.lower()).order_by(Customer.created_at)
    if but is not None:
        query = query.where(Customer.id != but)
    existing = session.scalars(query.limit(1)).first()
    if existing is not None:
        raise Conflict(
            f"Customer {existing} already has the address {email}.",
            code="customer_exists",
            customer_id=existing,
        )


@atomic
def create_customer(
    session: Session,
    core: Core,
    actor: str,
    *,
    name: str | None,
    email: str,
    company: str | None,
    allow_duplicate: bool = True,
) -> Customer:
    """A new customer. Without a name (self-serve requests), the name is the company, else the address.
    Unless ``allow_duplicate``, an address another customer has is 409 ``customer_exists``."""
    now = core.now()
    email = normalize_email(email)
    if allow_duplicate:
        lock_name(session, f"customer-email:{email.lower()}")
    else:
        _check_unique_email(session, email)
    company = fields.check_text(company or "", "company", fields.NAME_MAX) or None
    name = fields.check_text(name or "", "name", fields.NAME_MAX) or company or email
    if not name:
        raise ValidationFailed("Give the customer's name.", field="name")
    customer = Customer(
        name=name, email=email, company=company, organisation=organisation_of(email, core.catalog), created_at=now
    )
    session.add(customer)
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "customer.created",
        "customer",
        customer.id,
        name=customer.name,
        email=email,
        company=company,
    )
    return customer


@atomic
def update_customer(
    session: Session,
    core: Core,
    actor: str,
    customer_id: str,
    *,
    name: str | None = None,
    email: str | None = None,
    company: str | None = None,
    clear_company: bool = False,
) -> Customer:
    """Change a customer's name, address or company (``clear_company``: remove it), validated as on
    creation; a new address recomputes the organisation and may not be another customer's (409
    ``customer_exists``). Audited as ``customer.updated`` with before and after."""
    customer = get_customer(session, customer_id)
    before = {"name": customer.name, "email": customer.email, "company": customer.company}
    if name is not None:
        checked = fields.check_text(name, "name", fields.NAME_MAX)
        if not checked:
            raise ValidationFailed("Give the customer's name.", field="name")
        customer.name = checked
    if email is not None:
        address = normalize_email(email)
        if address.lower() != customer.email.lower():
            _check_unique_email(session, address, but=customer.id)
        customer.email = address
        customer.organisation = organisation_of(address, core.catalog)
    if clear_company:
        customer.company = None
    elif company is not None:
        customer.company = fields.check_text(company, "company", fields.NAME_MAX) or None
    after = {"name": customer.name, "email": customer.email, "company": customer.company}
    changed = [key for key in before if before[key] != after[key]]
    if changed:
        session.flush()
        audit.record(
            session,
            core.now(),
            actor,
            "customer.updated",
            "customer",
            customer.id,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return customer


def get_customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"No customer {customer_id!r}.", code="customer_not_found")
    return customer
