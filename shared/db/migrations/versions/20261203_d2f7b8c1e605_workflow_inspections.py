"""workflow tasks of inspections: a task's inspection once it is released

Revision ID: d2f7b8c1e605
Revises: c4e8a2f61b93
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d2f7b8c1e605"
down_revision: str | None = "c4e8a2f61b93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_tasks") as batch:
        batch.add_column(sa.Column("inspection_id", sa.Uuid()))
        batch.create_foreign_key(
            "fk_workflow_tasks_inspection_id_inspections",
            "inspections",
            ["inspection_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_unique_constraint("uq_workflow_tasks_inspection_id", ["inspection_id"])


def downgrade() -> None:
    with op.batch_alter_table("workflow_tasks") as batch:
        batch.drop_constraint("uq_workflow_tasks_inspection_id", type_="unique")
        batch.drop_constraint("fk_workflow_tasks_inspection_id_inspections", type_="foreignkey")
        batch.drop_column("inspection_id")
