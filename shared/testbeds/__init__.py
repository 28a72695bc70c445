"""Testbed connectors by kind: one instance per worker process, kept for its connections."""

from __future__ import annotations

import os
import threading

from shared import metrics
from shared.config import get_settings
from shared.testbeds.base import Connector

KINDS = ("local", "slurm", "kubernetes", "ssh", "ec2")

_connectors: dict[tuple[int, str], Connector] = {}
_lock = threading.Lock()


def connector(kind: str) -> Connector:
    """The connector of this testbed kind, made on first use in this process."""
    key = (os.getpid(), kind)
    with _lock:
        if key not in _connectors:
            _connectors[key] = metrics.timed(_make(kind))  # latency by testbed and call
        return _connectors[key]


def _make(kind: str) -> Connector:
    if kind == "local":
        from shared.testbeds.local.connector import LocalConnector

        return LocalConnector(get_settings().local_runs_dir)
    if kind == "slurm":
        from shared.testbeds.slurm.connector import SlurmConnector

        return SlurmConnector()
    if kind == "kubernetes":
        from shared.testbeds.kubernetes.connector import KubernetesConnector

        return KubernetesConnector()
    if kind == "ssh":
        from shared.testbeds.ssh.connector import SshConnector

        return SshConnector()
    if kind == "ec2":
        from shared.testbeds.ec2.connector import Ec2Connector

        return Ec2Connector()
    raise ValueError(f"no connector for testbed kind {kind!r}")
