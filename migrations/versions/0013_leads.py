"""leads and organisations with a sales owner

``organisations``: one row per organisation (``licensing.licenses.customers.organisation_of``) that
had a lead, with its owner (routed by the catalog's ``[sales.routing]``) and whether it is a free-mail
address. ``leads``: every self-serve request and contact request (``licensing.leads``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from licensing.kit.db import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("organisation", sa.String(length=320), nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=True),
        sa.Column("free_mail", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organisation"),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation", sa.String(length=320), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("interest", sa.String(length=30), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("installation_id", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("self_serve_request_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organisation"], ["organisations.organisation"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_leads_organisation_id", "leads", ["organisation", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_leads_organisation_id", table_name="leads")
    op.drop_table("leads")
    op.drop_table("organisations")
