"""run attempts

Revision ID: 921cf1de031f
Revises: 5c1f0e7a9b42
Create Date: 2026-12-02 09:35:13
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "921cf1de031f"
down_revision: str | None = "5c1f0e7a9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("key", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("testbed_id", sa.Uuid(), nullable=True),
        sa.Column("node_name", sa.String(length=255), nullable=True),
        sa.Column("backend_ref", sa.String(length=255), nullable=True),
        sa.Column(
            "placement",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column(
            "hwinfo",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("fence_pending", sa.Boolean(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_attempts_run_id_runs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["testbed_id"],
            ["testbeds.id"],
            name=op.f("fk_run_attempts_testbed_id_testbeds"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_attempts")),
        sa.UniqueConstraint("run_id", "number", name="run_number"),
    )
    op.create_index(
        op.f("ix_run_attempts_fence_pending"), "run_attempts", ["fence_pending"], unique=False
    )
    op.add_column(
        "nodes", sa.Column("unreachable_since", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("runs", sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "testbeds", sa.Column("unreachable_since", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("testbeds", "unreachable_since")
    op.drop_column("runs", "attempt")
    op.drop_column("nodes", "unreachable_since")
    op.drop_index(op.f("ix_run_attempts_fence_pending"), table_name="run_attempts")
    op.drop_table("run_attempts")
