"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 12:53:55.225711
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import licensing.kit.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("occurred_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_occurred_at"), ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("organisation", sa.String(length=320), nullable=False),
        sa.Column("created_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_organisation"), ["organisation"], unique=False)

    op.create_table(
        "idempotency_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_records")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_idempotency_records_scope_key")),
    )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_records_created_at"),
            ["created_at"],
            unique=False,
        )

    op.create_table(
        "revocation_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issued_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocation_lists")),
    )
    # The one revocation list row; revocations lock it and re-sign its document.
    op.bulk_insert(
        sa.table(
            "revocation_lists",
            sa.column("id", sa.Integer()),
            sa.column("issued_at", licensing.kit.db.UTCDateTime()),
            sa.column("entries", sa.Integer()),
            sa.column("document", sa.Text()),
        ),
        [{"id": 1, "issued_at": datetime.now(UTC), "entries": 0, "document": ""}],
    )
    op.create_table(
        "licenses",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("line_id", sa.String(length=40), nullable=False),
        sa.Column("supersedes_id", sa.String(length=40), nullable=True),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("trial", sa.Boolean(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("issued_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("starts_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("grace_ends_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("installation_id", sa.String(length=200), nullable=True),
        sa.Column("subscription_id", sa.String(length=100), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("license_file", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_licenses_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["licenses.id"],
            name=op.f("fk_licenses_supersedes_id_licenses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licenses")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_licenses_supersedes_id")),
    )
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.create_index("ix_licenses_customer_id_id", ["customer_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_licenses_installation_id"), ["installation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_licenses_key_id"), ["key_id"], unique=False)
        batch_op.create_index("ix_licenses_line_id", ["line_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_licenses_subscription_id"), ["subscription_id"], unique=False)

    op.create_table(
        "trial_claims",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("license_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", licensing.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_trial_claims_license_id_licenses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_claims")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_trial_claims_kind_value")),
    )


def downgrade() -> None:
    op.drop_table("trial_claims")
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licenses_subscription_id"))
        batch_op.drop_index("ix_licenses_line_id")
        batch_op.drop_index(batch_op.f("ix_licenses_key_id"))
        batch_op.drop_index(batch_op.f("ix_licenses_installation_id"))
        batch_op.drop_index("ix_licenses_customer_id_id")

    op.drop_table("licenses")
    op.drop_table("revocation_lists")
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_records_created_at"))

    op.drop_table("idempotency_records")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_organisation"))
        batch_op.drop_index(batch_op.f("ix_customers_email"))

    op.drop_table("customers")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_subject_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_actor"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
    op.drop_table("api_keys")
