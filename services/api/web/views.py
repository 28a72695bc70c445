"""Pure functions from rows and documents to what the templates show: no I/O here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

# Variables naming a batch scheduler's job and node, first found wins (shared/hwinfo.py
# keeps them in hwinfo.scheduler.variables).
JOB_VARIABLES = ("SLURM_JOB_ID", "SLURM_JOBID", "PBS_JOBID", "LSB_JOBID", "JOB_ID", "FLUX_JOB_ID")
NODE_VARIABLES = ("SLURMD_NODENAME", "SLURM_NODELIST", "PBS_NODEFILE", "LSB_HOSTS")
USAGE_LABELS = {
    "ru_utime": "user CPU time",
    "ru_stime": "system CPU time",
    "ru_maxrss": "peak resident memory",
    "ru_minflt": "minor page faults",
    "ru_majflt": "major page faults",
    "ru_inblock": "blocks read",
    "ru_oublock": "blocks written",
    "ru_nvcsw": "voluntary context switches",
    "ru_nivcsw": "involuntary context switches",
}


def size(value: Any) -> str:
    """Bytes for people: 1.5 GiB, 512 KiB, 17 B."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "" if value is None else str(value)
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(amount) < 1024 or unit == "TiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return str(value)  # unreachable: TiB ends the loop


def when(value: datetime | str | None) -> str:
    """A moment in UTC to the second: 2026-12-02 09:41:26Z."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def as_yaml(document: Any) -> str:
    """A specification as YAML, in its own key order; long scripts as literal blocks."""

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    dumped: str = yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True)
    return dumped


def in_field_order(document: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """A stored specification with its keys in the model's order (JSONB keeps its own)."""
    known = {name: document[name] for name in fields if name in document}
    return known | {name: value for name, value in document.items() if name not in known}


def pretty_json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def stdout_text(stdout: Any) -> str:
    """stdout as stored: parsed JSON shown as JSON again, text as it was."""
    if stdout is None:
        return ""
    if isinstance(stdout, str):
        return stdout
    return pretty_json(stdout)


@dataclass(frozen=True)
class Table:
    """A titled two-column table (label, value) or, with `columns`, a table of rows."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    records: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class Hwinfo:
    tables: list[Table]
    flags: list[str]
    errors: list[str]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rows(pairs: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(label, _text(value)) for label, value in pairs if value not in (None, "", [], {})]


def hwinfo_view(hwinfo: dict[str, Any] | None) -> Hwinfo:
    """The probe's document (shared/hwinfo.py) as tables: CPU, memory, GPUs, system,
    scheduler. Keys it does not know are in the raw JSON download."""
    info = _dict(hwinfo)
    cpu, memory = _dict(info.get("cpu")), _dict(info.get("memory"))
    kernel, os_release = _dict(info.get("kernel")), _dict(info.get("os_release"))
    container, python = _dict(info.get("container")), _dict(info.get("python"))
    scheduler = _dict(info.get("scheduler"))
    variables = {str(k): str(v) for k, v in _dict(scheduler.get("variables")).items()}
    tables = [
        Table(
            "CPU",
            _rows(
                [
                    ("model", cpu.get("model_name")),
                    ("vendor", cpu.get("vendor")),
                    ("architecture", cpu.get("arch")),
                    ("sockets", cpu.get("sockets")),
                    ("cores", cpu.get("cores")),
                    ("threads", cpu.get("threads")),
                    ("usable threads", cpu.get("usable_threads")),
                    ("family / model / stepping", _cpu_ids(cpu)),
                ]
            ),
        ),
        Table(
            "Memory",
            _rows(
                [
                    ("total", size(memory.get("total_bytes"))),
                    ("available", size(memory.get("available_bytes"))),
                ]
            ),
        ),
    ]
    gpus = [_dict(gpu) for gpu in info.get("gpus") or []]
    if gpus:
        tables.append(
            Table(
                "GPUs",
                columns=["#", "vendor", "model", "memory", "driver", "UUID", "PCI bus", "compute"],
                records=[
                    [
                        _text(gpu.get("index")),
                        _text(gpu.get("vendor")),
                        _text(gpu.get("model")),
                        size(gpu.get("memory_bytes")),
                        _text(gpu.get("driver_version")),
                        _text(gpu.get("uuid")),
                        _text(gpu.get("pci_bus_id")),
                        _text(gpu.get("compute_capability")),
                    ]
                    for gpu in gpus
                ],
            )
        )
    others = [_dict(a) for a in info.get("accelerators") or []]
    if others:
        tables.append(
            Table(
                "Other accelerators",
                columns=["kind", "vendor", "device", "PCI bus"],
                records=[
                    [
                        _text(a.get("kind")),
                        _text(a.get("vendor")),
                        _text(a.get("device")),
                        _text(a.get("pci_bus_id")),
                    ]
                    for a in others
                ],
            )
        )
    tables.append(
        Table(
            "System",
            _rows(
                [
                    ("hostname", info.get("hostname")),
                    ("OS", os_release.get("pretty_name") or os_release.get("name")),
                    ("kernel", _joined(kernel, "system", "release")),
                    ("kernel build", kernel.get("version")),
                    ("container", _container(container)),
                    ("Python", _joined(python, "implementation", "version")),
                    ("runtimes", ", ".join(str(r) for r in info.get("runtimes") or [])),
                    ("collected", when(info.get("collected_at"))),
                ]
            ),
        )
    )
    job = next((variables[name] for name in JOB_VARIABLES if name in variables), None)
    node = next((variables[name] for name in NODE_VARIABLES if name in variables), None)
    tables.append(
        Table(
            "Scheduler",
            _rows(
                [
                    ("scheduler", scheduler.get("kind") or "none"),
                    ("job", job),
                    ("node", node),
                    *sorted(variables.items()),
                ]
            ),
        )
    )
    flags = sorted(str(flag) for flag in cpu.get("flags") or [])
    errors = [str(error) for error in info.get("errors") or []]
    return Hwinfo([t for t in tables if t.rows or t.records], flags, errors)


def _joined(document: dict[str, Any], *keys: str) -> str:
    return " ".join(str(document[k]) for k in keys if document.get(k))


def _cpu_ids(cpu: dict[str, Any]) -> str | None:
    ids = [cpu.get(k) for k in ("family", "model", "stepping")]
    return None if all(i is None for i in ids) else " / ".join(_text(i) for i in ids)


def _container(container: dict[str, Any]) -> str | None:
    if not container:
        return None
    if not container.get("in_container"):
        return "no"
    return str(container.get("runtime") or "yes")


def usage_rows(usage: dict[str, Any] | None) -> list[tuple[str, str]]:
    """rusage as label and value: seconds, memory (ru_maxrss is KiB on Linux), counts."""
    rows = []
    for name, value in _dict(usage).items():
        label = USAGE_LABELS.get(name, name)
        if name in ("ru_utime", "ru_stime") and isinstance(value, int | float):
            shown = f"{value:.3f} s"
        elif name == "ru_maxrss" and isinstance(value, int | float):
            shown = size(value * 1024)
        else:
            shown = _text(value)
        rows.append((label, shown))
    return rows


def result_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The result's summary: exit code (0 shown), how it ended, when, where."""
    exit_code = result.get("exit_code")
    rows = [("exit code", "" if exit_code is None else str(exit_code))]
    rows += _rows(
        [
            ("signal", result.get("signal")),
            ("timed out", True if result.get("timed_out") else None),
            ("cancelled", True if result.get("cancelled") else None),
            ("error", result.get("error")),
            ("started", when(result.get("start_datetime"))),
            ("ended", when(result.get("end_datetime"))),
            ("hostname", result.get("hostname")),
            ("script sha256", result.get("script_sha256")),
        ]
    )
    return rows


@dataclass(frozen=True)
class Bar:
    """One GPU model's devices: busy, free and unavailable (offline nodes), as an SVG bar
    (widths are attributes, not styles: the page's CSP allows no inline style)."""

    model: str
    total: int
    busy: int
    free: int

    @property
    def unavailable(self) -> int:
        return self.total - self.busy - self.free

    def width(self, part: int) -> float:
        return round(100 * part / self.total, 2) if self.total else 0.0


def gpu_bars(entries: list[tuple[str, int, int | None, bool]]) -> list[Bar]:
    """(model, count, free, usable) per accelerator entry of every node -> a bar per model."""
    totals: dict[str, list[int]] = {}
    for model, count, free, usable in entries:
        total = totals.setdefault(model, [0, 0, 0])
        total[0] += count
        if usable:
            left = count if free is None else max(0, min(count, free))
            total[1] += count - left
            total[2] += left
    return [Bar(model, *numbers) for model, numbers in sorted(totals.items())]


def log_tail(data: bytes, limit: int) -> tuple[str, bool]:
    """The last `limit` bytes of a log as text, from a line start when cut; and whether cut."""
    if len(data) <= limit:
        return data.decode(errors="replace"), False
    tail = data[-limit:]
    newline = tail.find(b"\n")
    if 0 <= newline < 4096:
        tail = tail[newline + 1 :]
    return tail.decode(errors="replace"), True
