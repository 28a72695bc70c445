"""Requests as SkyPilot and dstack users write them, through the API's request schema.

Each input is taken from the peer's own documentation or parser tests (the file is named on
its row) and is checked for what it means in Tessera's one model. Sources, read with the
search tool's read_file:
  SKY = skypilot-org/skypilot docs/source/reference/yaml-spec.rst (commit 0048bbf6)
  SKYT = skypilot-org/skypilot tests/unit_tests/test_resources.py (commit 00d52d7a)
  DST = dstackai/dstack src/tests/_internal/core/models/test_resources.py (commit bf926eb1)
  DSR = dstackai/dstack src/dstack/_internal/core/models/resources.py (commit 0268145a)
  ISSUE = Tessera issue 18 (the dstack forms its users reported: `cpu: x86:16`, `tt:32`,
          `{name: [A6000], memory: 48GB, count: 1}`, `disk: 100GB..`)
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from shared.hardware import (
    AcceleratorSpec,
    CpuSpec,
    HardwareSpec,
    NodeAccelerator,
    Range,
    fits,
    parse_spec,
)
from shared.hardware.models import nominal_memory
from shared.schemas import Requests
from shared.specs import InspectionSpec

GB, GiB, MiB = 10**9, 2**30, 2**20
INF = math.inf
ANY = Range()


def gpu(*models: str, vendor: str | None = None, memory: Range = ANY, count: int = 1,
        upto: float | None = None) -> AcceleratorSpec:  # fmt: skip
    return AcceleratorSpec("gpu", vendor, tuple(models), memory, count, upto)


def through_schema(hardware: Any) -> HardwareSpec:
    """The spec as the API takes it: an inspection's run.requests.hardware."""
    spec = InspectionSpec.model_validate(
        {"base": "host", "script": "#!/bin/sh\n", "run": {"requests": {"hardware": hardware}}}
    )
    return spec.run_requests().spec()


# (source, hardware as written, the spec it means)
ACCEPTED: list[tuple[str, Any, HardwareSpec]] = [
    # SkyPilot accelerators
    ("SKY", {"gpu": "H100:8"}, HardwareSpec(accelerators=(gpu("H100", count=8),))),
    ("SKY", {"gpu": "V100:8"}, HardwareSpec(accelerators=(gpu("V100", count=8),))),
    ("SKYT", {"gpu": "A100:8"}, HardwareSpec(accelerators=(gpu("A100", count=8),))),
    ("SKYT", {"gpu": "A10"}, HardwareSpec(accelerators=(gpu("A10"),))),
    ("SKYT", {"gpu": {"A10": 1}}, HardwareSpec(accelerators=(gpu("A10"),))),
    ("SKYT", {"gpu": {"A100": 8}}, HardwareSpec(accelerators=(gpu("A100", count=8),))),
    ("SKYT", {"accelerators": "V100:1"}, HardwareSpec(accelerators=(gpu("V100"),))),
    ("SKYT", {"accelerators": {"A10": 8}}, HardwareSpec(accelerators=(gpu("A10", count=8),))),
    ("SKY", {"gpu": {"A100": 1, "V100": 1}}, HardwareSpec(choices=(gpu("A100"), gpu("V100")))),
    ("SKY", {"gpu": "{A100:1, V100:1}"}, HardwareSpec(choices=(gpu("A100"), gpu("V100")))),
    (
        "SKY",
        {"gpu": {"L4:1": None, "H100:1": None, "A100:1": None}},
        HardwareSpec(choices=(gpu("L4"), gpu("H100"), gpu("A100"))),
    ),
    (
        "SKY",
        {"gpu": ["A100:1", "V100:1"]},
        HardwareSpec(choices=(gpu("A100"), gpu("V100")), ordered=True),
    ),
    (
        "SKY",
        {"gpu": "[L4:1, H100:1, A100:1]"},
        HardwareSpec(choices=(gpu("L4"), gpu("H100"), gpu("A100")), ordered=True),
    ),
    ("SKY", "[A100:1, V100:1]", HardwareSpec(choices=(gpu("A100"), gpu("V100")), ordered=True)),
    ("SKY", {"gpu": "A100-80GB:8"}, HardwareSpec(accelerators=(gpu("A100-80GB", count=8),))),
    ("SKY", {"gpu": "40GB+"}, HardwareSpec(accelerators=(gpu(memory=Range(40 * GB)),))),
    ("SKY", {"gpu": "16GB+:2"}, HardwareSpec(accelerators=(gpu(memory=Range(16 * GB), count=2),))),
    # SkyPilot cpus, memory, disk_size (GB there is 2^30 bytes, the default unit)
    ("SKY", {"cpus": "4+"}, HardwareSpec(cpu=CpuSpec(cores=Range(4)))),
    ("SKY", {"cpus": 16}, HardwareSpec(cpu=CpuSpec(cores=Range(16)))),
    (
        "SKYT",
        {"cpus": 8, "memory": 16},
        HardwareSpec(cpu=CpuSpec(cores=Range(8)), memory=Range(16 * GiB)),
    ),  # fmt: skip
    ("SKY", {"memory": "32+"}, HardwareSpec(memory=Range(32 * GiB))),
    ("SKY", {"memory": "64GB"}, HardwareSpec(memory=Range(64 * GB))),
    ("SKY", {"disk_size": 256}, HardwareSpec(disk=Range(256 * GiB))),
    ("SKY", {"disk_size": "256GB"}, HardwareSpec(disk=Range(256 * GB))),
    # dstack gpu: vendor, name(s), memory, count in any order
    ("DST", {"gpu": "1"}, HardwareSpec(accelerators=(gpu(),))),
    ("DST", {"gpu": "A100"}, HardwareSpec(accelerators=(gpu("A100"),))),
    ("DST", {"gpu": "Nvidia"}, HardwareSpec(accelerators=(gpu(vendor="nvidia"),))),
    ("DST", {"gpu": "MI300X:AMD"}, HardwareSpec(accelerators=(gpu("MI300X", vendor="amd"),))),
    ("DST", {"gpu": "16GB"}, HardwareSpec(accelerators=(gpu(memory=Range(16 * GB, 16 * GB)),))),
    ("DST", {"gpu": "A10,A10G:2"}, HardwareSpec(accelerators=(gpu("A10", "A10G", count=2),))),
    ("DST", {"gpu": "16GB..32"}, HardwareSpec(accelerators=(gpu(memory=Range(16 * GB, 32 * GB)),))),
    ("DST", {"gpu": {"count": 1}}, HardwareSpec(accelerators=(gpu(),))),
    ("DST", {"gpu": {"name": ["A100"]}}, HardwareSpec(accelerators=(gpu("A100"),))),
    (
        "DST",
        {"gpu": {"memory": {"min": 16, "max": 32}}},
        HardwareSpec(accelerators=(gpu(memory=Range(16 * GB, 32 * GB)),)),
    ),
    ("DST", {"gpu": {"vendor": "amd"}}, HardwareSpec(accelerators=(gpu(vendor="amd"),))),
    (
        "DSR",
        {"gpu": "80GB:2"},
        HardwareSpec(accelerators=(gpu(memory=Range(80 * GB, 80 * GB), count=2),)),
    ),  # fmt: skip
    ("ISSUE", {"gpu": "A10:4..8"}, HardwareSpec(accelerators=(gpu("A10", count=4, upto=8),))),
    (
        "ISSUE",
        {"gpu": "nvidia:1..8"},
        HardwareSpec(accelerators=(gpu(vendor="nvidia", count=1, upto=8),)),
    ),
    ("ISSUE", {"gpu": "A100:1..2"}, HardwareSpec(accelerators=(gpu("A100", count=1, upto=2),))),
    ("ISSUE", {"gpu": "H100:2.."}, HardwareSpec(accelerators=(gpu("H100", count=2, upto=INF),))),
    (
        "ISSUE",
        {"gpu": "40GB..80GB:4"},
        HardwareSpec(accelerators=(gpu(memory=Range(40 * GB, 80 * GB), count=4),)),
    ),
    (
        "ISSUE",
        {"gpu": "A100:80GB"},
        HardwareSpec(accelerators=(gpu("A100", memory=Range(80 * GB, 80 * GB)),)),
    ),
    (
        "ISSUE",
        {"gpu": {"name": ["A6000"], "memory": "48GB", "count": 1}},
        HardwareSpec(accelerators=(gpu("A6000", memory=Range(48 * GB, 48 * GB)),)),
    ),
    (
        "DST",
        {"gpu": {"name": "A100", "count": {"min": 1, "max": 2}}},
        HardwareSpec(accelerators=(gpu("A100", count=1, upto=2),)),
    ),
    # dstack cpu, memory, disk (its GB is 2^30 bytes too; a bare number is GB)
    ("DST", {"cpu": 1}, HardwareSpec(cpu=CpuSpec(cores=Range(1)))),
    ("DST", {"cpu": "1..2"}, HardwareSpec(cpu=CpuSpec(cores=Range(1, 2)))),
    ("DST", {"cpu": "X86"}, HardwareSpec(cpu=CpuSpec(arch="x86_64"))),
    ("DST", {"cpu": "x86:2"}, HardwareSpec(cpu=CpuSpec(arch="x86_64", cores=Range(2)))),
    ("ISSUE", {"cpu": "x86:16"}, HardwareSpec(cpu=CpuSpec(arch="x86_64", cores=Range(16)))),
    ("DST", {"cpu": "2..:ARM"}, HardwareSpec(cpu=CpuSpec(arch="aarch64", cores=Range(2)))),
    ("DST", {"cpu": {"min": 1, "max": 2}}, HardwareSpec(cpu=CpuSpec(cores=Range(1, 2)))),
    (
        "DST",
        {"cpu": {"arch": "ARM", "count": {"min": 1, "max": 2}}},
        HardwareSpec(cpu=CpuSpec(arch="aarch64", cores=Range(1, 2))),
    ),
    ("DST", {"memory": "512MB.."}, HardwareSpec(memory=Range(512 * 10**6))),
    ("DST", {"memory": "..1 TB"}, HardwareSpec(memory=Range(None, 10**12))),
    ("DST", {"memory": "512..1 TB"}, HardwareSpec(memory=Range(512 * GiB, 10**12))),
    (
        "DST",
        {"memory": {"min": "512MB", "max": "1TB"}},
        HardwareSpec(memory=Range(512 * 10**6, 10**12)),
    ),
    ("ISSUE", {"disk": "100GB.."}, HardwareSpec(disk=Range(100 * GB))),
    ("DSR", {"disk": {"size": "100GB.."}}, HardwareSpec(disk=Range(100 * GB))),
]


@pytest.mark.parametrize(("source", "written", "meaning"), ACCEPTED,
                         ids=[f"{s}:{w!r}"[:60] for s, w, _ in ACCEPTED])  # fmt: skip
def test_peer_form_means_what_it_meant(source: str, written: Any, meaning: HardwareSpec) -> None:
    assert source
    assert through_schema(written) == meaning
    # and the stored canonical form reads back as the same spec
    stored = Requests.model_validate({"hardware": written}).hardware
    assert parse_spec(stored) == meaning


def test_at_least_forty_inputs() -> None:
    assert len(ACCEPTED) >= 40


# (source, hardware as written, what the error must say)
REFUSED: list[tuple[str, Any, str]] = [
    ("SKY", {"gpu": "tpu-v3-8"}, "'tpu-v3-8' asks for Google TPUs"),
    ("DST", {"gpu": "tpu:v5p-1024"}, "asks for Google TPUs"),
    ("DST", {"gpu": "google:v3-64"}, "asks for Google TPUs"),
    ("DST", {"gpu": "v5litepod-64:TPU"}, "asks for Google TPUs"),
    ("DST", {"gpu": "tpu-v3-2048"}, "asks for Google TPUs"),
    ("ISSUE", {"gpu": "tt:32"}, "'tt:32' asks for Tenstorrent accelerators"),
    ("SKY", {"gpu": "A100:0.5"}, "'A100:0.5' is a fraction of a GPU"),
    ("DST", {"gpu": "A100,:2"}, "'A100,' is not a vendor, model"),
    ("DST", {"gpu": "A100:"}, "an empty part in 'A100:'"),
    ("DST", {"gpu": "A100:2:3"}, "two counts in 'A100:2:3'"),
    ("DST", {"gpu": "Nvidia:A100:2:AMD"}, "two vendors"),
    ("DST", {"cpu": "arm:"}, "an empty part in 'arm:'"),
    ("DST", {"cpu": "2:foo"}, "unknown arch 'foo'"),
    ("DST", {"cpu": "arm:x86"}, "two architectures"),
    ("DST", {"cpu": "2:arm:2"}, "two core counts"),
    ("SKY", {"accelerators": ["A100:1", "V100:1"]}, "write gpu: [...] (in order)"),
]


@pytest.mark.parametrize(("source", "written", "said"), REFUSED,
                         ids=[f"{s}:{w!r}"[:60] for s, w, _ in REFUSED])  # fmt: skip
def test_refused_with_the_field_and_the_input(source: str, written: Any, said: str) -> None:
    assert source
    with pytest.raises(ValidationError) as caught:
        through_schema(written)
    message = str(caught.value)
    assert said in message
    assert "run.requests.hardware" in message or "hardware" in message
    field = next(iter(written))
    assert f"{field}" in message


def test_no_gpu_model_named_40gb_plus() -> None:
    (accelerator,) = through_schema({"gpu": "40GB+"}).accelerators
    assert accelerator.models == () and accelerator.memory == Range(40 * GB)


# Captured memory figures of real cards, as nvidia-smi (memory.total, MiB) and rocm-smi
# (VRAM Total Memory, bytes) print them. Where each came from:
#   H200 143771 MiB: nvidia-smi tables in public repositories (search tool find_string
#     "143771MiB", e.g. id 7120582781); A10G 23028 MiB: same (find_string "23028MiB",
#     id 21021056340, an AWS g5 instance); MI300X 205822885888 B: rocm-smi --showmeminfo vram
#     captures (find_string "205822885888", id 70352164058);
#   H100 80GB HBM3 81559 MiB: Tessera's own fixture tests/unit/shared/hardware/examples.py
#     (85520809984 bytes) and issue 18;
#   T4 15360 MiB, L4 23034 MiB, L40S 46068 MiB, A100 40GB 40960 MiB, A100 80GB 81920 MiB:
#     the figures nvidia-smi prints for those cards as commonly published; not re-checked
#     against a capture in this session.
CARDS = [
    ("Tesla T4", 15360 * MiB, 16),
    ("NVIDIA A10G", 23028 * MiB, 24),
    ("NVIDIA L4", 23034 * MiB, 24),
    ("NVIDIA L40S", 46068 * MiB, 48),
    ("NVIDIA A100-SXM4-40GB", 40960 * MiB, 40),
    ("NVIDIA A100-SXM4-80GB", 81920 * MiB, 80),
    ("NVIDIA H100 80GB HBM3", 81559 * MiB, 80),
    ("NVIDIA H200", 143771 * MiB, 141),
    ("AMD Instinct MI300X", 205822885888, 192),
]


@pytest.mark.parametrize(("model", "reported", "nominal"), CARDS)
def test_a_cards_nominal_size(model: str, reported: int, nominal: int) -> None:
    vendor = "amd" if "AMD" in model else "nvidia"
    named = NodeAccelerator("gpu", vendor, model, reported, 8)
    anonymous = NodeAccelerator("gpu", vendor, "unknown", reported, 8)
    assert nominal_memory(named) == nominal * GB
    assert nominal_memory(anonymous) == nominal * GB, "from the reported size alone too"
    for written in (f"{nominal}GB", f"{nominal}GiB", f"{nominal}G", f"{nominal}GB+",
                    f"{nominal}GB..", f"..{nominal}GB", f"{nominal}GB..{nominal}GB"):  # fmt: skip
        (accelerator,) = through_schema({"gpu": f"{written}:1"}).accelerators
        assert fits(accelerator, named), f"{written} drops the {model}"
        assert fits(accelerator, anonymous), f"{written} drops the {model} (by size)"


def test_80gb_names_the_80gb_cards_only() -> None:
    (exact,) = through_schema({"gpu": "A100:80GB"}).accelerators
    (between,) = through_schema({"gpu": "40GB..80GB:4"}).accelerators
    for model, reported, nominal in CARDS:
        device = NodeAccelerator("gpu", "nvidia", model, reported, 8)
        assert fits(replace_models(exact), device) == (nominal == 80), model
        assert fits(between, device) == (40 <= nominal <= 80), model


def replace_models(spec: AcceleratorSpec) -> AcceleratorSpec:
    return AcceleratorSpec(spec.kind, spec.vendor, (), spec.memory, spec.count)
