"""The model and canonical form (shared/hardware/spec.py): ranges, sizes, to_dict, requests."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.hardware import (
    Range,
    SpecError,
    format_bytes,
    match,
    parse_spec,
    to_dict,
    with_requests,
)
from tests.unit.shared.hardware.examples import GB, GiB, cpu_node


def test_spec_error_pickles() -> None:
    error = pickle.loads(pickle.dumps(SpecError("gpu", "bad")))
    assert (error.path, error.reason, str(error)) == ("gpu", "bad", "gpu: bad")
    assert isinstance(error, ValueError)


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


# ---- properties -------------------------------------------------------------------------------

# google (TPUs) and tenstorrent are refused: no testbed kind hands them to a run
VENDORS = ["nvidia", "NVIDIA", "amd", "Intel", "habana", "aws"]
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
