"""The runner packs a workflow task's outputs (the files its globs match) into status.json."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from shared import runner


def test_matching_files_are_packed_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "part-1.json").write_text("1")
    (tmp_path / "sub" / "deep.json").write_text("2")
    (tmp_path / "other.txt").write_text("no")
    wanted = {"globs": ["part-*.json", "**/*.json", "*.tessera*"], "cap": 1000}
    (tmp_path / runner.OUTPUTS_FILE).write_text(json.dumps(wanted))
    found = runner._outputs(str(tmp_path))
    packed = {item["path"]: base64.b64decode(item["data"]) for item in found["outputs"]}
    assert packed == {"part-1.json": b"1", "sub/deep.json": b"2"}


def test_outputs_over_the_cap_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 100)
    (tmp_path / runner.OUTPUTS_FILE).write_text(json.dumps({"globs": ["big"], "cap": 10}))
    found = runner._outputs(str(tmp_path))
    assert found["outputs"] == [] and "over 10" in found["outputs_error"]


def test_a_run_of_no_workflow_leaves_no_outputs(tmp_path: Path) -> None:
    assert runner._outputs(str(tmp_path)) == {}
