"""indexes for a million licenses: listing by status, the revoked ones, and leads by status

Measured with ``benchmarks/scale.py``'s data (1,000,000 licenses over 100,000 customers, 10,000 revoked),
EXPLAIN ANALYZE at 0011: re-signing the revocation list on each revocation read every license (a parallel
sequential scan for ``revoked_at IS NOT NULL``: 253 ms); a status filter read whole licenses newest
first until a page matched (``?status=superseded`` 109 ms, ``expired`` 11 ms, and ``scheduled``, which
no license was, a sequential scan: 283 ms); leads pending confirmation were looked for among every
request (37 ms). At 0012, with ``licensing.licenses.queries.list_licenses`` reading a page of ids first:
1.5 ms, 0.5 ms, 1.0 ms, 0.02 ms and 5.5 ms. Five indexes:

- ``ix_licenses_status``: ``(id, revoked_at, starts_at, expires_at, grace_ends_at)``, everything a
  status depends on but the successor, by id: a page of ids is found from the index alone
  (``licensing.licenses.queries.list_licenses``), then only its rows are read;
- ``ix_licenses_revoked_id``: ``(id) WHERE revoked_at IS NOT NULL``, the revoked licenses newest first
  (``?status=revoked``, and whether a superseded license was revoked), as small as the revocations;
- ``ix_licenses_revoked_at``: ``(revoked_at, id) INCLUDE (grace_ends_at) WHERE revoked_at IS NOT NULL``,
  what a re-signing reads, in its order, from the index alone (INCLUDE on PostgreSQL only);
- ``ix_licenses_starts_at``: ``(starts_at)``, the scheduled licenses;
- ``ix_self_serve_requests_status_id``: ``(status, id)``, leads by status, newest first.

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
