"""the customer portal: sign-in links and sessions (licensing.portal)

Both keep only the SHA-256 of their tokens (licensing.tokens).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.kit.db

revision = "0007"
# Re-parent onto self-serve's "0006" once main has it (one head).
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_links_token_hash")),
    )
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("link_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("signed_out_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["portal_links.id"], name=op.f("fk_portal_sessions_link_id_portal_links")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_sessions_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("portal_sessions")
    op.drop_table("portal_links")
