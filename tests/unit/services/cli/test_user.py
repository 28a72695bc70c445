"""The CLI's pieces that need no server: its config file, spec assembly, model checks."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from tessera_client.models import InspectionSpec

from services.api.routers.nodes import free_counts
from services.cli.user import commands, config, specs
from shared import hardware, inventory
from shared.specs import InspectionSpec as ServerInspectionSpec

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


def test_login_config_is_private_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "nested" / "config.toml"
    monkeypatch.setenv(config.CONFIG_ENV, str(path))
    for name in (config.URL_ENV, config.TOKEN_ENV):
        monkeypatch.delenv(name, raising=False)
    config.save("http://api.example:8000", 'tsr_"quoted\\token')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = config.load()
    assert (loaded.url, loaded.token) == ("http://api.example:8000", 'tsr_"quoted\\token')
    monkeypatch.setenv(config.TOKEN_ENV, "from-env")
    assert config.load().token == "from-env", "the environment wins over the file"


def test_without_config_the_cli_finds_this_hosts_embedded_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    monkeypatch.setenv(config.CONFIG_ENV, str(tmp_path / "absent.toml"))
    monkeypatch.setenv("TESSERA_API_PORT", "8123")
    from tests.conftest import reset_settings

    reset_settings()
    with pytest.raises(config.ConfigError, match="tessera login"):
        config.load()
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "admin.token").write_text("tsr_local\n")
    loaded = config.load()
    assert (loaded.url, loaded.token) == ("http://127.0.0.1:8123", "tsr_local")


def test_every_example_spec_is_a_valid_inspection() -> None:
    paths = sorted(EXAMPLES.glob("*/spec.yaml"))
    assert {path.parent.name for path in paths} >= {
        "pytorch-matmul",
        "avx512-check",
        "build-only",
        "amun-pipfile",
    }
    for path in paths:
        data = specs.inspection(path, specs.Flags())
        ServerInspectionSpec.model_validate(data)  # what the API will check
        commands._model(InspectionSpec, data, "inspection")  # what the client will send


def test_the_gpu_example_asks_for_one_h100_and_reads_its_script() -> None:
    data = specs.load_file(EXAMPLES / "pytorch-matmul" / "spec.yaml")
    assert hardware.parse_spec(data["run"]["requests"]["hardware"]).accelerators[0].models == (
        "H100",
    )
    assert data["script"] == (EXAMPLES / "pytorch-matmul" / "matmul.py").read_text()


def test_flags_add_to_the_spec_file(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    data = specs.inspection(
        EXAMPLES / "avx512-check" / "spec.yaml",
        specs.Flags(
            script=script,
            gpu="H100:1",
            cpu_flags=["avx2"],
            python_packages=["six"],
            env=["A=1=2"],
            batch_size=3,
        ),
    )
    assert data["script"] == "#!/bin/sh\ntrue\n"
    assert data["run"]["requests"]["hardware"] == {
        "cpu": {"arch": "x86_64", "flags": ["avx512f", "avx2"]},
        "gpu": "H100:1",
    }
    assert data["python_packages"] == ["six"] and data["environment"] == {"A": "1=2"}
    assert data["batch_size"] == 3 and data["identifier"] == "avx512-check"
    assert specs.inspection(None, specs.Flags())["base"] == "host"


def test_bad_spec_files_are_usage_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("script: !file missing.sh\n")
    with pytest.raises(specs.SpecError, match="missing.sh"):
        specs.load_file(bad)
    bad.write_text("- a list\n")
    with pytest.raises(specs.SpecError, match="mapping"):
        specs.load_file(bad)
    with pytest.raises(specs.SpecError, match="NAME=VALUE"):
        specs.inspection(None, specs.Flags(env=["novalue"]))


def test_a_typo_the_generated_model_would_drop_is_refused() -> None:
    with pytest.raises(specs.SpecError, match=r"run\.requets"):
        commands._model(
            InspectionSpec, {"base": "host", "run": {"requets": {"cpu": 1}}}, "inspection"
        )
    with pytest.raises(specs.SpecError, match="colour"):
        commands._model(InspectionSpec, {"base": "host", "colour": "blue"}, "inspection")


def test_free_accelerators_are_total_less_what_running_runs_asked_for() -> None:
    h100 = hardware.NodeAccelerator("gpu", "nvidia", "NVIDIA H100 80GB HBM3", 80 << 30, 8)
    fpga = hardware.NodeAccelerator("fpga", "xilinx", "Alveo U250", None, 2)
    node = inventory.node_to_json(
        hardware.NodeInfo("n1", "lab", "x86_64", None, None, frozenset(), 64, None, (h100, fpga)),
        ["native"],
    )
    held = [
        hardware.parse_accelerator("H100:2"),
        hardware.parse_accelerator("nvidia:3"),
        hardware.parse_accelerator("xilinx:1", "accelerators", "fpga"),
    ]
    assert free_counts(node, held, usable=True) == [3, 1]
    assert free_counts(node, [hardware.parse_accelerator("H100:9")], usable=True) == [0, 2]
    assert free_counts(node, [], usable=False) == [0, 0], "nothing is free on an offline node"


@pytest.mark.parametrize(
    "gpu",
    [
        "H100:1",
        "A100:1..2",
        "nvidia:1..8",
        "40GB+",
        "40GB..80GB:4",
        "A100:80GB",
        "MI300X:AMD",
        "A10,A10G:2",
        "[A100:1, V100:1]",
        "{A100: 1, V100: 1}",
    ],
)
def test_gpu_flag_takes_the_spec_strings(gpu: str, tmp_path: Path) -> None:
    """`--gpu` is the same language as the API's `gpu`: the CLI passes the string through."""
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    data = specs.inspection(None, specs.Flags(script=script, gpu=gpu))
    sent = ServerInspectionSpec.model_validate(data).run_requests().spec()
    assert sent == hardware.parse_spec({"gpu": gpu})
    commands._model(InspectionSpec, data, "inspection")  # and the client sends it


def test_gpu_flag_refuses_what_no_testbed_offers(tmp_path: Path) -> None:
    data = specs.inspection(None, specs.Flags(gpu="tpu-v3-8"))
    with pytest.raises(ValueError, match="tpu-v3-8"):
        ServerInspectionSpec.model_validate(data)


def test_env_flags_add_to_amuns_list_form(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("base: host\nenvironment:\n  - {name: A, value: '1'}\n")
    data = specs.inspection(spec, specs.Flags(env=["B=2"]))
    assert data["environment"] == {"A": "1", "B": "2"}
