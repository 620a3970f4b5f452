"""organisations by the Public Suffix List and canonical free-mail addresses

Recomputes ``customers.organisation`` and the ``trial_claims`` of kind ``organisation`` with the
rule of ``licensing.licenses.customers.organisation_of``: they were the bare, case-folded e-mail domain (or
the case-folded address at a free-mail provider), they become the registrable domain in its IDNA
A-label form (or the canonical free-mail address). Data only; idempotent (the new values are a
function of each customer's stored e-mail address, and canonical values map to themselves).

Claims that now name one organisation (a trial for ``eu.acme.co.uk`` and one for ``acme.co.uk``)
are merged: the earliest claim is kept and the others deleted (the unique constraint on
``(kind, value)`` allows one); their licenses are untouched. The catalog is the one given to
``service.migrate.upgrade`` (the service's ``LICENSING_CATALOG_PATH``), else the shipped one.

Downgrade leaves the values as they are: the old code reads them as plain strings, and a merged
claim cannot be told apart again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 19:30:00
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

from licensing.catalog import Catalog, load_catalog
from licensing.kit.errors import ValidationFailed
from licensing.licenses.customers import organisation_of

revision = "0004"
# Re-parent onto billing's "0003" once main has it (one head).
down_revision = "0003"
branch_labels = None
depends_on = None

_customers = sa.table(
    "customers", sa.column("id", sa.String()), sa.column("email", sa.String()), sa.column("organisation", sa.String())
)
_licenses = sa.table("licenses", sa.column("id", sa.String()), sa.column("customer_id", sa.String()))
_claims = sa.table(
    "trial_claims",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("value", sa.String()),
    sa.column("license_id", sa.String()),
    sa.column("created_at", sa.DateTime()),
)


def _catalog() -> Catalog:
    path = context.config.attributes.get("catalog_path") or os.environ.get("LICENSING_CATALOG_PATH")
    return load_catalog(Path(path)) if path else load_catalog()


def _organisation(email: str, old: str, catalog: Catalog) -> str:
    try:
        return organisation_of(email, catalog)
    except ValidationFailed:  # an address stored before today's validation: leave it as it was
        return old


def upgrade() -> None:
    conn = op.get_bind()
    catalog = _catalog()

    customers = conn.execute(sa.select(_customers.c.id, _customers.c.email, _customers.c.organisation)).all()
    changed = [
        {"cid": cid, "organisation": new}
        for cid, email, old in customers
        if (new := _organisation(email, old, catalog)) != old
    ]
    if changed:
        conn.execute(
            _customers.update()
            .where(_customers.c.id == sa.bindparam("cid"))
            .values(organisation=sa.bindparam("organisation")),
            changed,
        )

    claims = conn.execute(
        sa.select(_claims.c.id, _claims.c.value, _customers.c.email)
        .join(_licenses, _licenses.c.id == _claims.c.license_id)
        .join(_customers, _customers.c.id == _licenses.c.customer_id)
        .where(_claims.c.kind == "organisation")
        .order_by(_claims.c.created_at, _claims.c.id)
    ).all()
    kept: dict[str, tuple[int, str]] = {}  # new value -> the earliest claim (id, old value)
    merged: list[int] = []
    for claim_id, old, email in claims:
        new = _organisation(email, old, catalog)
        if new in kept:
            merged.append(claim_id)
        else:
            kept[new] = (claim_id, old)
    if merged:
        conn.execute(_claims.delete().where(_claims.c.id.in_(merged)))
    renamed = [{"claim": claim_id, "new": new} for new, (claim_id, old) in kept.items() if new != old]
    if renamed:
        # Through a placeholder no organisation can be, so that no step meets the unique constraint.
        update = _claims.update().where(_claims.c.id == sa.bindparam("claim")).values(value=sa.bindparam("new"))
        conn.execute(update, [{"claim": r["claim"], "new": f"~migrating {r['claim']}"} for r in renamed])
        conn.execute(update, renamed)


def downgrade() -> None:
    pass
