"""outbox.mailbox and outbox.organisation: the public forms' mail caps count per mailbox and organisation

Sign-in links and self-serve confirmations were capped per address as written, so ``Ann@x``,
``ann+1@x`` and ``ANN+2@x`` each got their fill (issue 14). The outbox now keeps, next to the address
it sends to, what the caps count (``licensing.mail.outbox.sent_recently``): the canonical mailbox of
the address (``licensing.licenses.customers.mailbox_of``) and its organisation (``organisation_of``).

Existing rows: ``mailbox`` is the address as written (what mail that no public form caps keeps), and
rows of the capped kinds (dedupe keys ``confirm:`` and ``signin:``) get the canonical mailbox and the
organisation from the catalog given to ``service.migrate.upgrade``, else the shipped one (an address
stored before today's validation keeps the address as written, and no organisation). The index on
``(to_address, created_at)`` that the old per-address count used gives way to one on
``(mailbox, created_at)`` and one on ``(organisation, created_at)``.

Downgrade drops both columns and restores the old index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

from licensing.catalog import Catalog, load_catalog
from licensing.kit.errors import ValidationFailed
from licensing.licenses.customers import mailbox_of, organisation_of

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The dedupe-key prefixes of the mail the public forms cap, as of this revision.
_CAPPED = ("confirm:", "signin:")
_outbox = sa.table(
    "outbox",
    sa.column("id", sa.Integer()),
    sa.column("dedupe_key", sa.String()),
    sa.column("to_address", sa.String()),
    sa.column("mailbox", sa.String()),
    sa.column("organisation", sa.String()),
)


def _catalog() -> Catalog:
    path = context.config.attributes.get("catalog_path") or os.environ.get("LICENSING_CATALOG_PATH")
    return load_catalog(Path(path)) if path else load_catalog()


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("mailbox", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("organisation", sa.String(length=320), nullable=True))

    conn = op.get_bind()
    conn.execute(_outbox.update().values(mailbox=_outbox.c.to_address))
    catalog = _catalog()
    rows = conn.execute(
        sa.select(_outbox.c.id, _outbox.c.to_address).where(
            sa.or_(*(_outbox.c.dedupe_key.startswith(prefix) for prefix in _CAPPED))
        )
    ).all()
    counted = []
    for row_id, address in rows:
        try:
            counted.append(
                {"row": row_id, "box": mailbox_of(address, catalog), "org": organisation_of(address, catalog)}
            )
        except ValidationFailed:
            continue
    if counted:
        conn.execute(
            _outbox.update()
            .where(_outbox.c.id == sa.bindparam("row"))
            .values(mailbox=sa.bindparam("box"), organisation=sa.bindparam("org")),
            counted,
        )

    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("mailbox", existing_type=sa.String(length=320), nullable=False)
        batch.drop_index("ix_outbox_recipient")
        batch.create_index("ix_outbox_mailbox", ["mailbox", "created_at"])
        batch.create_index("ix_outbox_organisation", ["organisation", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_organisation")
        batch.drop_index("ix_outbox_mailbox")
        batch.drop_column("organisation")
        batch.drop_column("mailbox")
        batch.create_index("ix_outbox_recipient", ["to_address", "created_at"])
