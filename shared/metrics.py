"""Prometheus metrics of the worker processes, and how every process exposes its metrics.

Three kinds of process expose metrics:

- the API serves `/metrics` on its own port (services/api/metrics.py: HTTP requests);
- each Celery worker serves its tasks and its testbed calls on `TESSERA_METRICS_PORT`. With
  the prefork pool the tasks run in child processes, so a worker always counts in
  prometheus_client's multiprocess mode: every process writes its values to files in one
  folder, and the worker's main process serves the sum;
- beat, of which there is exactly one, serves the state of the system read from the database
  and the broker at scrape time (shared/metrics_state.py), so no sum over replicas is needed.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from celery import signals
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
    values,
)
from prometheus_client.metrics_core import Metric

from shared.config import Settings, get_settings
from shared.db.models import Testbed

if TYPE_CHECKING:  # shared.testbeds imports this module to time its connectors
    from shared.testbeds.base import Connector

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PID_FILE = re.compile(r"^[a-z_]+_(\d+)\.db$")

TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800)
CALL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_dead_files(folder: Path) -> int:
    """Delete the value files of processes that are gone (a previous run's); how many."""
    removed = 0
    for path in folder.glob("*.db"):
        found = _PID_FILE.match(path.name)
        if found and not _pid_alive(int(found.group(1))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def multiprocess_dir() -> Path | None:
    """The folder of this process group's value files; None in single-process mode."""
    folder = os.environ.get(MULTIPROC_ENV)
    return Path(folder) if folder else None


def _use_folder(folder: Path) -> None:
    """Count in multiprocess mode from now on, in `folder` (inherited by child processes)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    # prometheus_client picks its value class when it is first imported, which may have been
    # before the variable was set; values made from now on must go to the files.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def _configured_dir(settings: Settings) -> None:
    """At import: TESSERA_METRICS_DIR turns multiprocess mode on for this process group."""
    if settings.metrics_dir is None or multiprocess_dir() is not None:
        return
    folder = settings.metrics_dir.expanduser().resolve()
    if folder.is_dir():
        remove_dead_files(folder)
    _use_folder(folder)


_configured_dir(get_settings())

# ---- the metrics of worker processes --------------------------------------------------------

TASKS = Counter(
    "tessera_tasks",
    "Celery tasks run, by task name and outcome (success, failure, retry, ignored, rejected).",
    ["task", "outcome"],
)
TASK_DURATION = Histogram(
    "tessera_task_duration_seconds",
    "How long Celery tasks ran, by task name and outcome.",
    ["task", "outcome"],
    buckets=TASK_BUCKETS,
)
TASKS_IN_PROGRESS = Gauge(
    "tessera_tasks_in_progress",
    "Celery tasks running now, by task name.",
    ["task"],
    multiprocess_mode="livesum",
)
TESTBED_CALL_DURATION = Histogram(
    "tessera_testbed_call_duration_seconds",
    "Latency of calls to a testbed (place, observe, collect, ...), by testbed, operation and "
    "outcome (ok, error).",
    ["testbed", "testbed_kind", "operation", "outcome"],
    buckets=CALL_BUCKETS,
)
WORKER_METRICS: tuple[Counter | Gauge | Histogram, ...] = (
    TASKS,
    TASK_DURATION,
    TASKS_IN_PROGRESS,
    TESTBED_CALL_DURATION,
)


class _GroupCollector:
    """The sum over a process group's files, without the live gauges of processes gone.

    Counters of a process that ended keep counting in the sum (a counter must not go back);
    its in-progress gauge must not, even when it was killed before it could say so.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._files = multiprocess.MultiProcessCollector(None, path=str(folder))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        for path in self._folder.glob("gauge_live*.db"):
            found = _PID_FILE.match(path.name)
            if found and not _pid_alive(int(found.group(1))):
                path.unlink(missing_ok=True)
        collected: Iterable[Metric] = self._files.collect()  # type: ignore[no-untyped-call]
        return collected


def registry() -> CollectorRegistry:
    """What this process group exposes: the sum over its processes' files, or this process."""
    folder = multiprocess_dir()
    if folder is None:
        return REGISTRY
    collected = CollectorRegistry()
    collected.register(_GroupCollector(folder))
    return collected


def serve(settings: Settings, exposed: CollectorRegistry) -> bool:
    """Start this process's exporter on TESSERA_METRICS_PORT; False when it is not started."""
    if settings.metrics_port is None:
        return False
    try:
        start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=exposed)
    except OSError as error:  # e.g. the processes of `tessera up`, all given one port
        log.warning(
            "metrics: could not listen on %s:%s: %s",
            settings.metrics_host,
            settings.metrics_port,
            error,
        )
        return False
    log.info("metrics on http://%s:%s/metrics", settings.metrics_host, settings.metrics_port)
    return True


# ---- Celery signals: task outcomes and durations; the exporters of workers and beat ---------

_started: dict[str, float] = {}
_started_lock = threading.Lock()
_private_dir: Path | None = None


@signals.worker_init.connect
def _on_worker_init(**_: Any) -> None:
    """Before the pool starts: make sure the pool's processes count into shared files."""
    global _private_dir
    if multiprocess_dir() is not None:
        return
    _private_dir = Path(tempfile.mkdtemp(prefix="tessera-metrics-"))
    _use_folder(_private_dir)
    for metric in WORKER_METRICS:
        metric.clear()  # label sets made before the switch would count in memory only
    atexit.register(_remove_private_dir, os.getpid())


def _remove_private_dir(owner: int) -> None:
    # Forked pool processes inherit atexit handlers; only the worker that made it removes it.
    if _private_dir is not None and os.getpid() == owner:
        shutil.rmtree(_private_dir, ignore_errors=True)


@signals.worker_ready.connect
def _on_worker_ready(**_: Any) -> None:
    serve(get_settings(), registry())


@signals.worker_process_shutdown.connect
def _on_worker_process_shutdown(pid: int | None = None, **_: Any) -> None:
    """A pool process is ending: its in-progress gauge values no longer count."""
    if pid is not None and multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


@signals.beat_init.connect
def _on_beat_init(**_: Any) -> None:
    from shared.metrics_state import StateCollector

    settings = get_settings()
    exposed = CollectorRegistry()
    exposed.register(StateCollector(settings))
    serve(settings, exposed)


@signals.task_prerun.connect
def _on_task_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is None or task is None:
        return
    with _started_lock:
        _started[task_id] = time.monotonic()
    TASKS_IN_PROGRESS.labels(task.name).inc()


@signals.task_postrun.connect
def _on_task_postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    if task_id is None or task is None:
        return
    with _started_lock:
        started = _started.pop(task_id, None)
    outcome = (state or "unknown").lower()
    TASKS.labels(task.name, outcome).inc()
    TASKS_IN_PROGRESS.labels(task.name).dec()
    if started is not None:
        TASK_DURATION.labels(task.name, outcome).observe(time.monotonic() - started)


# ---- testbed calls --------------------------------------------------------------------------


class TimedConnector:
    """A connector whose calls are timed by testbed and operation; otherwise the same."""

    def __init__(self, inner: Connector) -> None:
        self._inner = inner
        self.kind = inner.kind

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name.startswith("_") or not callable(value):
            return value
        return _timed(value, name, self.kind)


def _timed(call: Callable[..., Any], operation: str, kind: str) -> Callable[..., Any]:
    @functools.wraps(call)
    def timed(*args: Any, **kwargs: Any) -> Any:
        testbed = next((arg for arg in (*args, *kwargs.values()) if isinstance(arg, Testbed)), None)
        name = testbed.name if testbed is not None else ""
        started = time.perf_counter()
        outcome = "error"
        try:
            result = call(*args, **kwargs)
            outcome = "ok"
            return result
        finally:
            TESTBED_CALL_DURATION.labels(name, kind, operation, outcome).observe(
                time.perf_counter() - started
            )

    return timed


def timed(connector: Connector) -> Connector:
    """`connector`, with the latency of every call recorded."""
    return cast("Connector", TimedConnector(connector))
