from __future__ import annotations

import uuid
from typing import Any

from services.api import applications as apps
from shared.applications.schemas import BuildConfiguration
from shared.config import Settings
from shared.db.models import Run
from shared.schemas import DeploymentSpec


def _run(state: str, reason: str | None = None) -> Run:
    return Run(id=uuid.uuid4(), state=state, state_reason=reason)


def test_a_succeeded_build_with_its_archive_is_compiled() -> None:
    result: dict[str, Any] = {"stdout": {"tessera_build": {"archive_b64": "eA==", "sha256": "x"}}}
    state, reason, built = apps._outcome(_run("succeeded"), result)
    assert (state, reason) == ("compiled", None) and built["sha256"] == "x"


def test_failures_say_why() -> None:
    assert apps._outcome(_run("failed", "exit code 2"), {"stdout": "x"})[:2] == (
        "failed",
        "the build failed: exit code 2",
    )
    assert apps._outcome(_run("cancelled"), None)[1] == "the build was cancelled"
    truncated = {"stdout": "...", "stdout_truncated": True}
    assert "log cap" in str(apps._outcome(_run("failed"), truncated)[1])


def test_a_refusal_names_the_entry() -> None:
    error = apps.refuse("../../etc/x", "'..' component")
    assert error.status_code == 422 and "../../etc/x" in error.detail
    assert error.fields[0].field == "body.../../etc/x"


def test_the_build_deployment_is_a_valid_deployment(settings: Settings) -> None:
    config = BuildConfiguration.model_validate(
        {
            "name": "avx2",
            "hardware": {"cpu": {"flags": ["avx2"]}},
            "build_script": ["make"],
            "artifacts": ["bin/*"],
            "timeout": 100,
        }
    )
    executable = uuid.uuid4()
    spec = apps.build_deployment(config, executable, settings)
    assert spec["build_of"] == str(executable) and spec["timeout"] == 220
    parsed = DeploymentSpec.model_validate({k: v for k, v in spec.items() if k != "build_of"})
    assert parsed.requests is not None and parsed.requests.hardware == {"cpu": {"flags": ["avx2"]}}
