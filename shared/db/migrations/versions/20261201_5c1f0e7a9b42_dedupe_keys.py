"""dedupe keys of the reconciler's re-sends

Revision ID: 5c1f0e7a9b42
Revises: 1eda3313d32d
Create Date: 2026-12-01 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1f0e7a9b42"
down_revision: str | None = "1eda3313d32d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dedupe_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dedupe_keys")),
    )


def downgrade() -> None:
    op.drop_table("dedupe_keys")
