"""What every testbed connector offers the deployer and the monitor, and what it returns.

A connector is made once per worker process and kept (remote ones hold their connections),
so every method may be called from several threads of a worker at once. Connectors return
data (node reports, backend references, observations) and raise `Unreachable`; the task that
called them writes the rows, in its own unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from shared.db.models import Testbed
from shared.hardware import HardwareSpec, NodeInfo


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
    slurm: Mapping[str, str] = field(default_factory=dict)  # partition, qos, account, reservation
    deadline: datetime | None = None  # when the run must be done by (a deployment's deadline)


@dataclass(frozen=True)
class Tracked:
    """A placed run, as the monitor hands it to its testbed's connector."""

    run_id: uuid.UUID
    backend_ref: str | None
    node: str | None


@dataclass(frozen=True)
class Observation:
    # "pending" (queued by the backend) | "running" | "ended" | "gone" | "interrupted" (the
    # testbed took the machine back before the run ended: a spot instance reclaimed)
    state: str
    started_at: str | None = None
    reason: str | None = None  # e.g. the scheduler's pending reason


class Observations(dict[uuid.UUID, Observation]):
    """What `observe` may return instead of a plain dict: the observations by run id, and what
    the same call read of the testbed's nodes: by node name, the devices its scheduler reports
    held by work that is not Tessera's runs (per accelerator entry, in the order the node's
    refresh reports them); for testbeds of separate hosts, the hosts that did not answer
    (with why; their runs are left out) and those that did. The monitor writes these into the
    node rows."""

    def __init__(
        self,
        seen: Mapping[uuid.UUID, Observation] | None = None,
        held_by_others: Mapping[str, tuple[int, ...]] | None = None,
        unreachable: Mapping[str, str] | None = None,
        answered: Sequence[str] = (),
    ) -> None:
        super().__init__(seen or {})
        self.held_by_others: dict[str, tuple[int, ...]] = dict(held_by_others or {})
        self.unreachable: dict[str, str] = dict(unreachable or {})
        self.answered: tuple[str, ...] = tuple(answered)


@dataclass(frozen=True)
class Collected:
    """What a finished run left on its node."""

    status: dict[str, Any]
    hwinfo: dict[str, Any]
    stdout: bytes
    stderr: bytes
    log: bytes | None


class Unreachable(Exception):
    """The testbed cannot be reached, or refused what Tessera cannot do without.

    Its text is the reason the testbed's row shows while it is offline; the task that called
    the connector writes it down.
    """


class RenderError(ValueError):
    """The run cannot be expressed safely for its testbed (a value its scheduler could misread,
    a name the API would refuse, a size over a limit): the run fails with this text as its
    reason, and nothing is sent."""


class NoCapacity(Exception):
    """The node cannot start the run now (what it asks is held by other runs): the run stays
    queued and its placement is tried again."""


@dataclass(frozen=True)
class NodeReport:
    """One node as a refresh found it: what its inventory row should hold."""

    name: str
    state: str  # "online" | "offline" | "flagged"
    state_reason: str | None
    info: NodeInfo  # arch, CPU, cores, memory: the row's own columns
    inventory: dict[str, Any]
    hwinfo: dict[str, Any] | None = None  # a new probe of the node; None keeps the stored one


@dataclass(frozen=True)
class Discovery:
    """What a refresh found: the testbed's nodes, or why it could not be read."""

    nodes: tuple[NodeReport, ...] = ()
    offline: str | None = None  # unreachable: why (its nodes are left as they were)
    missing: str | None = None  # stored nodes not reported are offline, with this reason
    pins: dict[str, Any] = field(default_factory=dict)  # config keys trusted on first use


class Connector(Protocol):
    kind: ClassVar[str]
    # Whether a placed run may wait in the testbed's own queue before it starts (a scheduler's
    # pending job or pod); False where placing starts it (local, SSH hosts).
    queues: ClassVar[bool]

    def refresh(self, testbed: Testbed, probed: Mapping[str, dict[str, Any]]) -> Discovery:
        """Discover the testbed's nodes. `probed`: the stored hwinfo of its known nodes, by
        name (a node probed once is not probed again). Never raises Unreachable."""
        ...

    def place(
        self,
        testbed: Testbed,
        node: str,
        run_id: uuid.UUID,
        job: Job,
        inventory: Mapping[str, Any] | None = None,
    ) -> str:
        """Start the run, or adopt it if this run id was already started; its backend ref.
        `inventory`: the node's stored inventory (what placement chose it by)."""
        ...

    def observe(self, testbed: Testbed, runs: Sequence[Tracked]) -> dict[uuid.UUID, Observation]:
        """Where each run is, in as few remote calls as the backend allows (an `Observations`
        when the same calls also tell what other work holds on the nodes)."""
        ...

    def live_log(self, testbed: Testbed, run: Tracked, known_size: int | None) -> bytes | None:
        """The run's log so far, or None when it has not grown past `known_size`."""
        ...

    def collect(self, testbed: Testbed, run: Tracked, cap: int) -> Collected:
        """What the ended run left: status, hwinfo, stdout and stderr (each at most `cap`)."""
        ...

    def cancel(self, testbed: Testbed, run: Tracked) -> None:
        """Stop the run; the monitor records it as cancelled when it has ended."""
