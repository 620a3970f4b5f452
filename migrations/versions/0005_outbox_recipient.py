"""index the outbox by recipient and time (licensing.mail.outbox.sent_recently)

Public forms that mail a link (sign-in, self-serve confirmation) count what one address got lately,
so that repeated requests do not send a flood of mail.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_recipient", "outbox", ["to_address", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_recipient", table_name="outbox")
