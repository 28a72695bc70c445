"""Ranking: where a run should go first among the nodes that fit it (shared/placement.py
finds those), why that one (`explain`), how much room each has, what a count range is given,
and why a run must wait when none has its devices free now.

Devices are counted as placement counts them (`placement.free_devices`, `first_fit`), so the
order agrees with the free counts the API and the metrics show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, func, select

from shared import hardware
from shared.db.models import Run, Testbed
from shared.placement import ACTIVE, OWN_MACHINE, Candidate, Held, first_fit, free_devices


def _short_and_spare(
    candidate: Candidate, wanted: Sequence[hardware.AcceleratorSpec], held: Held
) -> tuple[int, int]:
    """How many of the devices asked for the node lacks free now, and how many it has over."""
    node = candidate.node
    free = free_devices(node, held.get((candidate.testbed, node.name), ()), candidate.others)
    short = 0
    spare = 0
    for spec in wanted:
        # the entry this request would hold: the same one held_devices counts it on
        index = first_fit(node, spec)
        available = 0 if index is None else free[index]
        short += max(0, spec.count - available)
        spare += available - spec.count
    return short, spare


@dataclass(frozen=True)
class Load:
    """Tessera's active runs, counted: per testbed those placed and not started yet (its
    queue), per (testbed, node) those placed or running."""

    queued: Mapping[str, int]
    active: Mapping[tuple[str, str], int]


def load_query(testbeds: Iterable[str]) -> Select[str, str | None, str, int]:
    """(testbed, node, state, count) of the active runs on these testbeds."""
    return (
        select(Testbed.name, Run.node_name, Run.state, func.count())
        .join(Testbed, Run.testbed_id == Testbed.id)
        .where(Run.state.in_(ACTIVE), Testbed.name.in_(set(testbeds)))
        .group_by(Testbed.name, Run.node_name, Run.state)
    )


def load_of(rows: Iterable[Any]) -> Load:
    queued: dict[str, int] = {}
    active: dict[tuple[str, str], int] = {}
    for testbed, node, state, count in rows:
        if state == "placed":
            queued[testbed] = queued.get(testbed, 0) + count
        active[(testbed, node)] = active.get((testbed, node), 0) + count
    return Load(queued, active)


NO_LOAD = Load({}, {})


def rank(
    fits: Sequence[Candidate],
    wanted: Sequence[hardware.AcceleratorSpec],
    held: Held,
    load: Load = NO_LOAD,
) -> list[Candidate]:
    """Where a run should go first, among the nodes that fit it, across every testbed.

    A run that asks for accelerators goes first to nodes where they are free now (the most
    free first, so runs spread instead of queueing behind each other); a run that asks for
    none goes first to nodes without accelerators, keeping those for the work that needs
    them. Then the testbed with the shortest queue (Tessera's runs placed there and not
    started yet), then the node with the fewest active runs. Ties keep the inventory's order.
    """

    def key(candidate: Candidate) -> tuple[int, int, int, int]:
        where = (candidate.testbed, candidate.node.name)
        queue, active = load.queued.get(candidate.testbed, 0), load.active.get(where, 0)
        if candidate.kind in OWN_MACHINE:  # a new instance each time: the cheapest first
            return (0, 0, queue, int(candidate.price_per_hour * 1e6))
        if not wanted:
            return (0, sum(a.count for a in candidate.node.accelerators), queue, active)
        short, spare = _short_and_spare(candidate, wanted, held)
        return (short, -spare, queue, active)

    return sorted(fits, key=key)


def explain(
    ranked: Sequence[Candidate],
    wanted: Sequence[hardware.AcceleratorSpec],
    held: Held,
    load: Load = NO_LOAD,
    shown: int = 5,
) -> dict[str, Any]:
    """Why the first of `ranked` was chosen: what it and the next few offered."""

    def offer(candidate: Candidate) -> dict[str, Any]:
        node = candidate.node
        free = free_devices(node, held.get((candidate.testbed, node.name), ()), candidate.others)
        return {
            "testbed": candidate.testbed,
            "node": node.name,
            "free_devices": free,
            "short": _short_and_spare(candidate, wanted, held)[0] if wanted else 0,
            "queued": load.queued.get(candidate.testbed, 0),
            "active": load.active.get((candidate.testbed, node.name), 0),
        }

    return {
        "fitting_nodes": len(ranked),
        "chosen": offer(ranked[0]) if ranked else None,
        "next": [offer(c) for c in ranked[1:shown]],
        "order": "free devices asked, then fewest spare accelerators for runs that ask none, "
        "then the testbed's queue, then the node's active runs",
    }


def spare(candidate: Candidate, wanted: Sequence[hardware.AcceleratorSpec], held: Held) -> int:
    """How many devices the node has free beyond what `wanted` asks (for choosing between
    alternatives: the one with the most room)."""
    return _short_and_spare(candidate, wanted, held)[1]


def grant(candidate: Candidate, spec: hardware.HardwareSpec, held: Held) -> hardware.HardwareSpec:
    """`spec` as the node gives it now: each count range ("A100:1..4") fixed at as many as
    the node has free within it (at least its low end, which feasibility made sure of)."""
    node = candidate.node
    free = free_devices(node, held.get((candidate.testbed, node.name), ()), candidate.others)
    given = []
    for accelerator in spec.accelerators:
        if accelerator.count_max is None:
            given.append(accelerator)
            continue
        index = first_fit(node, accelerator)
        available = 0 if index is None else free[index]
        count = int(min(accelerator.count_max, max(accelerator.count, available)))
        if index is not None:
            free[index] -= count
        given.append(replace(accelerator, count=count, count_max=None))
    return replace(spec, accelerators=tuple(given))


def busy(
    ranked: Sequence[Candidate], wanted: Sequence[hardware.AcceleratorSpec], held: Held
) -> str | None:
    """Why the run must wait, when no node that fits it has the devices it asks for free now
    (held by Tessera's runs, or by other work as the scheduler reports); None when one has.

    `ranked`: the fitting nodes as `rank` ordered them, so the first is the closest to free.
    """
    if not wanted or not ranked:
        return None
    best = ranked[0]
    short, _ = _short_and_spare(best, wanted, held)
    if short == 0:
        return None
    asked = sum(spec.count for spec in wanted)
    where, have = f"{best.testbed}/{best.node.name}", asked - short
    if len(ranked) == 1:
        said = f"{where}, the one node that fits, has {have} of the {asked} asked free now"
    else:
        said = (
            f"none of the {len(ranked)} nodes that fit has the {asked} asked free now"
            f" (the most free, {where}, has {have})"
        )
    return f"waiting for free accelerators: {said}; placement is retried"
