"""a checkout's installation and poll token (in-product purchase)

A self-hosted server opens checkout for its own installation and polls for the bound license with a
token shown once; only its SHA-256 is kept.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.add_column(sa.Column("installation_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("poll_token_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.drop_column("poll_token_hash")
        batch.drop_column("installation_id")
