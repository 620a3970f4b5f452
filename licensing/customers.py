"""Customers and the organisation an e-mail address belongs to."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import audit
from licensing.catalog import Catalog
from licensing.errors import NotFound, ValidationFailed
from licensing.models import Customer

_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f]+@([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)$"
)


def normalize_email(email: str) -> str:
    """The address with its domain lower-cased; a clear error when it is not an address."""
    email = email.strip()
    match = _EMAIL.match(email)
    if len(email) > 320 or match is None:
        raise ValidationFailed(f"{email!r} is not an e-mail address.", field="email", code="invalid_email")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def organisation_of(email: str, catalog: Catalog) -> str:
    """An organisation is its e-mail domain, case-folded; at a free-mail provider, the address."""
    email = normalize_email(email).casefold()
    domain = email.rpartition("@")[2]
    return email if domain in catalog.free_mail_domains else domain


def create_customer(
    session: Session, catalog: Catalog, actor: str, *, name: str, email: str, company: str | None
) -> Customer:
    email = normalize_email(email)
    company = company.strip() if company and company.strip() else None
    customer = Customer(name=name.strip(), email=email, company=company, organisation=organisation_of(email, catalog))
    session.add(customer)
    session.flush()
    audit.record(
        session, actor, "customer.created", "customer", customer.id, name=customer.name, email=email, company=company
    )
    return customer


def find_or_create_customer(
    session: Session, catalog: Catalog, actor: str, *, email: str, name: str | None, company: str | None
) -> Customer:
    """The oldest customer with this address, or a new one (self-serve trials and free licenses)."""
    email = normalize_email(email)
    existing = session.scalars(select(Customer).where(Customer.email == email).order_by(Customer.id).limit(1)).first()
    if existing is not None:
        return existing
    return create_customer(session, catalog, actor, name=name or company or email, email=email, company=company)


def get_customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"No customer {customer_id!r}.", code="customer_not_found")
    return customer
