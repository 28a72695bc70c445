"""The tables: Postgres (or SQLite in the embedded default) is the truth."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite drops the zone when storing)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: Json}


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Testbed(Base):
    __tablename__ = "testbeds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Write-only: encrypted at rest once a testbed kind needs credentials.
    credentials: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="unknown")
    state_reason: Mapped[str | None] = mapped_column(Text)
    # When calls to it began failing (set going offline, cleared coming back): failover's clock.
    unreachable_since: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @classmethod
    def live(cls) -> ColumnElement[bool]:
        """Not removed: a removed testbed that ran work keeps its history under a new name,
        out of every listing, placement and poll."""
        return cls.name.not_like(f"{REMOVED_PREFIX}%")


# A removed testbed with finished runs is renamed REMOVED_PREFIX + its id's first 12 hex digits.
REMOVED_PREFIX = "removed-"


class Node(Base):
    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("testbed_id", "name", name="testbed_name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    testbed_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("testbeds.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(20), default="online")
    state_reason: Mapped[str | None] = mapped_column(Text)
    # A host of the testbed that stopped answering, while the others still do.
    unreachable_since: Mapped[datetime | None]
    # Drained by an admin: placement never chooses it; runs already there go on.
    drained_at: Mapped[datetime | None]
    drain_reason: Mapped[str | None] = mapped_column(Text)
    arch: Mapped[str | None] = mapped_column(String(20))
    cpu_vendor: Mapped[str | None] = mapped_column(String(100))
    cpu_model: Mapped[str | None] = mapped_column(String(255))
    cores: Mapped[int | None] = mapped_column(Integer)
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # The inventory in the shape of shared.hardware.NodeInfo, as JSON.
    inventory: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hwinfo: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Build(Base):
    """Turning an environment into an artifact; cached by the environment's content hash."""

    __tablename__ = "builds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    spec_hash: Mapped[str] = mapped_column(String(64), index=True)
    runtime: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    state_reason: Mapped[str | None] = mapped_column(Text)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    artifact: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Inspection(Base):
    __tablename__ = "inspections"
    __table_args__ = (Index("ix_inspections_project_created", "project_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    identifier: Mapped[str | None] = mapped_column(String(255))
    specification: Mapped[dict[str, Any]]
    build_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("builds.id"))
    testbed_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("testbeds.id"))
    batch_size: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    state_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


class Deployment(Base):
    __tablename__ = "deployments"
    __table_args__ = (Index("ix_deployments_project_created", "project_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    identifier: Mapped[str | None] = mapped_column(String(255))
    specification: Mapped[dict[str, Any]]
    testbed_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("testbeds.id"))
    batch_size: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    state_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


class Run(Base):
    """One placement of one command on one node; the deployer places it, the monitor watches."""

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("inspection_id", "index", name="inspection_index"),
        UniqueConstraint("deployment_id", "index", name="deployment_index"),
        CheckConstraint("(inspection_id IS NULL) <> (deployment_id IS NULL)", name="one_parent"),
        Index("ix_runs_state_updated", "state", "updated_at"),
        # The monitor's read: a testbed's placed and running runs; ended runs are not in it.
        Index(
            "ix_runs_active_testbed",
            "testbed_id",
            postgresql_where=text("state IN ('placed', 'running')"),
            sqlite_where=text("state IN ('placed', 'running')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    inspection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE")
    )
    deployment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE")
    )
    index: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    state_reason: Mapped[str | None] = mapped_column(Text)
    testbed_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("testbeds.id"))
    node_name: Mapped[str | None] = mapped_column(String(255))
    backend_ref: Mapped[str | None] = mapped_column(String(255))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # The number of the current (or last) attempt; 0 until it is first placed.
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    exit_code: Mapped[int | None] = mapped_column(Integer)
    hwinfo: Mapped[dict[str, Any] | None]
    placed_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Someone reads its log: until then the monitor copies the growing log each cycle.
    log_watched_until: Mapped[datetime | None]


class RunAttempt(Base):
    """One placement of a run: where it went, why there, and how it ended. The run's own
    columns mirror its current attempt; the run's result is its last attempt's."""

    __tablename__ = "run_attempts"
    __table_args__ = (UniqueConstraint("run_id", "number", name="run_number"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    # The key the testbed knows the attempt by (folder, job name): the run id for the first.
    key: Mapped[uuid.UUID] = mapped_column(Uuid)
    state: Mapped[str] = mapped_column(String(20), default="placed")
    state_reason: Mapped[str | None] = mapped_column(Text)
    testbed_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("testbeds.id", ondelete="SET NULL")
    )
    node_name: Mapped[str | None] = mapped_column(String(255))
    backend_ref: Mapped[str | None] = mapped_column(String(255))
    # The chosen node and why: its free devices, its testbed's queue, the other candidates.
    placement: Mapped[dict[str, Any]] = mapped_column(default=dict)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    hwinfo: Mapped[dict[str, Any] | None]
    # Superseded while its host did not answer: its runner is killed when the host is back.
    fence_pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    placed_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class DedupeKey(Base):
    """Work the reconciler has re-sent, remembered until `expires_at`: one key per entity
    and task (`deployer.place:<run id>`), so two reconcile passes never send it twice."""

    __tablename__ = "dedupe_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime]


class Application(Base):
    """ALDE's application: an uploaded source archive, compiled per target configuration."""

    __tablename__ = "applications"
    __table_args__ = (Index("ix_applications_project_created", "project_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="active")  # or "deleted"
    # The current source: sha256 of the archive, its store key, kind, files, bytes expanded.
    source_digest: Mapped[str | None] = mapped_column(String(64))
    source_key: Mapped[str | None] = mapped_column(String(255))
    source_kind: Mapped[str | None] = mapped_column(String(10))
    source_files: Mapped[int | None] = mapped_column(Integer)
    source_bytes: Mapped[int | None] = mapped_column(BigInteger)
    source_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Executable(Base):
    """One configuration of an application, built from one source: its build (a run of a
    hidden deployment, placed like every run) and the artifact it left."""

    __tablename__ = "executables"
    __table_args__ = (Index("ix_executables_application", "application_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE")
    )
    configuration: Mapped[str] = mapped_column(String(100))
    spec: Mapped[dict[str, Any]]
    # sha256 of (source digest, configuration): the cache key.
    build_hash: Mapped[str] = mapped_column(String(64), index=True)
    source_digest: Mapped[str] = mapped_column(String(64))
    # not_compiled | compiling | compiled | failed | stale
    state: Mapped[str] = mapped_column(String(20), default="not_compiled")
    state_reason: Mapped[str | None] = mapped_column(Text)
    # The build's deployment (one run).
    deployment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL")
    )
    testbed_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("testbeds.id", ondelete="SET NULL")
    )
    node_name: Mapped[str | None] = mapped_column(String(255))
    hwinfo: Mapped[dict[str, Any] | None]
    package: Mapped[str] = mapped_column(String(10), default="tar.gz")
    artifact_key: Mapped[str | None] = mapped_column(String(255))
    artifact_digest: Mapped[str | None] = mapped_column(String(64))
    artifact_size: Mapped[int | None] = mapped_column(BigInteger)
    artifacts: Mapped[list[str] | None] = mapped_column(Json)
    image: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


class Workflow(Base):
    """A DAG of stages of tasks (shared.workflow_spec); its tasks' runs are deployments' runs,
    created stage by stage by the engine (services/monitor/workflows.py)."""

    __tablename__ = "workflows"
    __table_args__ = (Index("ix_workflows_project_created", "project_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    specification: Mapped[dict[str, Any]]
    # pending -> running -> succeeded | failed | cancelled
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    state_reason: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


class WorkflowTask(Base):
    """One task of a stage: `count` copies, the runs of one deployment (or, for an inspection
    task, of one inspection) once it is released."""

    __tablename__ = "workflow_tasks"
    __table_args__ = (UniqueConstraint("workflow_id", "stage", "name", name="stage_name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(63))
    position: Mapped[int] = mapped_column(Integer)  # its stage's place in the spec
    name: Mapped[str] = mapped_column(String(63))
    count: Mapped[int] = mapped_column(Integer)
    # waiting -> running -> succeeded | failed | cancelled
    state: Mapped[str] = mapped_column(String(20), default="waiting")
    state_reason: Mapped[str | None] = mapped_column(Text)
    deployment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL"), unique=True
    )
    inspection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inspections.id", ondelete="SET NULL"), unique=True
    )
    # When its dependencies had all ended (the dispatch latency's start) and it was released.
    ready_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class WorkflowOutput(Base):
    """A file a task copy left (matching its outputs globs), stored by content hash."""

    __tablename__ = "workflow_outputs"
    __table_args__ = (UniqueConstraint("task_id", "index", "path", name="task_index_path"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflow_tasks.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
