"""Worker metrics: task signals, timed testbed calls, multiprocess mode, the exporter."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter

from shared import metrics
from shared.celery_app import make_celery
from shared.config import Settings
from shared.db import models

ROOT = Path(__file__).resolve().parents[3]


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Probe:
    """A connector-shaped object whose calls succeed or raise."""

    kind: ClassVar[str] = "probe"
    version = "1"

    def observe(self, testbed: models.Testbed, runs: list[str]) -> dict[str, str]:
        return dict.fromkeys(runs, "running")

    def refresh(self, testbed: models.Testbed, probed: object) -> None:
        raise TimeoutError("the testbed did not answer")


def test_connector_calls_are_timed_by_testbed_and_operation() -> None:
    testbed = models.Testbed(name="lab-1", kind="probe")
    timed = metrics.timed(Probe())  # type: ignore[arg-type]
    count = "tessera_testbed_call_duration_seconds_count"
    ok = {"testbed": "lab-1", "testbed_kind": "probe", "operation": "observe", "outcome": "ok"}
    before = _sample(count, **ok)
    assert timed.observe(testbed, ["a", "b"]) == {"a": "running", "b": "running"}
    assert timed.kind == "probe" and timed.version == "1"
    assert _sample(count, **ok) - before == 1

    failed = ok | {"operation": "refresh", "outcome": "error"}
    before = _sample(count, **failed)
    with pytest.raises(TimeoutError):
        timed.refresh(testbed=testbed, probed={})  # found among keyword arguments too
    assert _sample(count, **failed) - before == 1


def test_tasks_are_counted_by_name_and_outcome(settings: Settings) -> None:
    app = make_celery(settings)
    name = f"test.ok.{uuid.uuid4().hex[:6]}"

    @app.task(name=name)
    def ok() -> int:
        return 1

    @app.task(name=name + ".bad")
    def bad() -> None:
        raise RuntimeError("no")

    ok.apply()
    ok.apply()
    bad.apply()
    assert _sample("tessera_tasks_total", task=name, outcome="success") == 2
    assert _sample("tessera_tasks_total", task=name + ".bad", outcome="failure") == 1
    assert _sample("tessera_task_duration_seconds_count", task=name, outcome="success") == 2
    assert _sample("tessera_tasks_in_progress", task=name) == 0


def test_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    dead = int(ended.stdout)
    for name in (f"counter_{dead}.db", f"counter_{os.getpid()}.db", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert metrics.remove_dead_files(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{os.getpid()}.db", "notes.txt"]


def _python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


FORKED_TASKS = """
import os
from shared import metrics
children = []
for n in range(3):
    pid = os.fork()
    if pid == 0:
        metrics.TASKS.labels("t", "success").inc(n + 1)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
name, labels = "tessera_tasks_total", {"task": "t", "outcome": "success"}
print(metrics.registry().get_sample_value(name, labels))
"""


def test_forked_processes_are_summed_with_a_metrics_dir(tmp_path: Path) -> None:
    env = {"TESSERA_HOME": str(tmp_path), "TESSERA_METRICS_DIR": str(tmp_path / "m")}
    assert _python(FORKED_TASKS, env) == "6.0"
    assert len(list((tmp_path / "m").glob("counter_*.db"))) == 3


KILLED_MID_TASK = """
import os, signal
from shared import metrics
running = metrics.TASKS_IN_PROGRESS.labels("t")
running.inc()
pid = os.fork()
if pid == 0:
    running.inc()
    os.kill(os.getpid(), signal.SIGKILL)  # dies mid-task: nothing marks it dead
os.waitpid(pid, 0)
print(metrics.registry().get_sample_value("tessera_tasks_in_progress", {"task": "t"}))
"""


def test_a_killed_process_no_longer_counts_as_in_progress(tmp_path: Path) -> None:
    env = {"TESSERA_HOME": str(tmp_path), "TESSERA_METRICS_DIR": str(tmp_path / "m")}
    assert _python(KILLED_MID_TASK, env) == "1.0", "the parent's one task, not the dead child's"


EARLY_VALUE = """
from shared import metrics
metrics.TASKS.labels("early", "success").inc()
metrics._on_worker_init()
folder = metrics.multiprocess_dir()
print(folder is not None and folder.is_dir())
"""


def test_a_worker_switches_to_multiprocess_mode_before_its_pool_starts(tmp_path: Path) -> None:
    # Without TESSERA_METRICS_DIR a worker makes a private folder at worker_init, and values
    # made before that (here: one label set) are dropped rather than left in memory only.
    early = 'labels["task"] = "early"\nprint(metrics.registry().get_sample_value(name, labels))'
    code = EARLY_VALUE + FORKED_TASKS + early
    switched, total, dropped = _python(code, {"TESSERA_HOME": str(tmp_path)}).splitlines()
    assert (switched, total, dropped) == ("True", "6.0", "None")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_exporter_serves_a_registry_and_survives_a_taken_port(settings: Settings) -> None:
    registry = CollectorRegistry()
    Counter("tessera_probe", "A probe.", registry=registry).inc(3)
    assert metrics.serve(settings, registry) is False, "no port configured: no exporter"
    port = _free_port()
    configured = settings.model_copy(update={"metrics_port": port})
    assert metrics.serve(configured, registry) is True
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert "tessera_probe_total 3.0" in text
    assert metrics.serve(configured, registry) is False, "the port is taken: a warning"


def test_beat_serves_the_state(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.db.migrate import upgrade

    upgrade(settings.db_url)
    port = _free_port()
    monkeypatch.setenv("TESSERA_METRICS_PORT", str(port))
    from tests.conftest import reset_settings

    reset_settings()
    metrics._on_beat_init()
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'tessera_runs{state="pending"} 0.0' in text
    assert 'tessera_state_up{source="database"} 1.0' in text
    assert "tessera_tasks_total" not in text, "beat serves the state only"
