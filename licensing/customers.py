"""Customers and the organisation an e-mail address belongs to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from licensing import audit, fields
from licensing.catalog import Catalog
from licensing.db import atomic
from licensing.errors import NotFound, ValidationFailed
from licensing.fields import normalize_email
from licensing.models import Customer

__all__ = ["create_customer", "get_customer", "normalize_email", "organisation_of"]


def organisation_of(email: str, catalog: Catalog) -> str:
    """An organisation is its e-mail domain, case-folded; at a free-mail provider, the address."""
    email = normalize_email(email).casefold()
    domain = email.rpartition("@")[2]
    return email if domain in catalog.free_mail_domains else domain


@atomic
def create_customer(
    session: Session,
    catalog: Catalog,
    actor: str,
    now: datetime,
    *,
    name: str | None,
    email: str,
    company: str | None,
) -> Customer:
    """A new customer. Without a name (self-serve requests), the name is the company, else the address."""
    email = normalize_email(email)
    company = fields.check_text(company or "", "company", fields.NAME_MAX) or None
    name = fields.check_text(name or "", "name", fields.NAME_MAX) or company or email
    if not name:
        raise ValidationFailed("Give the customer's name.", field="name")
    customer = Customer(
        name=name, email=email, company=company, organisation=organisation_of(email, catalog), created_at=now
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


def get_customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"No customer {customer_id!r}.", code="customer_not_found")
    return customer
