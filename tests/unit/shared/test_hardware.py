from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.hardware import (
    AcceleratorSpec,
    CpuSpec,
    HardwareSpec,
    NodeAccelerator,
    NodeInfo,
    Range,
    SpecError,
    first_unmet,
    format_bytes,
    match,
    model_matches,
    node_from_hwinfo,
    parse_accelerator,
    parse_cpu_quantity,
    parse_memory,
    parse_memory_range,
    parse_spec,
    to_dict,
    with_requests,
)

GB, GiB = 10**9, 2**30


def gpu(**kwargs: Any) -> AcceleratorSpec:
    return AcceleratorSpec(kind="gpu", **kwargs)


# ---- memory and cpu quantities ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1Gi", 2**30),
        ("1GiB", 2**30),
        ("1gib", 2**30),
        ("1GB", 10**9),
        ("1gb", 10**9),
        ("1G", 10**9),
        ("1K", 1000),
        ("1k", 1000),
        ("1KB", 1000),
        ("1KiB", 1024),
        ("1Ki", 1024),
        ("512MB", 512 * 10**6),
        ("512Mi", 512 * 2**20),
        ("16GiB", 16 * GiB),
        ("2TB", 2 * 10**12),
        ("2TiB", 2 * 2**40),
        ("1PB", 10**15),
        ("1.5GB", 1_500_000_000),
        ("1.1GB", 1_100_000_000),
        ("0.5Gi", 2**29),
        (".5KiB", 512),
        ("  16 GiB ", 16 * GiB),
        ("100B", 100),
    ],
)
def test_parse_memory(text: str, expected: int) -> None:
    assert parse_memory(text) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (16, "memory needs a unit, e.g. 16GiB or 512MB"),
        (16.5, "memory needs a unit"),
        ("16", "memory needs a unit"),
        ("0GB", "positive"),
        ("-1GB", "positive"),
        ("16XB", "unknown unit 'XB'"),
        ("16m", "unknown unit 'm'"),  # Kubernetes milli, never mega
        ("16gi", "unknown unit 'gi'"),
        ("GB", "not a memory size"),
        ("", "not a memory size"),
        ("1" * 40 + "GB", "too large"),
        (True, "must be a size with a unit"),
        (None, "must be a size with a unit"),
        (["16GiB"], "must be a size with a unit"),
    ],
)
def test_parse_memory_errors(value: object, fragment: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_memory(value, "run.memory")
    assert caught.value.path == "run.memory"
    assert fragment in caught.value.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16GiB", Range(16 * GiB, None)),
        ("16GiB..", Range(16 * GiB, None)),
        ("..80GB", Range(None, 80 * GB)),
        ("8GB..64GB", Range(8 * GB, 64 * GB)),
        ("8GB .. 64GB", Range(8 * GB, 64 * GB)),
        ("1GiB..1GiB", Range(GiB, GiB)),
        ("1.5GB..2GB", Range(1_500_000_000, 2 * GB)),
    ],
)
def test_parse_memory_range(text: str, expected: Range) -> None:
    assert parse_memory_range(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("..", "empty range"),
        ("64GB..8GB", "minimum above its maximum"),
        ("1GB..2GB..3GB", "more than one '..'"),
        ("8..64GB", "memory needs a unit"),
        (8, "memory needs a unit"),
    ],
)
def test_parse_memory_range_errors(text: object, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        parse_memory_range(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2, 2.0), (0.5, 0.5), ("2", 2.0), ("0.5", 0.5), ("500m", 0.5), ("1500m", 1.5), (" 3 ", 3.0)],
)
def test_parse_cpu_quantity(value: object, expected: float) -> None:
    assert parse_cpu_quantity(value) == expected


@pytest.mark.parametrize(
    "value", [0, -1, "0", "0m", "-2", "two", "2x", "", True, None, [2], float("inf"), float("nan")]
)
def test_parse_cpu_quantity_errors(value: object) -> None:
    with pytest.raises(SpecError) as caught:
        parse_cpu_quantity(value, "requests.cpu")
    assert caught.value.path == "requests.cpu"
    assert "e.g. 2, 0.5 or '500m'" in caught.value.reason


# ---- shorthand --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("H100:2", gpu(models=("H100",), count=2)),
        ("H100", gpu(models=("H100",))),
        ("h100", gpu(models=("H100",))),
        ("nvidia:40GB..:1", gpu(vendor="nvidia", memory=Range(40 * GB, None))),
        ("A100-80GB:8", gpu(models=("A100-80GB",), count=8)),
        ("24GB..80GB:2", gpu(memory=Range(24 * GB, 80 * GB), count=2)),
        ("amd:MI300X", gpu(vendor="amd", models=("MI300X",))),
        ("AMD:mi300x", gpu(vendor="amd", models=("MI300X",))),
        ("nvidia:H100,A100:2", gpu(vendor="nvidia", models=("H100", "A100"), count=2)),
        ("nvidia:H100,A100,H100:2", gpu(vendor="nvidia", models=("H100", "A100"), count=2)),
        ("2", gpu(count=2)),
        ("nvidia", gpu(vendor="nvidia")),
        ("40GB", gpu(memory=Range(40 * GB, None))),
        ("..80GB:4", gpu(memory=Range(None, 80 * GB), count=4)),
        ("H100:nvidia", gpu(vendor="nvidia", models=("H100",))),
        ("gpu:H100:1", gpu(models=("H100",))),
        (" nvidia : H100 : 2 ", gpu(vendor="nvidia", models=("H100",), count=2)),
        ("nvidia:1g.10gb", gpu(vendor="nvidia", models=("1G.10GB",))),
        ("intel:Max-1550:4", gpu(vendor="intel", models=("MAX-1550",), count=4)),
        ("amazon:1", gpu(vendor="aws")),
    ],
)
def test_gpu_shorthand(text: str, expected: AcceleratorSpec) -> None:
    assert parse_accelerator(text) == expected
    assert parse_spec(text) == parse_spec({"gpu": text}) == HardwareSpec(accelerators=(expected,))


def test_gpu_count_and_mapping_forms() -> None:
    assert parse_spec({"gpu": 2}).accelerators == (gpu(count=2),)
    mapping = {"vendor": "NVIDIA", "model": "H100", "memory": "40GB..", "count": 2}
    expected = gpu(vendor="nvidia", models=("H100",), memory=Range(40 * GB, None), count=2)
    assert parse_spec({"gpu": mapping}).accelerators == (expected,)
    listed = parse_spec({"gpu": {"model": ["H100", "a100"]}})
    assert listed.accelerators == (gpu(models=("H100", "A100")),)
    assert parse_spec({"gpu": {"kind": "gpu"}}).accelerators == (gpu(),)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("H100::2", "an empty part in 'H100::2'"),
        (":H100", "an empty part"),
        ("H100:", "an empty part"),
        ("", "an empty accelerator spec"),
        ("H100:2:4", "two counts in 'H100:2:4'"),
        ("2:H100", "the count 2 must come last"),
        ("H100:0", "at least 1, got 0"),
        ("H100:-1", "at least 1, got -1"),
        ("0", "at least 1"),
        ("40GB:80GB", "two memory sizes"),
        ("nvidia:amd", "two vendors"),
        ("H100:A100", "two model lists"),
        ("gpu:gpu:H100", "two kinds"),
        ("40XB:1", "unknown unit 'XB'"),
        ("H100:2 gpus", "'2 gpus' is not a vendor, model, memory size or count"),
        ("H100:2x", "unknown unit 'x'"),
        ("H100!", "is not a vendor, model, memory size or count"),
        ("H100,,A100", "is not a vendor, model"),
        ("80GB..24GB", "minimum above its maximum"),
        ("..", "empty range"),
        ("H100:" + "9" * 12, "too large"),
        ("fpga:xilinx:1", "this field is for gpus only"),
    ],
)
def test_gpu_shorthand_errors(text: str, fragment: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({"gpu": text})
    assert caught.value.path == "gpu"
    assert fragment in caught.value.reason
    assert "e.g." in caught.value.reason or "use KB" in caught.value.reason


def test_digit_only_model_hint() -> None:
    with pytest.raises(SpecError, match="only digits needs its family, e.g. 'RTX-4090:2'"):
        parse_spec("nvidia:4090:2")


def test_error_reasons_show_a_valid_form() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("H100::2")
    assert "'nvidia:40GB..:1'" in caught.value.reason
    assert str(caught.value) == f"gpu: {caught.value.reason}"


def test_spec_error_pickles() -> None:
    error = pickle.loads(pickle.dumps(SpecError("gpu", "bad")))
    assert (error.path, error.reason, str(error)) == ("gpu", "bad", "gpu: bad")
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("fpga:xilinx:1", AcceleratorSpec("fpga", "xilinx")),
        ("fpga:xilinx:U250:2", AcceleratorSpec("fpga", "xilinx", ("U250",), count=2)),
        ("xilinx:U250", AcceleratorSpec("fpga", "xilinx", ("U250",))),  # kind from the vendor
        ("gpu:H100:1", gpu(models=("H100",))),
        ("nvidia:H100", gpu(vendor="nvidia", models=("H100",))),
        (
            "accelerator:habana:Gaudi2:8",
            AcceleratorSpec("accelerator", "habana", ("GAUDI2",), count=8),
        ),
        ("habana:8", AcceleratorSpec("accelerator", "habana", count=8)),
        ("google:tpu-v5e:4", AcceleratorSpec("accelerator", "google", ("TPU-V5E",), count=4)),
        (
            {"kind": "fpga", "vendor": "Xilinx", "model": "U250", "count": 1},
            AcceleratorSpec("fpga", "xilinx", ("U250",)),
        ),
        ({"kind": "FPGA", "memory": "64GiB.."}, AcceleratorSpec("fpga", memory=Range(64 * GiB))),
        ({"vendor": "altera"}, AcceleratorSpec("fpga", "altera")),
    ],
)
def test_accelerators_list(entry: object, expected: AcceleratorSpec) -> None:
    assert parse_spec({"accelerators": [entry]}).accelerators == (expected,)


def test_gpu_and_accelerators_add_up() -> None:
    spec = parse_spec({"gpu": "H100:2", "accelerators": ["fpga:xilinx:1"]})
    assert spec.accelerators == (
        gpu(models=("H100",), count=2),
        AcceleratorSpec("fpga", "xilinx"),
    )


# ---- dict specs -------------------------------------------------------------------------------


def test_full_dict_spec() -> None:
    spec = parse_spec(
        {
            "cpu": {
                "arch": "amd64",
                "vendor": "GenuineIntel",
                "model": "Xeon",
                "flags": ["avx512f", "AVX2", "avx2"],
                "cores": "2..8",
            },
            "memory": "16GiB",
            "gpu": "nvidia:H100:2",
            "accelerators": ["fpga:xilinx:1"],
            "labels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "a": "b"},
            "features": ["cuda", "avx2", "cuda"],
            "node": "gpu-node-01",
        }
    )
    assert spec == HardwareSpec(
        cpu=CpuSpec("x86_64", "intel", "Xeon", ("avx2", "avx512f"), Range(2, 8)),
        memory=Range(16 * GiB, None),
        accelerators=(
            gpu(vendor="nvidia", models=("H100",), count=2),
            AcceleratorSpec("fpga", "xilinx"),
        ),
        labels=(("a", "b"), ("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3")),
        features=("avx2", "cuda"),
        node="gpu-node-01",
    )
    assert not spec.is_empty()


@pytest.mark.parametrize("value", [None, {}, {"gpu": None, "cpu": None, "memory": None}])
def test_empty_spec(value: object) -> None:
    spec = parse_spec(value)
    assert spec.is_empty()
    assert to_dict(spec) == {}


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        ("x86_64", "x86_64"),
        ("amd64", "x86_64"),
        ("x64", "x86_64"),
        ("AMD64", "x86_64"),
        ("arm64", "aarch64"),
        ("aarch64", "aarch64"),
        ("ppc64le", "ppc64le"),
        ("s390x", "s390x"),
        ("riscv64", "riscv64"),
    ],
)
def test_arch_aliases(arch: str, expected: str) -> None:
    assert parse_spec({"cpu": {"arch": arch}}).cpu.arch == expected


@pytest.mark.parametrize(
    ("vendor", "expected"),
    [("GenuineIntel", "intel"), ("AuthenticAMD", "amd"), ("Intel", "intel"), ("ARM", "arm")],
)
def test_cpu_vendor_aliases(vendor: str, expected: str) -> None:
    assert parse_spec({"cpu": {"vendor": vendor}}).cpu.vendor == expected


@pytest.mark.parametrize(
    ("cores", "expected"),
    [
        (4, Range(4, None)),
        ("4", Range(4, None)),
        (4.0, Range(4, None)),
        ("4..", Range(4, None)),
        ("2..8", Range(2, 8)),
        ("..8", Range(None, 8)),
        ("4..4", Range(4, 4)),
    ],
)
def test_cpu_cores(cores: object, expected: Range) -> None:
    assert parse_spec({"cpu": {"cores": cores}}).cpu.cores == expected


@pytest.mark.parametrize(
    ("value", "path", "fragment"),
    [
        ({"gpus": 1}, "gpus", "unknown key 'gpus'; expected one of cpu, memory, gpu"),
        ({"cpu": {"archh": "x86_64"}}, "cpu.archh", "unknown key 'archh'"),
        ({"gpu": {"modle": "H100"}}, "gpu.modle", "unknown key 'modle'"),
        ({"accelerators": [{"kind": "fpga", "cnt": 1}]}, "accelerators[0].cnt", "unknown key"),
        ({1: "x"}, "hardware", "keys are strings"),
        (5, "hardware", "a mapping or a GPU shorthand"),
        (["H100"], "hardware", "a mapping or a GPU shorthand"),
        ({"cpu": "x86_64"}, "cpu", "cpu is a mapping"),
        ({"cpu": {"arch": "z80"}}, "cpu.arch", "unknown arch 'z80'; use one of"),
        ({"cpu": {"arch": ""}}, "cpu.arch", "non-empty string"),
        ({"cpu": {"arch": 64}}, "cpu.arch", "non-empty string"),
        ({"cpu": {"vendor": 1}}, "cpu.vendor", "non-empty string"),
        ({"cpu": {"model": ["Xeon"]}}, "cpu.model", "non-empty string"),
        ({"cpu": {"flags": "avx2"}}, "cpu.flags", "must be a list"),
        ({"cpu": {"flags": ["avx2", 1]}}, "cpu.flags[1]", "single word"),
        ({"cpu": {"flags": ["avx2", "avx 512"]}}, "cpu.flags[1]", "single word"),
        ({"cpu": {"flags": [""]}}, "cpu.flags[0]", "single word"),
        ({"cpu": {"cores": 0}}, "cpu.cores", "at least 1"),
        ({"cpu": {"cores": -2}}, "cpu.cores", "at least 1"),
        ({"cpu": {"cores": "8..2"}}, "cpu.cores", "minimum above its maximum"),
        ({"cpu": {"cores": "four"}}, "cpu.cores", "whole number or a range"),
        ({"cpu": {"cores": 2.5}}, "cpu.cores", "whole number or a range"),
        ({"cpu": {"cores": True}}, "cpu.cores", "whole number or a range"),
        ({"memory": 16}, "memory", "memory needs a unit, e.g. 16GiB or 512MB"),
        ({"memory": "16"}, "memory", "memory needs a unit"),
        ({"memory": "64GB..8GB"}, "memory", "minimum above its maximum"),
        ({"memory": "0GB"}, "memory", "positive"),
        ({"gpu": True}, "gpu", "shorthand string, a count or a mapping"),
        ({"gpu": 0}, "gpu", "at least 1"),
        ({"gpu": -1}, "gpu", "at least 1"),
        ({"gpu": ["H100"]}, "gpu", "shorthand string, a count or a mapping"),
        ({"gpu": {"count": 0}}, "gpu.count", "at least 1"),
        ({"gpu": {"count": "2"}}, "gpu.count", "whole number"),
        ({"gpu": {"count": True}}, "gpu.count", "whole number"),
        ({"gpu": {"memory": 40}}, "gpu.memory", "memory needs a unit"),
        ({"gpu": {"model": ""}}, "gpu.model", "an empty model name"),
        ({"gpu": {"model": [1]}}, "gpu.model", "a model is a string"),
        ({"gpu": {"vendor": ""}}, "gpu.vendor", "non-empty string"),
        ({"gpu": {"kind": "fpga"}}, "gpu", "this field is for gpus only"),
        ({"gpu": {"kind": "tpu"}}, "gpu.kind", "kind is one of gpu, fpga, accelerator"),
        ({"accelerators": "fpga:1"}, "accelerators", "accelerators is a list"),
        ({"accelerators": ["fpga:1", "U250"]}, "accelerators[1]", "which kind"),
        ({"accelerators": [2]}, "accelerators[0]", "which kind"),
        ({"accelerators": ["fpga::1"]}, "accelerators[0]", "an empty part"),
        ({"accelerators": [{"kind": "fpga", "memory": "1Q"}]}, "accelerators[0].memory", "unit"),
        ({"accelerators": [{"kind": "fpga", "count": -3}]}, "accelerators[0].count", "least 1"),
        ({"accelerators": [None]}, "accelerators[0]", "shorthand string, a count or a mapping"),
        ({"labels": ["a=b"]}, "labels", "labels map names to values"),
        ({"labels": {"a": 1.5}}, "labels.a", "a label value is a string"),
        ({"labels": {"": "x"}}, "labels", "a label name is a non-empty string"),
        ({"features": "cuda"}, "features", "must be a list"),
        ({"features": ["cuda", None]}, "features[1]", "single word"),
        ({"node": ""}, "node", "non-empty string"),
        ({"node": 7}, "node", "non-empty string"),
    ],
)
def test_spec_errors(value: object, path: str, fragment: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(value)
    assert caught.value.path == path
    assert fragment in caught.value.reason


def test_label_values_from_yaml_scalars() -> None:
    spec = parse_spec({"labels": {"gpu": True, "rack": 3, "zone": "a"}})
    assert spec.labels == (("gpu", "true"), ("rack", "3"), ("zone", "a"))


# ---- requests, round trip ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hardware", "cpu", "memory", "cores", "mem"),
    [
        (None, None, None, Range(), Range()),
        (None, 2.0, 4 * GiB, Range(2, None), Range(4 * GiB, None)),
        (None, 0.5, None, Range(1, None), Range()),  # half a core still needs one CPU
        (None, 1.5, None, Range(2, None), Range()),
        ({"cpu": {"cores": 8}, "memory": "64GB"}, 2.0, GB, Range(8, None), Range(64 * GB, None)),
        (
            {"cpu": {"cores": "2..16"}, "memory": "..128GB"},
            4.0,
            GB,
            Range(4, 16),
            Range(GB, 128 * GB),
        ),
    ],
)
def test_with_requests(
    hardware: object, cpu: float | None, memory: int | None, cores: Range, mem: Range
) -> None:
    spec = with_requests(parse_spec(hardware), cpu, memory)
    assert (spec.cpu.cores, spec.memory) == (cores, mem)


def test_with_requests_above_the_maximum_fits_no_node() -> None:
    spec = with_requests(parse_spec({"memory": "..32GB"}), None, 64 * GB)
    reasons = match(spec, cpu_node())
    assert reasons == [
        "needs memory 64GB..32GB (nothing fits: the minimum is above the maximum), node has 512GiB"
    ]


@pytest.mark.parametrize(
    "value",
    [
        "H100:2",
        "nvidia:40GB..:1",
        "A100-80GB:8",
        "24GB..80GB:2",
        "amd:MI300X",
        "nvidia:H100,A100:2",
        "..1.5GB",
        {
            "cpu": {"arch": "arm64", "flags": ["sve"], "cores": "..64", "model": "Neoverse"},
            "memory": "1000B..1.5GiB",
            "accelerators": ["fpga:xilinx:1", {"kind": "accelerator", "memory": "1Ki..2Ki"}],
            "labels": {"zone": "a"},
            "features": ["ib"],
            "node": "n1",
        },
    ],
)
def test_round_trip(value: object) -> None:
    spec = parse_spec(value)
    assert parse_spec(to_dict(spec)) == spec


def test_to_dict_is_canonical() -> None:
    spec = parse_spec({"gpu": "nvidia:h100:2", "memory": "16GiB", "cpu": {"cores": 4}})
    assert to_dict(spec) == {
        "cpu": {"cores": "4.."},
        "memory": "16GiB..",
        "accelerators": [{"kind": "gpu", "vendor": "nvidia", "model": ["H100"], "count": 2}],
    }


@pytest.mark.parametrize(
    ("r", "text"),
    [
        (Range(2, 2), "2"),
        (Range(2, None), "2.."),
        (Range(None, 8), "..8"),
        (Range(2, 8), "2..8"),
        (Range(0.5, None), "0.5.."),
        (Range(), "any"),
    ],
)
def test_range_str(r: Range, text: str) -> None:
    assert str(r) == text


def test_range_render_bytes_and_contains() -> None:
    assert Range(24 * GB, 80 * GB).render(format_bytes) == "24GB..80GB"
    assert Range(40 * GB, None).render(format_bytes) == "40GB.."
    assert Range(None, 80 * GB).render(format_bytes) == "..80GB"
    assert Range(2, 8).contains(2) and Range(2, 8).contains(8) and not Range(2, 8).contains(9)
    assert not Range(2, None).contains(None) and not Range(None, 2).contains(None)
    assert Range().contains(None) and Range().contains(-5)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (16 * GiB, "16GiB"),
        (80 * GB, "80GB"),
        (85_520_809_984, "79.6GiB"),
        (int(15.6 * GiB), "15.6GiB"),
        (2_164_000_000_000, "1.97TiB"),
        (512, "512B"),
        (1000, "1KB"),
        (1500, "1.46KiB"),
    ],
)
def test_format_bytes(size: int, text: str) -> None:
    assert format_bytes(size) == text


# ---- nodes ------------------------------------------------------------------------------------

H100_HWINFO: dict[str, Any] = {
    "hostname": "gpu-node-01",
    "cpu": {
        "arch": "x86_64",
        "vendor": "GenuineIntel",
        "model_name": "Intel(R) Xeon(R) Platinum 8480+",
        "flags": ["fpu", "sse4_2", "avx2", "avx512f", "avx512bw", "AMX_TILE"],
        "sockets": 2,
        "cores": 112,
        "threads": 224,
        "usable_threads": 224,
    },
    "memory": {"total_bytes": 2_164_000_000_000, "available_bytes": 2_000_000_000_000},
    "gpus": [
        {
            "index": i,
            "vendor": "nvidia",
            "model": "NVIDIA H100 80GB HBM3",
            "memory_bytes": 85_520_809_984,
            "uuid": f"GPU-{i:08x}",
            "driver_version": "550.54.15",
            "pci_bus_id": f"00000000:{0x18 + i:02X}:00.0",
            "compute_capability": "9.0",
            "source": "nvidia-smi",
        }
        for i in range(8)
    ],
    "accelerators": [
        {
            "kind": "display",
            "vendor": "ASPEED Technology, Inc.",
            "vendor_id": "0x1a03",
            "device": "ASPEED Graphics Family",
            "device_id": "0x2000",
            "pci_slot": "0000:03:00.0",
            "class_id": "0x030000",
        },
        *[
            {
                "kind": "gpu",
                "vendor": "NVIDIA Corporation",
                "vendor_id": "0x10de",
                "device": "GH100 [H100 SXM5 80GB]",
                "device_id": "0x2330",
                "pci_slot": f"0000:{0x18 + i:02x}:00.0",
                "class_id": "0x030200",
            }
            for i in range(8)
        ],
    ],
}

FPGA_HWINFO: dict[str, Any] = {
    "cpu": {
        "arch": "x86_64",
        "vendor": "AuthenticAMD",
        "model_name": "AMD EPYC 7763 64-Core Processor",
        "flags": ["avx2", "sse4_2"],
        "threads": 128,
    },
    "memory": {"total_bytes": 512 * GiB},
    "gpus": [],
    "accelerators": [
        {
            "kind": "fpga",
            "vendor": "Xilinx Corporation",
            "vendor_id": "0x10ee",
            "device": "Alveo U250",
            "device_id": "0x5004",
            "pci_slot": f"0000:{i + 1:02x}:00.0",
            "class_id": "0x120000",
        }
        for i in range(2)
    ],
}


def h100_node(**changes: Any) -> NodeInfo:
    node = node_from_hwinfo(H100_HWINFO, name="gpu-node-01", testbed="k8s")
    return NodeInfo(**{**node.__dict__, **changes})


def cpu_node(**changes: Any) -> NodeInfo:
    fields: dict[str, Any] = {
        "name": "cpu-node-01",
        "testbed": "slurm",
        "arch": "x86_64",
        "cpu_vendor": "intel",
        "cpu_model": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
        "cpu_flags": frozenset({"avx2", "avx512f", "avx512_vnni", "sse4_2"}),
        "cores": 64,
        "memory_bytes": 512 * GiB,
        "accelerators": (),
        "features": frozenset({"avx512", "ib"}),
    }
    return NodeInfo(**{**fields, **changes})


def arm_node(**changes: Any) -> NodeInfo:
    fields: dict[str, Any] = {
        "name": "grace-01",
        "testbed": "ssh",
        "arch": "aarch64",
        "cpu_vendor": "arm",
        "cpu_model": "Neoverse-V2",
        "cpu_flags": frozenset({"fp", "asimd", "sve", "sve2"}),
        "cores": 72,
        "memory_bytes": int(15.6 * GiB),
        "accelerators": (
            NodeAccelerator("gpu", "nvidia", "NVIDIA GH200 480GB", 97_844_723_712, 1),
        ),
        "labels": (("kubernetes.io/arch", "arm64"),),
    }
    return NodeInfo(**{**fields, **changes})


def test_node_from_hwinfo_h100() -> None:
    node = h100_node()
    assert node == NodeInfo(
        name="gpu-node-01",
        testbed="k8s",
        arch="x86_64",
        cpu_vendor="intel",
        cpu_model="Intel(R) Xeon(R) Platinum 8480+",
        cpu_flags=frozenset({"fpu", "sse4_2", "avx2", "avx512f", "avx512bw", "amx_tile"}),
        cores=224,
        memory_bytes=2_164_000_000_000,
        accelerators=(
            NodeAccelerator("gpu", "nvidia", "NVIDIA H100 80GB HBM3", 85_520_809_984, 8),
        ),
    )


def test_node_from_hwinfo_fpga_and_lspci_gpus() -> None:
    node = node_from_hwinfo(FPGA_HWINFO, name="fpga-01", testbed="ssh")
    assert node.cpu_vendor == "amd" and node.cores == 128 and node.memory_bytes == 512 * GiB
    assert node.accelerators == (NodeAccelerator("fpga", "xilinx", "Alveo U250", None, 2),)
    # Without nvidia-smi, the PCI scan's GPUs are all there is.
    lspci_only = {**H100_HWINFO, "gpus": []}
    node = node_from_hwinfo(lspci_only, name="n", testbed="t")
    assert node.accelerators == (
        NodeAccelerator("gpu", "nvidia", "GH100 [H100 SXM5 80GB]", None, 8),
    )


def test_node_from_hwinfo_groups_by_model_and_memory() -> None:
    gpus = [
        {"vendor": "nvidia", "model": "NVIDIA A100-SXM4-80GB", "memory_bytes": 85_899_345_920},
        {"vendor": "nvidia", "model": "NVIDIA A100-SXM4-40GB", "memory_bytes": 42_949_672_960},
        {"vendor": "nvidia", "model": "NVIDIA A100-SXM4-80GB", "memory_bytes": 85_899_345_920},
    ]
    node = node_from_hwinfo({"gpus": gpus}, name="n", testbed="t")
    assert node.accelerators == (
        NodeAccelerator("gpu", "nvidia", "NVIDIA A100-SXM4-80GB", 85_899_345_920, 2),
        NodeAccelerator("gpu", "nvidia", "NVIDIA A100-SXM4-40GB", 42_949_672_960, 1),
    )


@pytest.mark.parametrize(
    "hwinfo",
    [
        {},
        {"cpu": None, "memory": "lots", "gpus": "none", "accelerators": [1, None]},
        {"cpu": {"flags": "avx2 AVX512F", "threads": True}, "gpus": [{"model": None}]},
    ],
)
def test_node_from_partial_hwinfo(hwinfo: dict[str, Any]) -> None:
    node = node_from_hwinfo(hwinfo, name="n", testbed="t")
    assert node.name == "n" and node.cores is None and node.memory_bytes is None
    assert not match(HardwareSpec(), node)


def test_node_from_hwinfo_labels_and_features() -> None:
    hwinfo = {"labels": {"zone": "a", 1: "x", "n": 2}, "features": ["ib", 3, "cuda"]}
    node = node_from_hwinfo(hwinfo, name="n", testbed="t")
    assert (node.labels, node.features) == ((("zone", "a"),), frozenset({"ib", "cuda"}))


def test_node_from_hwinfo_flags_string() -> None:
    hwinfo = {"cpu": {"flags": "avx2 AVX512F", "arch": "arm64", "vendor": "ARM"}}
    node = node_from_hwinfo(hwinfo, name="n", testbed="t")
    assert (node.cpu_flags, node.arch, node.cpu_vendor) == (
        frozenset({"avx2", "avx512f"}),
        "aarch64",
        "arm",
    )


# ---- matching ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "model", "expected"),
    [
        ("H100", "NVIDIA H100 80GB HBM3", True),
        ("H100", "NVIDIA-H100-80GB-HBM3", True),
        ("h100", "nvidia h100 pcie", True),
        ("H100", "GH100X", False),
        ("H100", "NVIDIA GH200 480GB", False),
        ("A100-80GB", "NVIDIA A100-SXM4-80GB", True),
        ("A100-80GB", "NVIDIA A100-SXM4-40GB", False),
        ("A100", "NVIDIA A100-SXM4-40GB", True),
        ("A10", "NVIDIA A10G", False),
        ("RTX-4090", "NVIDIA GeForce RTX 4090", True),
        ("RTX4090", "NVIDIA GeForce RTX 4090", True),  # adjacent tokens join
        ("MI300X", "AMD Instinct MI300X", True),
        ("MI300", "AMD Instinct MI300X", False),
    ],
)
def test_model_matches(wanted: str, model: str, expected: bool) -> None:
    assert model_matches(wanted, model) is expected


@pytest.mark.parametrize(
    "spec",
    [
        None,
        "H100",
        "H100:8",
        "nvidia:H100:8",
        "NVIDIA-H100-80GB-HBM3:1",
        "nvidia:80GB..:8",
        "nvidia:79GiB..80GiB:2",
        "2",
        "nvidia:H100,A100:4",
        {"gpu": {"vendor": "NVIDIA"}},
        {"cpu": {"arch": "amd64", "vendor": "GenuineIntel", "flags": ["AVX512F", "amx_tile"]}},
        {"cpu": {"model": "platinum", "cores": "200..224"}, "memory": "2TB.."},
        {"memory": "..2TiB"},
    ],
)
def test_h100_node_fits(spec: object) -> None:
    assert match(parse_spec(spec), h100_node()) == []


@pytest.mark.parametrize(
    ("spec", "reasons"),
    [
        ("H100:16", ["needs 16 x gpu H100, node has 8 x NVIDIA H100 80GB HBM3"]),
        ("A100:1", ["needs 1 x gpu A100, node has 8 x NVIDIA H100 80GB HBM3"]),
        ("amd:1", ["needs 1 x gpu amd, node has 8 x NVIDIA H100 80GB HBM3"]),
        (
            "nvidia:96GB..:1",
            [
                "needs 1 x gpu nvidia with memory >= 96GB,"
                " node has 8 x NVIDIA H100 80GB HBM3 (79.6GiB)"
            ],
        ),
        ({"accelerators": ["fpga:xilinx:1"]}, ["needs 1 x fpga xilinx, node has no fpga"]),
        ({"cpu": {"arch": "arm64"}}, ["needs arch aarch64, node is x86_64"]),
        ({"cpu": {"vendor": "amd"}}, ["needs cpu vendor amd, node has intel"]),
        ({"cpu": {"flags": ["sve"]}}, ["needs cpu flag sve"]),
        ({"cpu": {"flags": ["sve", "sve2", "avx2"]}}, ["needs cpu flags sve, sve2"]),
        (
            {"cpu": {"model": "EPYC"}},
            ["needs a cpu model containing 'EPYC', node has 'Intel(R) Xeon(R) Platinum 8480+'"],
        ),
        ({"cpu": {"cores": "..64"}}, ["needs cpu cores <= 64, node has 224"]),
        ({"memory": "4TB"}, ["needs memory >= 4TB, node has 1.97TiB"]),
        ({"memory": "64GB..1TB"}, ["needs memory between 64GB and 1TB, node has 1.97TiB"]),
        ({"node": "gpu-node-02"}, ["needs node gpu-node-02, node is gpu-node-01"]),
        ({"labels": {"zone": "a"}}, ["needs label zone=a, node has no label zone"]),
        ({"features": ["cuda", "ib"]}, ["needs features cuda, ib, node has none"]),
        (
            {"gpu": "H100:16", "cpu": {"arch": "aarch64"}},
            [
                "needs arch aarch64, node is x86_64",
                "needs 16 x gpu H100, node has 8 x NVIDIA H100 80GB HBM3",
            ],
        ),
    ],
)
def test_h100_node_reasons(spec: object, reasons: list[str]) -> None:
    assert match(parse_spec(spec), h100_node()) == reasons


def test_avx512_cpu_node() -> None:
    node = cpu_node()
    assert match(parse_spec({"cpu": {"flags": ["avx512f"], "cores": 32}}), node) == []
    assert match(parse_spec({"features": ["ib"]}), node) == []
    assert match(parse_spec("H100:1"), node) == ["needs 1 x gpu H100, node has no gpu"]
    assert match(parse_spec({"cpu": {"flags": ["amx_tile"]}}), node) == ["needs cpu flag amx_tile"]
    assert match(parse_spec({"features": ["gpu"]}), node) == [
        "needs feature gpu, node has avx512, ib"
    ]


def test_aarch64_node() -> None:
    node = arm_node()
    spec = {"cpu": {"arch": "arm64", "vendor": "ARM", "flags": ["sve2"]}, "gpu": "GH200"}
    assert match(parse_spec(spec), node) == []
    assert match(parse_spec({"labels": {"kubernetes.io/arch": "arm64"}}), node) == []
    assert match(parse_spec({"labels": {"kubernetes.io/arch": "amd64"}}), node) == [
        "needs label kubernetes.io/arch=amd64, node has kubernetes.io/arch=arm64"
    ]
    assert match(parse_spec("H100"), node) == [
        "needs 1 x gpu H100, node has 1 x NVIDIA GH200 480GB"
    ]
    assert match(parse_spec({"cpu": {"flags": ["avx512f"]}, "memory": "64GB"}), node) == [
        "needs cpu flag avx512f",
        "needs memory >= 64GB, node has 15.6GiB",
    ]


def test_offline_node_never_fits() -> None:
    node = cpu_node(online=False)
    assert match(HardwareSpec(), node) == ["node is offline"]
    assert first_unmet(HardwareSpec(), [node]) == "no online node"
    assert first_unmet(HardwareSpec(), []) == "no online node"


def test_unreported_values_fail_what_needs_them() -> None:
    node = cpu_node(arch=None, cpu_vendor=None, cpu_model=None, cpu_flags=frozenset(),
                    cores=None, memory_bytes=None)  # fmt: skip
    spec = parse_spec(
        {
            "cpu": {"arch": "x86_64", "vendor": "intel", "model": "Xeon", "flags": ["avx2"],
                    "cores": 4},
            "memory": "1GB",
        }
    )  # fmt: skip
    assert match(spec, node) == [
        "needs arch x86_64, node does not report its arch",
        "needs cpu vendor intel, node does not report its cpu vendor",
        "needs a cpu model containing 'Xeon', node does not report its cpu model",
        "needs cpu flag avx2, node does not report its cpu flags",
        "needs cpu cores >= 4, node does not report its cpu cores",
        "needs memory >= 1GB, node does not report its memory",
    ]
    assert match(HardwareSpec(), node) == []


def test_accelerator_memory_not_reported() -> None:
    node = node_from_hwinfo(FPGA_HWINFO, name="fpga-01", testbed="ssh")
    assert match(parse_spec({"accelerators": ["fpga:xilinx:U250:2"]}), node) == []
    assert match(parse_spec({"accelerators": ["xilinx:2"]}), node) == []
    assert match(parse_spec({"accelerators": ["fpga:3"]}), node) == [
        "needs 3 x fpga, node has 2 x xilinx Alveo U250"
    ]
    assert match(parse_spec({"accelerators": ["fpga:16GB"]}), node) == [
        "needs 1 x fpga with memory >= 16GB, node has 2 x xilinx Alveo U250 (memory not reported)"
    ]


def test_count_sums_matching_groups() -> None:
    node = cpu_node(
        accelerators=(
            NodeAccelerator("gpu", "nvidia", "NVIDIA A100-SXM4-80GB", 80 * GiB, 2),
            NodeAccelerator("gpu", "nvidia", "NVIDIA A100-SXM4-40GB", 40 * GiB, 2),
            NodeAccelerator("gpu", "NVIDIA", "NVIDIA H100 PCIe", 80 * GiB, 1),
        )
    )
    assert match(parse_spec("A100:4"), node) == []
    assert match(parse_spec("nvidia:A100,H100:5"), node) == []
    assert match(parse_spec("70GB..:3"), node) == []
    assert match(parse_spec("A100-80GB:3"), node) == [
        "needs 3 x gpu A100-80GB, node has 2 x NVIDIA A100-SXM4-80GB, 2 x NVIDIA A100-SXM4-40GB,"
        " 1 x NVIDIA H100 PCIe"
    ]
    # Each requirement must be met on its own.
    assert match(parse_spec({"gpu": "A100:4", "accelerators": ["gpu:H100:1"]}), node) == []


def test_first_unmet() -> None:
    nodes = [h100_node(), cpu_node(), arm_node(), h100_node(name="down", online=False)]
    assert first_unmet(parse_spec("H100:8"), nodes) is None
    assert first_unmet(HardwareSpec(), nodes) is None
    assert first_unmet(parse_spec("H100:16"), nodes) == (
        "needs 16 x gpu H100, node has 8 x NVIDIA H100 80GB HBM3"
    )
    # Of nodes equally close, the first one speaks.
    assert first_unmet(parse_spec("H100:16"), nodes[1:]) == "needs 16 x gpu H100, node has no gpu"
    spec = parse_spec({"gpu": "H100:16", "cpu": {"flags": ["sve"]}})
    assert first_unmet(spec, nodes) == "needs 16 x gpu H100, node has 1 x NVIDIA GH200 480GB"
    assert first_unmet(spec, nodes[:2]) == (
        "needs cpu flag sve; needs 16 x gpu H100, node has 8 x NVIDIA H100 80GB HBM3"
    )
    assert first_unmet(parse_spec({"node": "down"}), nodes) == (
        "needs node down, node is gpu-node-01"
    )
    assert first_unmet(parse_spec("H100"), [h100_node(online=False)]) == "no online node"


# ---- properties -------------------------------------------------------------------------------

VENDORS = ["nvidia", "NVIDIA", "amd", "Intel", "habana", "google", "aws", "tenstorrent"]
MODELS = ["H100", "a100-80gb", "MI300X", "L40S", "rtx-4090", "1g.10gb", "T4", "Gaudi2", "v5e"]
UNITS = ["B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB", "Ki", "Mi", "Gi", "K", "M", "G"]


@st.composite
def memory_tokens(draw: st.DrawFn) -> str:
    low, high = sorted(draw(st.lists(st.integers(1, 4096), min_size=2, max_size=2)))
    unit = draw(st.sampled_from(UNITS))
    unit = draw(st.sampled_from([unit, unit.lower()])) if unit.endswith("B") else unit
    form = draw(st.sampled_from(["{lo}{u}", "{lo}{u}..", "..{hi}{u}", "{lo}{u}..{hi}{u}"]))
    return form.format(lo=low, hi=high, u=unit)


@st.composite
def shorthands(draw: st.DrawFn) -> str:
    parts = []
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(VENDORS)))
    if draw(st.booleans()):
        parts.append(",".join(draw(st.lists(st.sampled_from(MODELS), min_size=1, max_size=3))))
    if draw(st.booleans()):
        parts.append(draw(memory_tokens()))
    parts = list(draw(st.permutations(parts)))
    if draw(st.booleans()):
        parts.insert(0, "gpu")
    if not parts or draw(st.booleans()):
        parts.append(str(draw(st.integers(1, 64))))
    return ":".join(parts)


@given(shorthands())
def test_valid_shorthand_parses_and_round_trips(text: str) -> None:
    spec = parse_spec(text)
    assert parse_spec(to_dict(spec)) == spec
    assert parse_spec({"gpu": text}) == spec
    (accelerator,) = spec.accelerators
    assert accelerator.count >= 1 and accelerator.kind == "gpu"


def specs_dicts() -> st.SearchStrategy[dict[str, Any]]:
    listed = st.sampled_from(["fpga:xilinx:1", "habana:Gaudi2:8", "gpu:H100", "altera", "fpga:2"])
    return st.fixed_dictionaries(
        {},
        optional={
            "cpu": st.fixed_dictionaries(
                {},
                optional={
                    "arch": st.sampled_from(["amd64", "arm64", "ppc64le", "x86_64"]),
                    "vendor": st.sampled_from(["GenuineIntel", "amd", "ARM"]),
                    "model": st.sampled_from(["Xeon", "EPYC 7763"]),
                    "flags": st.lists(st.sampled_from(["avx2", "AVX512F", "sve", "amx_tile"])),
                    "cores": st.one_of(st.integers(1, 256), st.sampled_from(["2..8", "..64"])),
                },
            ),
            "memory": memory_tokens(),
            "gpu": st.one_of(shorthands(), st.integers(1, 8)),
            "accelerators": st.lists(listed, max_size=3),
            "labels": st.dictionaries(
                st.sampled_from(["zone", "rack", "a/b"]), st.text(max_size=5)
            ),
            "features": st.lists(st.sampled_from(["cuda", "ib", "avx2"])),
            "node": st.sampled_from(["n1", "gpu-node-01"]),
        },
    )


@given(specs_dicts())
def test_valid_dict_specs_round_trip(value: dict[str, Any]) -> None:
    spec = parse_spec(value)
    assert parse_spec(to_dict(spec)) == spec
    assert to_dict(parse_spec(to_dict(spec))) == to_dict(spec)


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text_raises_only_spec_error(text: str) -> None:
    try:
        spec = parse_spec(text)
    except SpecError as error:
        assert error.path == "gpu" and error.reason
    else:
        assert parse_spec(to_dict(spec)) == spec


@settings(max_examples=500)
@given(st.text(alphabet="0123456789.:,- +mMgGiIbBkKxXnvdaHh", max_size=24))
def test_grammar_like_text_raises_only_spec_error(text: str) -> None:
    try:
        spec = parse_spec(text)
    except SpecError:
        return
    assert parse_spec(to_dict(spec)) == spec


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
spec_keys = st.sampled_from(["cpu", "memory", "gpu", "accelerators", "labels", "features", "node"])
cpu_values = st.dictionaries(
    st.sampled_from(["arch", "vendor", "model", "flags", "cores"]), json_values
)


@given(st.one_of(json_values, st.dictionaries(spec_keys, st.one_of(json_values, cpu_values))))
def test_arbitrary_objects_raise_only_spec_error(value: object) -> None:
    try:
        spec = parse_spec(value)
    except SpecError as error:
        assert error.reason
        return
    assert parse_spec(to_dict(spec)) == spec


@given(
    st.one_of(st.text(max_size=16), st.integers(), st.floats(), st.booleans(), st.none()),
)
def test_quantities_raise_only_spec_error(value: object) -> None:
    for parse in (parse_memory, parse_memory_range, parse_cpu_quantity):
        try:
            parse(value)
        except SpecError:
            pass
