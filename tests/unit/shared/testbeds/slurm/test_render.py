"""sbatch scripts rendered from runs, and the placement command run by a real bash on the
real cluster (scripts/slurm.sh): adopt instead of submitting twice, user strings literal."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared import hwinfo, runner
from shared.hardware import parse_spec
from shared.testbeds.base import Job, RenderError
from shared.testbeds.slurm import render

ROOT = Path(__file__).resolve().parents[5]
HOSTILE = "$(touch /tmp/tessera-pwned) `id` ' \" ; rm -rf / \n#SBATCH --uid=0"


def _cluster(base: str = "/home/u/.tessera", **extra: object) -> render.Cluster:
    values: dict[str, object] = {
        "base": base,
        "gres_types": {"H100": "h100"},
        "node_features": frozenset({"avx2", "cuda"}),
        "node_gres_types": ("h100",),
    }
    values.update(extra)
    return render.Cluster(**values)  # type: ignore[arg-type]


def _job(hardware: object = None, **extra: object) -> Job:
    values: dict[str, object] = {
        "argv": [],
        "env": {"PATH": "/usr/bin:/bin"},
        "script": ("script", b"#!/bin/sh\necho hi\n"),
        "timeout_s": 600,
        "hardware": parse_spec(hardware) if hardware is not None else parse_spec({}),
    }
    values.update(extra)
    return Job(**values)  # type: ignore[arg-type]


RUN = uuid.UUID("8a3c1f0e-0000-4000-8000-000000000001")


def test_h100_options() -> None:
    job = _job({"gpu": "H100:2", "cpu": {"flags": ["avx2"]}, "features": ["cuda"]}, cpu=4.0)
    job = Job(**{**job.__dict__, "memory": 3 * 2**30})
    cluster = _cluster(partition="gpu", account="proj-1", qos="normal")
    options = render.options(job, RUN, "node1", cluster)
    assert options == [
        f"--job-name=tessera-{RUN}",
        f"--comment=tessera-run-{RUN}",
        f"--output=/home/u/.tessera/runs/{RUN}.out",
        f"--error=/home/u/.tessera/runs/{RUN}.out",
        "--chdir=/home/u/.tessera/runs",
        "--nodes=1",
        "--ntasks=1",
        "--partition=gpu",
        "--account=proj-1",
        "--qos=normal",
        "--gres=gpu:h100:2",
        "--constraint=cuda&avx2",
        "--cpus-per-task=4",
        "--mem=3072M",
        "--time=12",
    ]


def test_a_runs_own_slurm_options_override_the_testbeds() -> None:
    job = _job(slurm={"partition": "big", "qos": "high", "reservation": "maint"})
    cluster = _cluster(partition="gpu", account="proj-1", qos="normal")
    options = render.options(job, RUN, "n", cluster)
    assert [o for o in options if o.split("=")[0] in (
        "--partition", "--account", "--qos", "--reservation")] == [
        "--partition=big", "--account=proj-1", "--qos=high", "--reservation=maint"
    ]  # fmt: skip
    with pytest.raises(RenderError, match="reservation"):
        render.options(_job(slurm={"reservation": "x\n#SBATCH --uid=0"}), RUN, "n", cluster)


def test_untyped_gpu_and_unknown_flag_pin_the_node() -> None:
    options = render.options(
        _job({"gpu": "nvidia:1", "cpu": {"flags": ["avx512f"]}}), RUN, "n7", _cluster()
    )
    assert "--gres=gpu:1" in options
    assert "--nodelist=n7" in options
    assert not any(o.startswith("--constraint") for o in options)


def test_gres_type_from_the_nodes_types_without_a_map() -> None:
    cluster = _cluster(gres_types={}, node_gres_types=("nvidia_a100_80gb",))
    options = render.options(_job("A100:1"), RUN, "n", cluster)
    assert "--gres=gpu:nvidia_a100_80gb:1" in options


def test_unsafe_option_values_are_refused() -> None:
    with pytest.raises(RenderError, match="partition"):
        render.options(_job(), RUN, "n", _cluster(partition="gpu\n#SBATCH --uid=0"))
    with pytest.raises(RenderError, match="file path"):
        render.script(_job(files=[("../x", b"", False)]), RUN, "n", _cluster(), "/lib")


def test_script_body_runs_the_runner_with_slurm_variables() -> None:
    text = render.script(_job(python_requirements=("numpy==2.0",)), RUN, "n", _cluster(), "/l")
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert lines[-1] == f"exec python3 runner.py /home/u/.tessera/runs/{RUN}"
    assert 'pip" install -q -r requirements.txt' in text
    assert "SLURM_" in text and "CUDA_" in text


def test_runner_job_keeps_user_strings_as_data() -> None:
    job = _job(env={"PATH": "/usr/bin", "EVIL": HOSTILE}, python_requirements=("six",))
    spec = render.runner_job(job, RUN, _cluster())
    assert spec["env"]["EVIL"] == HOSTILE  # type: ignore[index]
    assert spec["argv"] == [f"/home/u/.tessera/runs/{RUN}/script"]
    assert spec["env"]["PATH"].startswith("/home/u/.tessera/venvs/")  # type: ignore[index]


def test_image_needs_a_container_runtime() -> None:
    with pytest.raises(RenderError, match="container runtime"):
        render.runner_job(_job(image="alpine:3"), RUN, _cluster())
    spec = render.runner_job(_job(image="alpine:3"), RUN, _cluster(node_runtimes={"apptainer"}))
    assert spec["argv"][:2] == ["apptainer", "exec"]  # type: ignore[index]


def _image_run(runtime: str, hardware: object = "H100:1") -> dict[str, Any]:
    job = _job(hardware, image="registry.example:5000/team/app:1.0")
    found: dict[str, Any] = render.runner_job(job, RUN, _cluster(node_runtimes={runtime}))
    return found


def test_each_runtime_gets_the_jobs_gpus() -> None:
    folder = f"/home/u/.tessera/runs/{RUN}"
    apptainer = _image_run("apptainer")
    assert apptainer["argv"][:5] == ["apptainer", "exec", "--nv", "--bind", folder]
    assert "--nv" not in _image_run("apptainer", {})["argv"]  # no GPU asked
    pyxis = _image_run("pyxis")
    assert pyxis["argv"][:3] == [
        "srun", "--ntasks=1", "--container-image=registry.example:5000#team/app:1.0"
    ]  # fmt: skip
    enroot = _image_run("enroot")
    name = f"tessera-{RUN}"
    assert enroot["argv"][:6] == ["enroot", "start", "--rw", "--mount", f"{folder}:{folder}", name]
    assert enroot["container"]["create"] == [
        ["enroot", "import", "--output", f"{folder}/image.sqsh",
         "docker://registry.example:5000#team/app:1.0"],
        ["enroot", "create", "--force", "--name", name, f"{folder}/image.sqsh"],
    ]  # fmt: skip
    assert enroot["container"]["remove"] == ["enroot", "remove", "--force", name]
    assert enroot["container"]["gpus"]["joined"] == ["--env", "NVIDIA_VISIBLE_DEVICES={}"]
    podman = _image_run("podman")
    assert podman["container"]["gpus"]["each"] == ["--device", "nvidia.com/gpu={}"]
    assert podman["argv"][podman["container"]["gpus"]["at"] :][:1] == ["-v"]
    # pyxis first where srun has it: it hands the allocation's GPUs over itself
    both = render.runner_job(_job("H100:1", image="alpine:3"), RUN,
                             _cluster(node_runtimes={"podman", "pyxis"}))  # fmt: skip
    assert both["argv"][0] == "srun"  # type: ignore[index]


@pytest.fixture(scope="module")
def cluster_up() -> None:
    subprocess.run([str(ROOT / "scripts" / "slurm.sh")], check=True, capture_output=True)


def _bash(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", command], capture_output=True, text=True
    )


def test_script_writes_the_folder_and_runs_the_runner(tmp_path: Path) -> None:
    """The script run by bash (as slurmd would, minus SLURM): user strings stay data."""
    lib = tmp_path / "lib"
    lib.mkdir()
    for module in (runner, hwinfo):
        shutil.copy(module.__file__, lib)
    (tmp_path / "runs").mkdir()
    name = "dir with space/it's $(touch x).txt"
    job = _job(
        env={"EVIL": HOSTILE},
        script=("script", b'#!/bin/sh\ncat "dir with space/"*; printf %s "$EVIL" >&2\n'),
        files=[(name, HOSTILE.encode(), False), ("bin.dat", bytes(range(256)), True)],
        timeout_s=60,
    )
    run_id = uuid.uuid4()
    text = render.script(job, run_id, "n", _cluster(base=str(tmp_path)), str(lib))
    done = subprocess.run(
        ["bash", "-c", text],
        cwd=tmp_path / "runs",
        capture_output=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "runs" / str(run_id)
    assert (folder / "work" / name).read_bytes() == HOSTILE.encode()
    assert (folder / "work" / "bin.dat").read_bytes() == bytes(range(256))
    assert (folder / "work" / "bin.dat").stat().st_mode & 0o111
    status = json.loads((folder / "status.json").read_text())
    assert status["exit_code"] == 0
    assert (folder / "stdout").read_bytes() == HOSTILE.encode()
    assert (folder / "stderr").read_bytes() == HOSTILE.encode()
    assert not Path("/tmp/tessera-pwned").exists() and not (folder / "x").exists()


def test_place_command_submits_once_and_adopts(cluster_up: None, tmp_path: Path) -> None:
    run_id = uuid.uuid4()
    cluster = _cluster(base=str(tmp_path))
    (tmp_path / "runs").mkdir()
    text = render.script(_job(env={"EVIL": HOSTILE}, timeout_s=60), run_id, "n", cluster, "/lib")
    # Held, so the test's job never takes the cluster's GPUs.
    command = render.place_command(run_id, cluster, text.replace("--nodes=1", "--hold"))
    try:
        first = _bash(command)
        assert first.returncode == 0, first.stderr
        assert first.stdout.split()[0] == "new"
        job_id = first.stdout.split()[1]
        assert _bash(command).stdout.split() == ["adopt", job_id]
        # Killed between sbatch and writing the job id: found by its job name.
        (tmp_path / "runs" / f"{run_id}.jobid").write_text("")
        third = _bash(command)
        assert third.stdout.split() == ["adopt", job_id], third.stderr
        stored = _bash(f"scontrol write batch_script {job_id} -").stdout
        assert stored.rstrip("\n") == text.replace("--nodes=1", "--hold").rstrip("\n")
    finally:
        _bash(f"scancel --name={shlex.quote(render.job_name(run_id))}")


def test_discovery_reads_what_slurm_allocated() -> None:
    """Run by a real bash against the cluster of scripts/slurm.sh: the nodes with -d (GresUsed),
    sinfo, then the account's jobs, each section as nodes.listed reads it."""
    from shared.testbeds.slurm import nodes
    from shared.testbeds.slurm.config import SlurmConfig

    subprocess.run([str(ROOT / "scripts" / "slurm.sh")], check=True, capture_output=True)
    command = render.discover_command()
    assert "scontrol show node -d -o" in command and "squeue -h --me" in command
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)
    (found,) = nodes.listed(done.stdout, SlurmConfig(host="h", user="u"))
    assert found.node.gres_used is not None and found.partitions == ["debug"]
    assert nodes.held_by_others(found.node, found.tessera) is not None
    from shared.testbeds.slurm import parse

    # no slurmdbd here: accounts and qos unknown (sbatch judges them); no reservation now
    allowed = parse.allowed(*parse.sections(done.stdout)[3:5])
    assert allowed == {"accounts": None, "qos": None, "reservations": []}, done.stdout
