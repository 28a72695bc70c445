"""applications and executables; node drain

ALDE's applications: uploaded source, compiled per configuration into executables; nodes
an admin drained are never chosen by placement.

Revision ID: a9c3e51d7b60
Revises: b7e19a3c4d20
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "a9c3e51d7b60"
down_revision: str | None = "b7e19a3c4d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("nodes", sa.Column("drained_at", TIME))
    op.add_column("nodes", sa.Column("drain_reason", sa.Text()))
    op.create_table(
        "applications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("source_digest", sa.String(64)),
        sa.Column("source_key", sa.String(255)),
        sa.Column("source_kind", sa.String(10)),
        sa.Column("source_files", sa.Integer()),
        sa.Column("source_bytes", sa.BigInteger()),
        sa.Column("source_at", TIME),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_applications_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
    )
    op.create_index("ix_applications_project_created", "applications", ["project_id", "created_at"])
    op.create_table(
        "executables",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("configuration", sa.String(100), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("build_hash", sa.String(64), nullable=False),
        sa.Column("source_digest", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("state_reason", sa.Text()),
        sa.Column("deployment_id", sa.Uuid()),
        sa.Column("testbed_id", sa.Uuid()),
        sa.Column("node_name", sa.String(255)),
        sa.Column("hwinfo", JSON),
        sa.Column("package", sa.String(10), nullable=False),
        sa.Column("artifact_key", sa.String(255)),
        sa.Column("artifact_digest", sa.String(64)),
        sa.Column("artifact_size", sa.BigInteger()),
        sa.Column("artifacts", JSON),
        sa.Column("image", sa.Text()),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("finished_at", TIME),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_executables_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_executables_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_executables_deployment_id_deployments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["testbed_id"],
            ["testbeds.id"],
            name=op.f("fk_executables_testbed_id_testbeds"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executables")),
    )
    op.create_index("ix_executables_application", "executables", ["application_id", "created_at"])
    op.create_index(op.f("ix_executables_build_hash"), "executables", ["build_hash"])


def downgrade() -> None:
    op.drop_table("executables")
    op.drop_table("applications")
    op.drop_column("nodes", "drain_reason")
    op.drop_column("nodes", "drained_at")
