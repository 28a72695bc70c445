"""The runner puts the GPUs its scheduler or host named into a container's command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from shared import hwinfo, runner


def test_a_container_command_gets_the_named_gpus(tmp_path: Path) -> None:
    """A real runner: the 'runtime' is echo, so stdout is the command line it was given."""
    (tmp_path / "work").mkdir()
    (tmp_path / "hwinfo.py").write_text(Path(hwinfo.__file__).read_text())
    gpus = {"from": "CUDA_VISIBLE_DEVICES", "at": 1, "each": ["--device", "nvidia.com/gpu={}"]}
    job = {
        "argv": ["/bin/echo", "image", "cmd"],
        "env": {"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": "1,3"},
        "timeout": 30,
        "container": {"gpus": gpus, "probe": ["/bin/echo", "{}"]},
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    done = subprocess.run([sys.executable, runner.__file__, str(tmp_path)], timeout=60)
    assert done.returncode == 0
    out = (tmp_path / "stdout").read_text()
    assert out == "--device nvidia.com/gpu=1 --device nvidia.com/gpu=3 image cmd\n"
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["exit_code"] == 0
