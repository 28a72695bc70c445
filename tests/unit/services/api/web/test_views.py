"""The pure views: hwinfo as tables, GPU bars, log tails, sizes, the spec as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from services.api.web import views
from shared import hwinfo

FIXTURES = Path(__file__).resolve().parents[5] / "tests" / "fixtures" / "hwinfo"


def full_hwinfo() -> dict[str, Any]:
    """This machine's probe, with the GPUs of a captured H100 node and a SLURM job."""
    document = hwinfo.collect()
    csv = (FIXTURES / "nvidia_smi_query_gpu_h100_80gb_hbm3_590.48.01.csv").read_text()
    document["gpus"] = hwinfo.parse_nvidia_smi_csv(csv)
    document["scheduler"] = {
        "kind": "slurm",
        "variables": {"SLURM_JOB_ID": "4242", "SLURMD_NODENAME": "gpu-07"},
    }
    return document


def test_hwinfo_tables_name_cpu_gpus_system_and_scheduler() -> None:
    document = full_hwinfo()
    view = views.hwinfo_view(document)
    tables = {table.title: table for table in view.tables}
    assert set(tables) >= {"CPU", "Memory", "GPUs", "System", "Scheduler"}
    cpu = dict(tables["CPU"].rows)
    assert cpu["model"] == document["cpu"]["model_name"]
    assert view.flags == sorted(document["cpu"]["flags"])
    gpus = tables["GPUs"]
    assert gpus.columns[:6] == ["#", "vendor", "model", "memory", "driver", "UUID"]
    first = document["gpus"][0]
    assert gpus.records[0][2] == first["model"] and gpus.records[0][5] == first["uuid"]
    assert gpus.records[0][4] == first["driver_version"]
    assert gpus.records[0][3].endswith("GiB")
    scheduler = dict(tables["Scheduler"].rows)
    assert scheduler["scheduler"] == "slurm"
    assert scheduler["job"] == "4242" and scheduler["node"] == "gpu-07"
    system = dict(tables["System"].rows)
    assert system["OS"] == document["os_release"]["pretty_name"]


def test_hwinfo_of_nothing_is_empty_not_an_error() -> None:
    view = views.hwinfo_view(None)
    assert [t.title for t in view.tables] == ["Scheduler"] and view.flags == []
    assert views.hwinfo_view({"cpu": "not a mapping", "gpus": [None]}).tables


def test_gpu_bars_count_busy_free_and_unavailable() -> None:
    bars = views.gpu_bars(
        [("H100", 8, 5, True), ("H100", 4, None, True), ("A100", 4, 0, False), ("H100", 2, 9, True)]
    )
    a100, h100 = bars
    assert (a100.model, a100.total, a100.busy, a100.free, a100.unavailable) == ("A100", 4, 0, 0, 4)
    assert (h100.total, h100.busy, h100.free) == (14, 3, 11)
    assert h100.width(h100.busy) == round(300 / 14, 2)
    assert views.Bar("x", 0, 0, 0).width(0) == 0.0


def test_log_tail_starts_at_a_line_when_cut() -> None:
    assert views.log_tail(b"a\nb\n", 10) == ("a\nb\n", False)
    data = b"".join(f"line {i}\n".encode() for i in range(1000))
    tail, cut = views.log_tail(data, 100)
    assert cut and tail.startswith("line ") and tail.endswith("line 999\n")
    assert views.log_tail("é".encode() * 10, 5)[0].count("\ufffd") <= 1


def test_sizes_times_and_usage() -> None:
    assert views.size(17) == "17 B" and views.size(1536) == "1.5 KiB"
    assert views.size(80 * 1024**3) == "80.0 GiB" and views.size(None) == ""
    assert views.when("2026-12-02T09:41:26Z") == "2026-12-02 09:41:26Z"
    assert views.when("not a time") == "not a time" and views.when(None) == ""
    rows = dict(views.usage_rows({"ru_utime": 1.5, "ru_maxrss": 2048, "ru_nvcsw": 3}))
    assert rows == {
        "user CPU time": "1.500 s",
        "peak resident memory": "2.0 MiB",
        "voluntary context switches": "3",
    }
    assert ("exit code", "0") in views.result_rows({"exit_code": 0})


def test_specification_as_yaml_keeps_scripts_readable() -> None:
    spec = {"script": "#!/bin/sh\necho hi\n", "base": "host", "batch_size": 2}
    ordered = views.in_field_order(spec, ["base", "script", "batch_size"])
    assert list(ordered) == ["base", "script", "batch_size"]
    text = views.as_yaml(ordered)
    assert "script: |" in text and yaml.safe_load(text) == spec
    assert views.stdout_text({"a": 1}) == '{\n  "a": 1\n}' and views.stdout_text(None) == ""
