"""active runs by testbed, read by index; log watches

The monitor reads only a testbed's active runs, by a partial index, and copies the growing
log only of runs someone reads (runs.log_watched_until).

Revision ID: b7e19a3c4d20
Revises: 921cf1de031f
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e19a3c4d20"
down_revision: str | None = "921cf1de031f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("state IN ('placed', 'running')")


def upgrade() -> None:
    op.add_column("runs", sa.Column("log_watched_until", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_runs_active_testbed",
        "runs",
        ["testbed_id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_runs_active_testbed", table_name="runs")
    op.drop_column("runs", "log_watched_until")
