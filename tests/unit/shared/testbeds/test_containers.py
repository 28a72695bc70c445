"""How each container runtime is handed the GPUs a run was given."""

from __future__ import annotations

from shared import runner
from shared.hardware import parse_spec
from shared.testbeds import containers


def test_podman_gets_each_gpu_by_cdi_and_all_when_none_is_named() -> None:
    plan = containers.gpu_plan("podman", "nvidia", 3)
    assert plan is not None and plan["from"] == "CUDA_VISIBLE_DEVICES"
    argv = ["podman", "run", "--rm", "-v", "/r:/r", "img", "cmd"]
    given = runner.with_gpus(argv, {"CUDA_VISIBLE_DEVICES": "0,2"}, plan)
    assert given[:7] == ["podman", "run", "--rm", "--device", "nvidia.com/gpu=0",
                         "--device", "nvidia.com/gpu=2"]  # fmt: skip
    assert given[7:] == argv[3:]
    assert runner.with_gpus(argv, {}, plan)[3:5] == ["--device", "nvidia.com/gpu=all"]


def test_amd_gets_the_rocm_devices_and_its_numbering() -> None:
    plan = containers.gpu_plan("podman", "amd", 3)
    given = runner.with_gpus(["podman", "run", "--rm", "img"], {"ROCR_VISIBLE_DEVICES": "1"}, plan)
    assert given == ["podman", "run", "--rm", "--device", "/dev/kfd", "--device", "/dev/dri",
                     "--env", "ROCR_VISIBLE_DEVICES=1", "img"]  # fmt: skip


def test_enroot_names_them_for_its_hook_and_apptainer_takes_a_flag() -> None:
    plan = containers.gpu_plan("enroot", "nvidia", 2)
    given = runner.with_gpus(["enroot", "start", "name"], {"CUDA_VISIBLE_DEVICES": "3,1"}, plan)
    assert given == ["enroot", "start", "--env", "NVIDIA_VISIBLE_DEVICES=3,1", "name"]
    assert containers.gpu_flags("apptainer", "nvidia") == ["--nv"]
    assert containers.gpu_flags("apptainer", "amd") == ["--rocm"]
    assert containers.gpu_plan("apptainer", "nvidia", 2) is None
    assert containers.gpu_plan("podman", None, 3) is None  # no GPU asked: nothing added


def test_device_names_are_checked_before_they_reach_a_command_line() -> None:
    plan = containers.gpu_plan("podman", "nvidia", 1)
    hostile = {
        "CUDA_VISIBLE_DEVICES": "0,--privileged,$(id),GPU-6f3c2d1e-aaaa-bbbb-cccc-000000000001"
    }
    given = runner.with_gpus(["podman", "img"], hostile, plan)
    assert given == ["podman", "--device", "nvidia.com/gpu=0", "--device",
                     "nvidia.com/gpu=GPU-6f3c2d1e-aaaa-bbbb-cccc-000000000001", "img"]  # fmt: skip


def test_the_vendor_is_the_requests_else_the_nodes() -> None:
    assert containers.gpu_vendor(parse_spec({})) is None
    assert containers.gpu_vendor(parse_spec("H100:1")) == "nvidia"
    assert containers.gpu_vendor(parse_spec("MI300X:1"), ["AMD"]) == "amd"
    assert containers.gpu_vendor(parse_spec("amd:1"), ["nvidia"]) == "amd"
