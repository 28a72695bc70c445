"""The state collector against a real (SQLite) database and the SQLite-backed broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shared import hardware, inventory
from shared.celery_app import celery_app
from shared.config import Settings
from shared.db import models
from shared.db.migrate import upgrade
from shared.db.models import Build, Deployment, Inspection, Node, Project, Run, utcnow
from shared.db.session import process_sessions, unit_of_work
from shared.metrics_state import StateCollector, accelerator_model
from shared.specs import DeploymentSpec, InspectionSpec

H100 = {"kind": "gpu", "vendor": "nvidia", "model": "H100", "memory_bytes": 80 << 30, "count": 8}
A100 = {"kind": "gpu", "vendor": "nvidia", "model": "A100", "memory_bytes": 40 << 30, "count": 4}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(collector: StateCollector) -> Samples:
    """Collect through a registry and Prometheus' text format, as a scrape would."""
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def db(settings: Settings) -> Iterator[Settings]:
    upgrade(settings.db_url)
    yield settings


def _session(settings: Settings) -> Any:
    return unit_of_work(process_sessions(settings.db_url))


def _inspection_spec(gpu: str | None) -> dict[str, Any]:
    run = {"requests": {"hardware": gpu}} if gpu else None
    spec = InspectionSpec.model_validate({"base": "host", "script": "true", "run": run})
    return spec.model_dump(mode="json", exclude_none=True)


def _seed(settings: Settings) -> dict[str, uuid.UUID]:
    """Two testbeds (one offline), a GPU node, finished and active runs, three builds."""
    now = utcnow()
    ids: dict[str, uuid.UUID] = {}
    with _session(settings) as session:
        project = Project(name="p")
        lab = models.Testbed(name="lab", kind="slurm", state="online", config={})
        old = models.Testbed(name="old", kind="ssh", state="offline", config={})
        session.add_all([project, lab, old])
        session.flush()
        gpu_node = {"accelerators": [H100], "runtimes": ["native"]}
        session.add_all(
            [
                Node(testbed_id=lab.id, name="gpu1", state="online", inventory=gpu_node),
                Node(testbed_id=lab.id, name="cpu1", state="online", inventory={}),
                Node(
                    testbed_id=old.id, name="a1", state="online", inventory={"accelerators": [A100]}
                ),
            ]
        )
        builds = [
            Build(project_id=project.id, spec_hash="a" * 64, runtime="native", state="succeeded",
                  cached=True, artifact="/v/a", started_at=now - timedelta(seconds=1),
                  finished_at=now),
            Build(project_id=project.id, spec_hash="b" * 64, runtime="native", state="succeeded",
                  cached=False, artifact="/v/b", started_at=now - timedelta(seconds=40),
                  finished_at=now),
            Build(project_id=project.id, spec_hash="c" * 64, runtime="native", state="failed",
                  cached=False, started_at=now - timedelta(seconds=3), finished_at=now),
            Build(project_id=project.id, spec_hash="d" * 64, runtime="native", state="building",
                  started_at=now),
        ]  # fmt: skip
        session.add_all(builds)
        session.flush()
        gpu = Inspection(project_id=project.id, specification=_inspection_spec("H100:2"),
                         build_id=builds[0].id, batch_size=3, state="running")  # fmt: skip
        session.add(gpu)
        deployment = Deployment(
            project_id=project.id,
            specification=DeploymentSpec.model_validate({"command": ["true"]}).model_dump(
                mode="json", exclude_none=True
            ),
            batch_size=1,
            state="running",
        )
        session.add(deployment)
        session.flush()

        def run(
            index: int,
            state: str,
            node: str,
            created: datetime,
            placed: datetime | None,
            started: datetime | None,
            finished: datetime | None,
            **parent: Any,
        ) -> Run:
            return Run(project_id=project.id, index=index, state=state, testbed_id=lab.id,
                       node_name=node, created_at=created, placed_at=placed,
                       started_at=started, finished_at=finished, **parent)  # fmt: skip

        t0 = now - timedelta(seconds=100)

        def at(seconds: float) -> datetime:
            return t0 + timedelta(seconds=seconds)

        on_gpu = {"inspection_id": gpu.id}
        session.add_all(
            [
                # Two GPU runs hold 2 H100 each; one ended after 20 s on its node.
                run(0, "running", "gpu1", t0, at(2), at(3), None, **on_gpu),
                run(1, "placed", "gpu1", t0, at(7), None, None, **on_gpu),
                run(2, "succeeded", "gpu1", t0, at(7), None, at(27), **on_gpu),
                # A deployment's run, never observed running, failed 4 s after placement.
                run(0, "failed", "cpu1", t0, at(0.3), None, at(4.3), deployment_id=deployment.id),
            ]
        )
        ids.update(lab=lab.id, gpu=gpu.id)
    return ids


def test_state_is_read_from_the_rows(db: Settings) -> None:
    _seed(db)
    samples = scrape(StateCollector(db))

    assert value(samples, "tessera_runs", state="running") == 1
    assert value(samples, "tessera_runs", state="placed") == 1
    assert value(samples, "tessera_runs", state="lost") == 0, "every state has a series"
    assert value(samples, "tessera_builds", state="building") == 1

    assert value(samples, "tessera_builds_finished_total", state="succeeded", cached="true") == 1
    assert value(samples, "tessera_builds_finished_total", state="failed", cached="false") == 1
    assert value(samples, "tessera_build_cache_total", result="hit") == 1
    assert value(samples, "tessera_build_cache_total", result="miss") == 1
    build = {"state": "succeeded", "cached": "false"}
    assert value(samples, "tessera_build_duration_seconds_count", **build) == 1
    assert value(samples, "tessera_build_duration_seconds_bucket", le="30.0", **build) == 0
    assert value(samples, "tessera_build_duration_seconds_bucket", le="60.0", **build) == 1
    assert value(samples, "tessera_build_duration_seconds_sum", **build) == pytest.approx(
        40, abs=0.01
    )

    assert value(samples, "tessera_placements_total", testbed_kind="slurm", accelerator="H100") == 3
    assert value(samples, "tessera_placements_total", testbed_kind="slurm", accelerator="none") == 1
    wait = {"testbed_kind": "slurm"}
    assert value(samples, "tessera_run_time_to_placement_seconds_count", **wait) == 4
    assert value(samples, "tessera_run_time_to_placement_seconds_bucket", le="0.5", **wait) == 1
    assert value(samples, "tessera_run_time_to_placement_seconds_bucket", le="2.5", **wait) == 2
    assert value(samples, "tessera_run_time_to_placement_seconds_bucket", le="10.0", **wait) == 4
    assert value(samples, "tessera_run_time_to_placement_seconds_sum", **wait) == pytest.approx(
        16.3, abs=0.01
    )
    ok = {"testbed_kind": "slurm", "state": "succeeded"}
    assert value(samples, "tessera_run_duration_seconds_count", **ok) == 1
    assert value(samples, "tessera_run_duration_seconds_sum", **ok) == pytest.approx(20, abs=0.01)
    assert value(samples, "tessera_run_duration_seconds_bucket", le="10.0", **ok) == 0
    assert value(samples, "tessera_run_duration_seconds_bucket", le="30.0", **ok) == 1
    failed = {"testbed_kind": "slurm", "state": "failed"}
    assert value(samples, "tessera_run_duration_seconds_sum", **failed) == pytest.approx(
        4, abs=0.01
    )
    assert (
        "tessera_run_duration_seconds_count",
        (("state", "running"), ("testbed_kind", "slurm")),
    ) not in samples

    assert value(samples, "tessera_testbed_online", testbed="lab", testbed_kind="slurm") == 1
    assert value(samples, "tessera_testbed_online", testbed="old", testbed_kind="ssh") == 0
    assert value(samples, "tessera_nodes", testbed="lab", state="online") == 2
    h100 = {"testbed": "lab", "kind": "gpu", "vendor": "nvidia", "model": "H100"}
    assert value(samples, "tessera_node_accelerators", **h100) == 8
    assert value(samples, "tessera_node_accelerators_free", **h100) == 4, "two runs hold 2 each"
    a100 = {"testbed": "old", "kind": "gpu", "vendor": "nvidia", "model": "A100"}
    assert value(samples, "tessera_node_accelerators", **a100) == 4
    assert value(samples, "tessera_node_accelerators_free", **a100) == 0, "its testbed is offline"

    assert value(samples, "tessera_state_up", source="database") == 1
    assert value(samples, "tessera_state_up", source="broker") == 1
    assert value(samples, "tessera_queue_messages", queue="build") == 0


def test_free_accelerators_follow_runs_ending(db: Settings) -> None:
    ids = _seed(db)
    collector = StateCollector(db)
    h100 = {"testbed": "lab", "kind": "gpu", "vendor": "nvidia", "model": "H100"}
    assert value(scrape(collector), "tessera_node_accelerators_free", **h100) == 4
    with _session(db) as session:
        for run in session.query(Run).filter(Run.inspection_id == ids["gpu"], Run.index < 2):
            run.state, run.finished_at = "succeeded", utcnow()
    samples = scrape(collector)
    assert value(samples, "tessera_node_accelerators_free", **h100) == 8
    assert (
        value(
            samples, "tessera_run_duration_seconds_count", testbed_kind="slurm", state="succeeded"
        )
        == 3
    )


def test_free_accelerators_honour_the_memory_asked(db: Settings) -> None:
    """A run asking an 80GB A100 holds the node's 80GB one, not the 40GB one listed first."""
    a100_40 = {**A100, "model": "A100-SXM4-40GB", "count": 1}
    a100_80 = {**A100, "model": "A100-SXM4-80GB", "memory_bytes": 80 << 30, "count": 1}
    with _session(db) as session:
        project = Project(name="p")
        lab = models.Testbed(name="lab", kind="slurm", state="online", config={})
        session.add_all([project, lab])
        session.flush()
        node = {"accelerators": [a100_40, a100_80]}
        session.add(Node(testbed_id=lab.id, name="mixed", state="online", inventory=node))
        build = Build(project_id=project.id, spec_hash="a" * 64, runtime="native",
                      state="succeeded")  # fmt: skip
        session.add(build)
        session.flush()
        inspection = Inspection(project_id=project.id, build_id=build.id, batch_size=1,
                                specification=_inspection_spec("nvidia:A100:80GB..:1"),
                                state="running")  # fmt: skip
        session.add(inspection)
        session.flush()
        session.add(Run(project_id=project.id, index=0, state="running", testbed_id=lab.id,
                        node_name="mixed", inspection_id=inspection.id))  # fmt: skip
    samples = scrape(StateCollector(db))
    gpu = {"testbed": "lab", "kind": "gpu", "vendor": "nvidia"}
    assert value(samples, "tessera_node_accelerators_free", model="A100-SXM4-80GB", **gpu) == 0
    assert value(samples, "tessera_node_accelerators_free", model="A100-SXM4-40GB", **gpu) == 1
    # the device the match itself would give it
    wanted = hardware.parse_accelerator("nvidia:A100:80GB..:1")
    stored = inventory.node_from_json("mixed", "lab", node, True)
    assert [hardware.fits(wanted, device) for device in stored.accelerators] == [False, True]


def test_queue_depth_is_read_from_the_broker(db: Settings) -> None:
    celery_app().send_task("builder.build", args=[str(uuid.uuid4())])
    celery_app().send_task("builder.build", args=[str(uuid.uuid4())])
    samples = scrape(StateCollector(db))
    assert value(samples, "tessera_queue_messages", queue="build") == 2
    assert value(samples, "tessera_queue_messages", queue="deploy") == 0


def test_a_store_that_is_down_is_reported_not_raised(settings: Settings) -> None:
    broken = settings.model_copy(
        update={
            "database_url": "postgresql://nobody:x@127.0.0.1:1/none",
            "broker_url": "redis://127.0.0.1:1/0",
            "broker_send_timeout_s": 1.0,
        }
    )
    samples = scrape(StateCollector(broken))
    assert value(samples, "tessera_state_up", source="database") == 0
    assert not any(name == "tessera_runs" for name, _ in samples)


def test_accelerator_helpers() -> None:
    assert accelerator_model({}) == "none"
    assert accelerator_model({"accelerators": [A100, H100]}) == "A100+H100"
