"""active runs by testbed: the monitor reads only these, by index

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
    op.create_index(
        "ix_runs_active_testbed",
        "runs",
        ["testbed_id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_runs_active_testbed", table_name="runs")
