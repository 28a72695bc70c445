"""What every worker process needs: a unit of work on its engine, the artifact store."""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db.session import process_sessions, unit_of_work
from shared.store import ArtifactStore


def transaction() -> AbstractContextManager[Session]:
    """One unit of work on this process's engine: commits on success."""
    return unit_of_work(process_sessions(get_settings().db_url))


def store() -> ArtifactStore:
    return ArtifactStore(get_settings().artifact_root)
