"""The match of a hardware spec against nodes: whether a node fits, and why not."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shared.hardware.models import nominal_memory
from shared.hardware.spec import (
    AcceleratorSpec,
    CpuSpec,
    HardwareSpec,
    NodeAccelerator,
    NodeInfo,
    Range,
    _exact_bytes,
    _plain,
    _syntax,
    format_bytes,
    model_matches,
    normalise_arch,
    normalise_vendor,
    options,
)

__all__ = ["first_unmet", "fits", "match", "model_matches"]


def _needs(r: Range, fmt: Callable[[float], str]) -> str:
    if r.min is not None and r.max is not None:
        if r.min > r.max:
            return f"{_syntax(r, fmt)} (nothing fits: the minimum is above the maximum)"
        return fmt(r.min) if r.min == r.max else f"between {fmt(r.min)} and {fmt(r.max)}"
    return f">= {fmt(r.min)}" if r.min is not None else f"<= {fmt(r.max or 0)}"


def _range_reason(
    what: str,
    r: Range,
    have: float | None,
    spec_fmt: Callable[[float], str],
    node_fmt: Callable[[float], str],
) -> list[str]:
    if r.contains(have):
        return []
    shown = f"node does not report its {what}" if have is None else f"node has {node_fmt(have)}"
    return [f"needs {what} {_needs(r, spec_fmt)}, {shown}"]


def fits(spec: AcceleratorSpec, device: NodeAccelerator) -> bool:
    """Whether a node's devices are of the kind, vendor, models and memory the spec asks (count
    aside): the one test of a device against a request, for the match and for placement."""
    return (
        device.kind == spec.kind
        and (spec.vendor is None or normalise_vendor(device.vendor) == spec.vendor)
        and (not spec.models or any(model_matches(m, device.model) for m in spec.models))
        and (not spec.memory.bounded or spec.memory.contains(nominal_memory(device)))
    )


def _accelerator_reason(spec: AcceleratorSpec, node: NodeInfo) -> list[str]:
    if sum(d.count for d in node.accelerators if fits(spec, d)) >= spec.count:
        return []
    wanted = [f"{spec.count} x {spec.kind}", spec.vendor or "", " or ".join(spec.models)]
    if spec.count_max is not None:
        wanted[0] = f"{spec.counts.render()} x {spec.kind}"
    if spec.memory.bounded:
        wanted.append(f"with memory {_needs(spec.memory, _exact_bytes)}")
    shown = []
    for device in (d for d in node.accelerators if d.kind == spec.kind):
        name = device.model
        if device.vendor.lower() not in name.lower():
            name = f"{device.vendor} {name}"
        if spec.memory.bounded:
            size, nominal = device.memory_bytes, nominal_memory(device)
            shown_size = "memory not reported" if size is None else format_bytes(size)
            if nominal is not None:
                shown_size = f"{_exact_bytes(nominal)} card, {shown_size}"
            name += f" ({shown_size})"
        shown.append(f"{device.count} x {name}")
    have = ", ".join(shown) or f"no {spec.kind}"
    return [f"needs {' '.join(part for part in wanted if part)}, node has {have}"]


def _cpu_reasons(cpu: CpuSpec, node: NodeInfo) -> list[str]:
    reasons = []
    # Each check only when the spec asks: a submit matches every node of the inventory.
    arch = None if node.arch is None or cpu.arch is None else normalise_arch(node.arch)
    if cpu.arch is not None and arch != cpu.arch:
        shown = "does not report its arch" if arch is None else f"is {arch}"
        reasons.append(f"needs arch {cpu.arch}, node {shown}")
    vendor = (
        None if node.cpu_vendor is None or cpu.vendor is None else normalise_vendor(node.cpu_vendor)
    )
    if cpu.vendor is not None and vendor != cpu.vendor:
        shown = "does not report its cpu vendor" if vendor is None else f"has {vendor}"
        reasons.append(f"needs cpu vendor {cpu.vendor}, node {shown}")
    model = node.cpu_model
    if cpu.model is not None and (model is None or cpu.model.lower() not in model.lower()):
        shown = "does not report its cpu model" if model is None else f"has {model!r}"
        reasons.append(f"needs a cpu model containing {cpu.model!r}, node {shown}")
    have = {flag.lower() for flag in node.cpu_flags} if cpu.flags else set()
    missing = [flag for flag in cpu.flags if flag not in have]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        tail = "" if have else ", node does not report its cpu flags"
        reasons.append(f"needs cpu flag{plural} {', '.join(missing)}{tail}")
    for what, number, reported in (
        ("cpu family", cpu.family, node.cpu_family),
        ("cpu model number", cpu.model_number, node.cpu_model_number),
    ):
        if number is not None and reported != number:
            shown = f"does not report its {what}" if reported is None else f"has {reported}"
            reasons.append(f"needs {what} {number}, node {shown}")
    if cpu.processor is not None and (model is None or not model_matches(cpu.processor, model)):
        shown = "does not report its cpu model" if model is None else f"has {model!r}"
        reasons.append(f"needs processor {cpu.processor!r}, node {shown}")
    return reasons + _range_reason("cpu cores", cpu.cores, node.cores, _plain, _plain)


def match(spec: HardwareSpec, node: NodeInfo) -> list[str]:
    """Why the node does not fit the spec, one reason per unmet constraint; [] when it fits.
    A spec with alternatives fits when one of them does; else the closest one's reasons."""
    if spec.choices:
        found = [_match(option, node) for option in options(spec)]
        if any(not reasons for reasons in found):
            return []
        closest = min(found, key=len)
        return [*closest[:-1], f"{closest[-1]} (and no other alternative fits)"]
    return _match(spec, node)


def _match(spec: HardwareSpec, node: NodeInfo) -> list[str]:
    reasons = [] if node.online else ["node is offline"]
    if spec.node is not None and spec.node != node.name:
        reasons.append(f"needs node {spec.node}, node is {node.name}")
    reasons += _cpu_reasons(spec.cpu, node)
    reasons += _range_reason("memory", spec.memory, node.memory_bytes, _exact_bytes, format_bytes)
    reasons += _range_reason("disk", spec.disk, node.disk_bytes, _exact_bytes, format_bytes)
    for accelerator in spec.accelerators:
        reasons += _accelerator_reason(accelerator, node)
    labels = dict(node.labels)
    for key, value in spec.labels:
        if labels.get(key) != value:
            shown = f"no label {key}" if key not in labels else f"{key}={labels[key]}"
            reasons.append(f"needs label {key}={value}, node has {shown}")
    missing = [feature for feature in spec.features if feature not in node.features]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        have = ", ".join(sorted(node.features)) or "none"
        reasons.append(f"needs feature{plural} {', '.join(missing)}, node has {have}")
    return reasons


def first_unmet(spec: HardwareSpec, nodes: Iterable[NodeInfo]) -> str | None:
    """None if some node fits; else the reasons of the node closest to fitting, as one sentence."""
    online = [node for node in nodes if node.online]
    if not online:
        return "no online node"
    closest = min((match(spec, node) for node in online), key=len)
    return "; ".join(closest) or None
