"""trial buy links, and the trial a checkout replaces (licensing.licenses.buylinks)

A paid license supersedes a trial only when its checkout names the trial through a buy link that only
the trial's holder gets. Links keep only the SHA-256 of their tokens.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.kit.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trial_buy_links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("license_id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["license_id"], ["licenses.id"], name=op.f("fk_trial_buy_links_license_id_licenses")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_buy_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_trial_buy_links_token_hash")),
    )
    op.create_index(op.f("ix_trial_buy_links_license_id"), "trial_buy_links", ["license_id"], unique=False)
    with op.batch_alter_table("checkouts") as batch:
        batch.add_column(sa.Column("trial_license_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_checkouts_trial_license_id_licenses"), "licenses", ["trial_license_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.drop_constraint(op.f("fk_checkouts_trial_license_id_licenses"), type_="foreignkey")
        batch.drop_column("trial_license_id")
    op.drop_index(op.f("ix_trial_buy_links_license_id"), table_name="trial_buy_links")
    op.drop_table("trial_buy_links")
