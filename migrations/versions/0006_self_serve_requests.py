"""self-serve requests waiting for their e-mail confirmation

Trials and free licenses asked for on the public pages or API are kept here until the requester
follows the single-use link mailed to them (SPEC section 1); only the hashes of the link's and the
poll's tokens are stored.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.kit.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "self_serve_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("organisation", sa.String(length=320), nullable=False),
        sa.Column("installation_id", sa.String(length=200), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("confirm_token_hash", sa.String(length=64), nullable=False),
        sa.Column("poll_token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("license_id", sa.String(length=40), nullable=True),
        sa.Column("refusal_code", sa.String(length=50), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_self_serve_requests_license_id_licenses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_serve_requests")),
    )
    with op.batch_alter_table("self_serve_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_self_serve_requests_confirm_token_hash"), ["confirm_token_hash"], unique=True
        )
        batch_op.create_index("ix_self_serve_requests_email", ["email"], unique=False)
        batch_op.create_index("ix_self_serve_requests_organisation", ["organisation"], unique=False)


def downgrade() -> None:
    op.drop_table("self_serve_requests")
