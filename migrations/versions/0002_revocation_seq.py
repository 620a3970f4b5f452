"""revocation list seq, signing key and next lapse; wider customer names

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.kit.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("revocation_lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("key_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("next_lapse_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(length=200), type_=sa.String(length=320))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(length=320), type_=sa.String(length=200))
    with op.batch_alter_table("revocation_lists", schema=None) as batch_op:
        batch_op.drop_column("next_lapse_at")
        batch_op.drop_column("key_id")
        batch_op.drop_column("seq")
