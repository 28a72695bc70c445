"""The parser (shared/hardware/parse.py): sizes, counts, shorthands, whole specs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.hardware import (
    AcceleratorSpec,
    CpuSpec,
    HardwareSpec,
    Range,
    SpecError,
    parse_accelerator,
    parse_cpu_quantity,
    parse_memory,
    parse_memory_range,
    parse_spec,
    to_dict,
)
from tests.unit.shared.hardware.examples import GB, GiB


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
        ("40GB", gpu(memory=Range(40 * GB, 40 * GB))),
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
        (
            {"kind": "fpga", "vendor": "Xilinx", "model": "U250", "count": 1},
            AcceleratorSpec("fpga", "xilinx", ("U250",)),
        ),
        ({"kind": "FPGA", "memory": "64GiB.."}, AcceleratorSpec("fpga", memory=Range(64 * GB))),
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
        ({"memory": "64GB..8GB"}, "memory", "minimum above its maximum"),
        ({"memory": "0GB"}, "memory", "positive"),
        ({"gpu": True}, "gpu", "shorthand string, a count or a mapping"),
        ({"gpu": 0}, "gpu", "at least 1"),
        ({"gpu": -1}, "gpu", "at least 1"),
        ({"gpu": {"count": 0}}, "gpu.count", "at least 1"),
        ({"gpu": {"count": True}}, "gpu.count", "whole number"),
        ({"gpu": {"model": ""}}, "gpu.model", "an empty model name"),
        ({"gpu": {"model": [1]}}, "gpu.model", "a model is a string"),
        ({"gpu": {"vendor": ""}}, "gpu.vendor", "non-empty string"),
        ({"gpu": {"kind": "fpga"}}, "gpu", "this field is for gpus only"),
        ({"gpu": {"kind": "tpu"}}, "gpu.kind", "kind is one of gpu, fpga, accelerator"),
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


# ---- arbitrary input ----------------------------------------------------------------------------


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
