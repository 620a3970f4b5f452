"""indexes for a million licenses: the revoked ones, and when licenses start

Measured with ``benchmarks/scale.py`` (1,000,000 licenses, 10,000 revoked): ``GET
/v1/licenses?status=revoked`` walked the primary key backwards through the whole table looking for
revoked rows, every revocation re-signed the list after reading all the table's rows (a sequential
scan for ``revoked_at IS NOT NULL``), and ``?status=scheduled`` read every row for the few that start
later. Three indexes:

- ``ix_licenses_revoked_id``: ``(id) WHERE revoked_at IS NOT NULL``, the revoked licenses newest first
  (the listing's order), as small as the revocations;
- ``ix_licenses_revoked_at``: ``(revoked_at, id) INCLUDE (grace_ends_at) WHERE revoked_at IS NOT NULL``,
  what a re-signing reads, in its order, from the index alone (INCLUDE on PostgreSQL only);
- ``ix_licenses_starts_at``: ``(starts_at)``, the scheduled licenses.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_REVOKED = sa.text("revoked_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_licenses_revoked_id",
        "licenses",
        ["id"],
        unique=False,
        postgresql_where=_REVOKED,
        sqlite_where=_REVOKED,
    )
    op.create_index(
        "ix_licenses_revoked_at",
        "licenses",
        ["revoked_at", "id"],
        unique=False,
        postgresql_where=_REVOKED,
        sqlite_where=_REVOKED,
        postgresql_include=["grace_ends_at"],
    )
    op.create_index("ix_licenses_starts_at", "licenses", ["starts_at"], unique=False)
    op.create_index("ix_self_serve_requests_status_id", "self_serve_requests", ["status", "id"], unique=False)
    op.create_index(
        "ix_licenses_status", "licenses", ["id", "revoked_at", "starts_at", "expires_at", "grace_ends_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_licenses_status", table_name="licenses")
    op.drop_index("ix_self_serve_requests_status_id", table_name="self_serve_requests")
    op.drop_index("ix_licenses_starts_at", table_name="licenses")
    op.drop_index("ix_licenses_revoked_at", table_name="licenses")
    op.drop_index("ix_licenses_revoked_id", table_name="licenses")
