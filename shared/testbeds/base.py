"""What every testbed connector offers the deployer and the monitor.

A connector is made once per worker process and kept (remote ones hold their connections),
so every method may be called from several threads of a worker at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from sqlalchemy.orm import Session

from shared.db.models import Testbed
from shared.hardware import HardwareSpec


@dataclass(frozen=True)
class Job:
    """What to run: argv (no shell), its environment, the files of its working folder."""

    argv: Sequence[str]
    env: Mapping[str, str]
    files: Sequence[tuple[str, bytes, bool]] = ()  # (relative path, content, executable)
    script: tuple[str, bytes] | None = None  # (name, content), run instead of argv
    timeout_s: float = 3600.0
    log_cap: int = 8 * 1024 * 1024
    hardware: HardwareSpec = field(default_factory=HardwareSpec)
    cpu: float | None = None  # cores requested
    memory: int | None = None  # bytes requested
    image: str | None = None  # run inside this image (needs a container runtime)
    venv: str | None = None  # a venv already built on the node (local testbed)
    python_requirements: tuple[str, ...] = ()  # a venv to build on the node (remote)


@dataclass(frozen=True)
class Tracked:
    """A placed run, as the monitor hands it to its testbed's connector."""

    run_id: uuid.UUID
    backend_ref: str | None
    node: str | None


@dataclass(frozen=True)
class Observation:
    state: str  # "pending" (queued by the backend) | "running" | "ended" | "gone"
    started_at: str | None = None
    reason: str | None = None  # e.g. the scheduler's pending reason


@dataclass(frozen=True)
class Collected:
    """What a finished run left on its node."""

    status: dict[str, Any]
    hwinfo: dict[str, Any]
    stdout: bytes
    stderr: bytes
    log: bytes | None


class Connector(Protocol):
    kind: ClassVar[str]

    def refresh(self, session: Session, testbed: Testbed) -> None:
        """Discover the testbed's nodes and store them; mark the testbed online or offline."""

    def place(self, testbed: Testbed, node: str, run_id: uuid.UUID, job: Job) -> str:
        """Start the run, or adopt it if this run id was already started; its backend ref."""
        ...

    def observe(self, testbed: Testbed, runs: Sequence[Tracked]) -> dict[uuid.UUID, Observation]:
        """Where each run is, in as few remote calls as the backend allows."""
        ...

    def live_log(self, testbed: Testbed, run: Tracked, known_size: int | None) -> bytes | None:
        """The run's log so far, or None when it has not grown past `known_size`."""
        ...

    def collect(self, testbed: Testbed, run: Tracked, cap: int) -> Collected:
        """What the ended run left: status, hwinfo, stdout and stderr (each at most `cap`)."""
        ...

    def cancel(self, testbed: Testbed, run: Tracked) -> None:
        """Stop the run; the monitor records it as cancelled when it has ended."""


log = logging.getLogger(__name__)


def mark_offline(testbed: Testbed, reason: str) -> None:
    """Best effort, in its own transaction (observe has none): the testbed is offline, why."""
    from shared.config import get_settings
    from shared.db.session import process_sessions, unit_of_work

    try:
        with unit_of_work(process_sessions(get_settings().db_url)) as session:
            row = session.get(Testbed, testbed.id)
            if row is not None and (row.state, row.state_reason) != ("offline", reason):
                row.state, row.state_reason = "offline", reason
    except Exception:  # the database being down must not hide the testbed's failure
        log.exception("could not mark testbed %s offline", testbed.name)


def mark_online(testbed: Testbed) -> None:
    """Best effort: an offline testbed that answers again (and was discovered once) is back."""
    from shared.config import get_settings
    from shared.db.session import process_sessions, unit_of_work

    if testbed.state == "online":
        return
    try:
        with unit_of_work(process_sessions(get_settings().db_url)) as session:
            row = session.get(Testbed, testbed.id)
            if row is not None and row.state == "offline" and row.refreshed_at is not None:
                row.state, row.state_reason = "online", None
    except Exception:
        log.exception("could not mark testbed %s online", testbed.name)
