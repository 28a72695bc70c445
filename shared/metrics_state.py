"""The state of Tessera as metrics, read from the database and the broker at scrape time.

Runs, builds, placements and the node inventory are rows in Postgres, the truth. Rather than
counting events in the processes that happen to handle them (and losing or doubling counts
when a task is redelivered or a worker dies between its commit and its increment), this
collector derives every figure from the rows when Prometheus scrapes: gauges are counts of
rows by state, and the counters and histograms are cumulative over all rows that ever
reached a point (a placement, an end), which is exactly what a Prometheus counter is. They
survive restarts and are right however many replicas did the work. Beat, of which there is
exactly one, serves them, so no series is exposed twice.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy import ColumnElement, Float, case, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from shared import placement
from shared.celery_config import QUEUES, make_celery
from shared.config import Settings
from shared.db.models import Build, Deployment, Inspection, Node, Run, Testbed
from shared.db.session import process_sessions
from shared.hardware import AcceleratorSpec
from shared.inventory import held_by_others, node_from_json
from shared.states import BUILD_STATES, RUN_STATES, RUN_TERMINAL

log = logging.getLogger(__name__)

PLACEMENT_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
RUN_BUCKETS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400)
BUILD_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800)
NO_ACCELERATOR = "none"


def seconds_between(dialect: str, end: Any, start: Any) -> ColumnElement[float]:
    """`end - start` in seconds, in SQL: the two databases spell it differently."""
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    # date_part answers a double; EXTRACT answers numeric (Postgres 14+), several times slower.
    return func.date_part("epoch", end - start, type_=Float)


def bucket_index(seconds: ColumnElement[float], bounds: Sequence[float]) -> ColumnElement[int]:
    """The histogram bucket a row falls in: i for bounds[i-1] < s <= bounds[i]; -1 for none.

    One CASE per row, grouped on, is what keeps a scrape cheap: the database returns a count
    per bucket instead of evaluating a comparison per bucket per row.
    """
    steps = [(seconds <= bound, index) for index, bound in enumerate(bounds)]
    return case((seconds.is_(None), -1), *steps, else_=len(bounds))


def grouped_seconds(
    session: Session,
    keys: Mapping[str, ColumnElement[Any] | QueryableAttribute[Any]],
    seconds: ColumnElement[float],
    bounds: Sequence[float],
    *where: ColumnElement[bool],
) -> list[Any]:
    """Rows of (keys..., bucket, count, sum of seconds) for the rows matching `where`."""
    # The seconds are computed once per row in a subquery, not once per CASE branch.
    inner = (
        select(*(column.label(name) for name, column in keys.items()), seconds.label("seconds"))
        .where(*where)
        .subquery()
    )
    bucket = bucket_index(inner.c.seconds, bounds).label("bucket")
    group = [inner.c[name] for name in keys]
    query = select(*group, bucket, func.count(), func.sum(inner.c.seconds)).group_by(*group, bucket)
    return list(session.execute(query).all())


@dataclass
class Buckets:
    """A histogram being summed from per-bucket counts."""

    bounds: Sequence[float]
    per_bucket: list[float]
    total: float = 0.0
    count: float = 0.0

    @classmethod
    def empty(cls, bounds: Sequence[float]) -> Buckets:
        return cls(bounds, [0.0] * (len(bounds) + 1))

    def add(self, index: int, count: float, total: float | None) -> None:
        """Add `count` rows of bucket `index` whose seconds sum to `total`."""
        if index < 0:
            return
        self.per_bucket[index] += count
        self.count += count
        self.total += float(total or 0)

    def samples(self) -> list[tuple[str, float]]:
        cumulative, pairs = 0.0, []
        for bound, count in zip(self.bounds, self.per_bucket, strict=False):
            cumulative += count
            pairs.append((_bound(bound), cumulative))
        return [*pairs, ("+Inf", self.count)]


def _bound(value: float) -> str:
    return str(float(value))


def accelerator_model(node_inventory: Mapping[str, Any]) -> str:
    """The accelerator model of a node ('none' without any; models joined with '+')."""
    models = sorted({str(a.get("model")) for a in node_inventory.get("accelerators", ())})
    return "+".join(models) if models else NO_ACCELERATOR


class StateCollector:
    """A prometheus_client collector of the database's and the broker's state."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # What each active run asks for: a specification never changes, so parse it once.
        self._wants: dict[uuid.UUID, tuple[AcceleratorSpec, ...]] = {}
        self._celery: Celery | None = None
        # The exporter answers scrapes on several threads; one read of the state at a time.
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration; the names are known at collect

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            metrics = [
                *self._timed("database", self._database),
                *self._timed("broker", self._broker),
            ]
        yield from metrics

    def _timed(self, source: str, read: Callable[[], list[Metric]]) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily(
            "tessera_state_up", "Whether the state could be read, by source.", labels=["source"]
        )
        took = GaugeMetricFamily(
            "tessera_state_read_seconds",
            "How long reading the state took at the last scrape, by source.",
            labels=["source"],
        )
        try:
            metrics, ok = list(read()), True
        except Exception as error:  # a scrape must answer even while a store is down
            log.warning("metrics: reading the %s failed: %s", source, error)
            metrics, ok = [], False
        up.add_metric([source], 1.0 if ok else 0.0)
        took.add_metric([source], time.perf_counter() - started)
        yield from metrics
        yield up
        yield took

    # ---- the database ----------------------------------------------------------------------

    def _database(self) -> list[Metric]:
        sessions = process_sessions(self._settings.db_url, "metrics")
        with sessions() as session:
            dialect = session.get_bind().dialect.name
            nodes = self._nodes(session)
            return [
                *self._counts(session),
                *self._builds(session, dialect),
                *self._runs(session, dialect, nodes),
                *self._inventory(session, nodes),
            ]

    def _counts(self, session: Session) -> list[Metric]:
        runs = GaugeMetricFamily("tessera_runs", "Runs by state.", labels=["state"])
        found = dict(session.execute(select(Run.state, func.count()).group_by(Run.state)).all())
        for state in RUN_STATES:
            runs.add_metric([state], float(found.get(state, 0)))
        builds = GaugeMetricFamily("tessera_builds", "Builds by state.", labels=["state"])
        found = dict(session.execute(select(Build.state, func.count()).group_by(Build.state)).all())
        for state in BUILD_STATES:
            builds.add_metric([state], float(found.get(state, 0)))
        return [runs, builds]

    def _builds(self, session: Session, dialect: str) -> list[Metric]:
        rows = grouped_seconds(
            session,
            {
                "state": Build.state,
                "cached": Build.cached,
                "built": Build.artifact.is_not(None),
            },
            seconds_between(dialect, Build.finished_at, Build.started_at),
            BUILD_BUCKETS,
            Build.finished_at.is_not(None),
        )
        finished = CounterMetricFamily(
            "tessera_builds_finished",
            "Builds that ended, by final state and whether the cache had the environment.",
            labels=["state", "cached"],
        )
        cache = CounterMetricFamily(
            "tessera_build_cache",
            "Successful builds that had something to build: found in the cache (hit) or built "
            "(miss).",
            labels=["result"],
        )
        durations: dict[tuple[str, str], Buckets] = {}
        by_state: dict[tuple[str, str], float] = defaultdict(float)
        hits = misses = 0.0
        for state, cached, has_artifact, index, count, total in rows:
            key = (state, "true" if cached else "false")
            by_state[key] += count
            durations.setdefault(key, Buckets.empty(BUILD_BUCKETS)).add(index, count, total)
            if state == "succeeded" and cached:
                hits += count
            elif state == "succeeded" and has_artifact:
                misses += count
        for state in ("succeeded", "failed", "cancelled"):
            for cached_label in ("true", "false"):
                finished.add_metric([state, cached_label], by_state.get((state, cached_label), 0))
        cache.add_metric(["hit"], hits)
        cache.add_metric(["miss"], misses)
        duration = HistogramMetricFamily(
            "tessera_build_duration_seconds",
            "How long builds took from start to end, by final state and cache.",
            labels=["state", "cached"],
        )
        for (state, cached_label), buckets in sorted(durations.items()):
            if buckets.count:
                duration.add_metric([state, cached_label], buckets.samples(), buckets.total)
        return [finished, cache, duration]

    def _runs(self, session: Session, dialect: str, nodes: Sequence[_NodeRow]) -> list[Metric]:
        testbeds = session.execute(select(Testbed.id, Testbed.kind)).all()
        kinds: dict[uuid.UUID | None, str] = {row.id: row.kind for row in testbeds}
        placed_rows = grouped_seconds(
            session,
            {"testbed_id": Run.testbed_id, "node_name": Run.node_name},
            seconds_between(dialect, Run.placed_at, Run.created_at),
            PLACEMENT_BUCKETS,
            Run.placed_at.is_not(None),
        )
        ended_rows = grouped_seconds(
            session,
            {"testbed_id": Run.testbed_id, "state": Run.state},
            seconds_between(dialect, Run.finished_at, func.coalesce(Run.started_at, Run.placed_at)),
            RUN_BUCKETS,
            Run.placed_at.is_not(None),
            Run.finished_at.is_not(None),
            Run.state.in_(sorted(RUN_TERMINAL)),
        )
        models: dict[tuple[uuid.UUID | None, str | None], str] = {
            (n.testbed_id, n.name): accelerator_model(n.inventory) for n in nodes
        }
        placements: dict[tuple[str, str], float] = defaultdict(float)
        waits: dict[str, Buckets] = {}
        for testbed_id, node_name, index, count, total in placed_rows:
            kind = kinds.get(testbed_id, "unknown")
            model = models.get((testbed_id, node_name), NO_ACCELERATOR)
            placements[(kind, model)] += count
            waits.setdefault(kind, Buckets.empty(PLACEMENT_BUCKETS)).add(index, count, total)
        durations: dict[tuple[str, str], Buckets] = {}
        for testbed_id, state, index, count, total in ended_rows:
            kind = kinds.get(testbed_id, "unknown")
            durations.setdefault((kind, state), Buckets.empty(RUN_BUCKETS)).add(index, count, total)
        placed = CounterMetricFamily(
            "tessera_placements",
            "Runs placed on a node, by testbed kind and the node's accelerator model.",
            labels=["testbed_kind", "accelerator"],
        )
        for (kind, model), placed_count in sorted(placements.items()):
            placed.add_metric([kind, model], placed_count)
        wait = HistogramMetricFamily(
            "tessera_run_time_to_placement_seconds",
            "Time from the request to the run's placement on a node (builds included).",
            labels=["testbed_kind"],
        )
        for kind, buckets in sorted(waits.items()):
            wait.add_metric([kind], buckets.samples(), buckets.total)
        duration = HistogramMetricFamily(
            "tessera_run_duration_seconds",
            "How long ended runs ran on their node, by testbed kind and final state.",
            labels=["testbed_kind", "state"],
        )
        for (kind, state), buckets in sorted(durations.items()):
            duration.add_metric([kind, state], buckets.samples(), buckets.total)
        return [placed, wait, duration]

    # ---- the inventory ---------------------------------------------------------------------

    def _nodes(self, session: Session) -> list[_NodeRow]:
        rows = session.execute(
            select(
                Node.testbed_id,
                Node.name,
                Node.state,
                Node.inventory,
                Testbed.name,
                Testbed.kind,
                Testbed.state,
            )
            .join(Testbed, Node.testbed_id == Testbed.id)
            .where(Testbed.live())
        ).all()
        return [_NodeRow(*row) for row in rows]

    def _held(self, session: Session) -> dict[tuple[uuid.UUID, str], list[AcceleratorSpec]]:
        """What the active runs ask for, by node (placement.held_devices says which devices)."""
        active = session.execute(
            select(
                Run.id, Run.testbed_id, Run.node_name, Run.inspection_id, Run.deployment_id
            ).where(Run.state.in_(placement.ACTIVE), Run.testbed_id.is_not(None))
        ).all()
        self._wants = {r.id: self._wants[r.id] for r in active if r.id in self._wants}
        missing = [r for r in active if r.id not in self._wants]
        for model, column, is_inspection in (
            (Inspection, "inspection_id", True),
            (Deployment, "deployment_id", False),
        ):
            parents = {getattr(r, column) for r in missing if getattr(r, column) is not None}
            if not parents:
                continue
            specs: dict[uuid.UUID, dict[str, Any]] = dict(
                session.execute(
                    select(model.id, model.specification).where(model.id.in_(parents))
                ).all()
            )
            for run in missing:
                parent = getattr(run, column)
                if parent in specs:
                    self._wants[run.id] = placement.requested_accelerators(
                        specs[parent], inspection=is_inspection
                    )
        held: dict[tuple[uuid.UUID, str], list[AcceleratorSpec]] = defaultdict(list)
        for run in active:
            held[(run.testbed_id, run.node_name)].extend(self._wants.get(run.id, ()))
        return held

    def _inventory(self, session: Session, nodes: Sequence[_NodeRow]) -> list[Metric]:
        online = GaugeMetricFamily(
            "tessera_testbed_online",
            "1 when the testbed answers, 0 when it is offline or unknown.",
            labels=["testbed", "testbed_kind"],
        )
        for name, kind, state in session.execute(
            select(Testbed.name, Testbed.kind, Testbed.state)
            .where(Testbed.live())
            .order_by(Testbed.name)
        ):
            online.add_metric([name, kind], 1.0 if state == "online" else 0.0)
        by_state: dict[tuple[str, str], float] = defaultdict(float)
        total: dict[tuple[str, str, str, str], float] = defaultdict(float)
        free: dict[tuple[str, str, str, str], float] = defaultdict(float)
        held = self._held(session)
        for node in nodes:
            by_state[(node.testbed, node.state)] += 1
            usable = node.state == "online" and node.testbed_state == "online"
            info = node_from_json(node.name, node.testbed, node.inventory, usable)
            wanted = held.get((node.testbed_id, node.name), ())
            left = placement.free_devices(info, wanted, held_by_others(node.inventory))
            for device, unheld in zip(info.accelerators, left, strict=True):
                key = (node.testbed, device.kind, device.vendor, device.model)
                total[key] += device.count
                free[key] += unheld if usable else 0
        nodes_metric = GaugeMetricFamily(
            "tessera_nodes", "Nodes by testbed and state.", labels=["testbed", "state"]
        )
        for (testbed, state), count in sorted(by_state.items()):
            nodes_metric.add_metric([testbed, state], count)
        labels = ["testbed", "kind", "vendor", "model"]
        total_metric = GaugeMetricFamily(
            "tessera_node_accelerators",
            "Accelerators (GPUs, FPGAs, ...) on the testbeds' nodes, by model.",
            labels=labels,
        )
        free_metric = GaugeMetricFamily(
            "tessera_node_accelerators_free",
            "Accelerators on online nodes that neither a placed or running run nor other work "
            "(as the scheduler reports) holds, by model.",
            labels=labels,
        )
        for key in sorted(total):
            total_metric.add_metric(list(key), total[key])
            free_metric.add_metric(list(key), free[key])
        return [online, nodes_metric, total_metric, free_metric]

    # ---- the broker ------------------------------------------------------------------------

    def _broker(self) -> list[Metric]:
        if self._celery is None:
            self._celery = make_celery(self._settings)
        depth = GaugeMetricFamily(
            "tessera_queue_messages",
            "Task messages waiting in each Celery queue.",
            labels=["queue"],
        )
        timeout = self._settings.broker_send_timeout_s
        with self._celery.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=max(1, round(timeout)))
            channel: Any = connection.default_channel  # a kombu virtual channel
            for queue in QUEUES:
                # A non-passive declare answers for an empty queue too (Redis drops empty
                # lists); it creates nothing Celery's own workers would not.
                declared = channel.queue_declare(queue=queue, passive=False)
                depth.add_metric([queue], float(declared.message_count))
        return [depth]


@dataclass(frozen=True)
class _NodeRow:
    testbed_id: uuid.UUID
    name: str
    state: str
    inventory: dict[str, Any]
    testbed: str
    testbed_kind: str
    testbed_state: str
