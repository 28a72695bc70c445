"""`tessera workflow run|status|timeline` against the real stack."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from services.cli.user import exits
from tests.integration.conftest import Stack
from tests.integration.test_cli import Cli
from tests.integration.test_workflows import skeleton

pytestmark = pytest.mark.integration


def test_run_follows_the_workflow_and_timeline_saves_its_picture(
    stack: Stack, tmp_path: Path
) -> None:
    cli = Cli(stack, tmp_path, stack.token)
    body = skeleton(["local"])
    body["stages"][0]["tasks"][0]["count"] = 2
    spec = tmp_path / "skeleton.yaml"
    spec.write_text(yaml.safe_dump(body))
    done = cli("workflow", "run", str(spec))
    assert done.returncode == exits.OK, (done.stdout, done.stderr)
    assert "map" in done.stderr and "reduce" in done.stderr and "succeeded" in done.stderr
    detached = cli("workflow", "run", str(spec), "--detach", "--output", "json")
    assert detached.returncode == 0, detached.stderr
    workflow_id = json.loads(detached.stdout)["workflow_id"]
    status = cli("workflow", "status", workflow_id, "--output", "json")
    assert status.returncode == 0 and json.loads(status.stdout)["id"] == workflow_id
    picture = tmp_path / "timeline.svg"
    saved = cli("workflow", "timeline", workflow_id, "-o", str(picture))
    assert saved.returncode == 0, saved.stderr
    assert ET.parse(picture).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    broken = tmp_path / "broken.yaml"
    body["stages"][1]["depends_on"] = ["nowhere"]
    broken.write_text(yaml.safe_dump(body))
    refused = cli("workflow", "run", str(broken))
    assert refused.returncode == exits.USAGE and "nowhere" in refused.stderr
