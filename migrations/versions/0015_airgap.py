"""air-gapped activations, usage reports and true-ups (SPEC section 8)

``licenses.cnf_jkt``: the RFC 7638 thumbprint of the installation key a license is bound to (signed as
``"cnf": {"jkt": ...}``). ``installation_bindings``: one row per license line bound to an installation
(its id, public JWK and thumbprint); ``activation_requests``: each activation request once, by digest (the
same request again answers the same license); ``installation_moves``: a bound line moved to another
installation (the catalog's ``max_moves`` a year in the portal); ``usage_reports``: each report once,
by digest and by (line, installation key, seq), with the receipt answered; ``true_ups``: a report over the
licensed seats, raised in Stripe by the background loop (self-serve) or recorded for sales.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from licensing.kit.db import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("licenses", sa.Column("cnf_jkt", sa.String(length=64), nullable=True))
    op.create_table(
        "installation_bindings",
        sa.Column("line_id", sa.String(length=40), nullable=False),
        sa.Column("installation_id", sa.String(length=200), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("jkt", sa.String(length=64), nullable=False),
        sa.Column("license_id", sa.String(length=40), nullable=False),
        sa.Column("bound_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("bound_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["license_id"], ["licenses.id"]),
        sa.PrimaryKeyConstraint("line_id"),
    )
    op.create_index("ix_installation_bindings_jkt", "installation_bindings", ["jkt"], unique=False)
    op.create_table(
        "activation_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=43), nullable=False),
        sa.Column("line_id", sa.String(length=40), nullable=False),
        sa.Column("requested_license_id", sa.String(length=40), nullable=False),
        sa.Column("license_id", sa.String(length=40), nullable=False),
        sa.Column("installation_id", sa.String(length=200), nullable=False),
        sa.Column("jkt", sa.String(length=64), nullable=False),
        sa.Column("product_version", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["license_id"], ["licenses.id"]),
        sa.ForeignKeyConstraint(["requested_license_id"], ["licenses.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_table(
        "installation_moves",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("line_id", sa.String(length=40), nullable=False),
        sa.Column("from_installation_id", sa.String(length=200), nullable=False),
        sa.Column("from_jkt", sa.String(length=64), nullable=False),
        sa.Column("to_installation_id", sa.String(length=200), nullable=False),
        sa.Column("to_jkt", sa.String(length=64), nullable=False),
        sa.Column("license_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("moved_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("moved_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["license_id"], ["licenses.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_installation_moves_line", "installation_moves", ["line_id", "moved_at"], unique=False)
    op.create_table(
        "usage_reports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=43), nullable=False),
        sa.Column("line_id", sa.String(length=40), nullable=False),
        sa.Column("license_id", sa.String(length=40), nullable=False),
        sa.Column("installation_id", sa.String(length=200), nullable=False),
        sa.Column("jkt", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev", sa.String(length=43), nullable=True),
        sa.Column("period_start", UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_end", UTCDateTime(timezone=True), nullable=False),
        sa.Column("peak_users", sa.BigInteger(), nullable=False),
        sa.Column("daily", sa.JSON(), nullable=False),
        sa.Column("gap", sa.Boolean(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("overage", sa.BigInteger(), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["license_id"], ["licenses.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
        sa.UniqueConstraint("line_id", "jkt", "seq", name="uq_usage_reports_line_key_seq"),
    )
    op.create_table(
        "true_ups",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.String(length=40), nullable=False),
        sa.Column("line_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=True),
        sa.Column("seats_before", sa.Integer(), nullable=True),
        sa.Column("peak_users", sa.BigInteger(), nullable=False),
        sa.Column("overage", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=300), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["report_id"], ["usage_reports.id"]),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id"),
    )
    op.create_index("ix_true_ups_due", "true_ups", ["completed_at", "next_attempt_at"], unique=False)
    op.create_index("ix_true_ups_status_id", "true_ups", ["status", "id"], unique=False)
    op.create_index("ix_true_ups_customer_id_id", "true_ups", ["customer_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_true_ups_customer_id_id", table_name="true_ups")
    op.drop_index("ix_true_ups_status_id", table_name="true_ups")
    op.drop_index("ix_true_ups_due", table_name="true_ups")
    op.drop_table("true_ups")
    op.drop_table("usage_reports")
    op.drop_index("ix_installation_moves_line", table_name="installation_moves")
    op.drop_table("installation_moves")
    op.drop_table("activation_requests")
    op.drop_index("ix_installation_bindings_jkt", table_name="installation_bindings")
    op.drop_table("installation_bindings")
    # Not a batch (which copies the table on SQLite, and cannot drop ``licenses`` while rows refer to
    # it): both databases drop a plain column in place (SQLite since 3.35).
    op.execute("ALTER TABLE licenses DROP COLUMN cnf_jkt")
