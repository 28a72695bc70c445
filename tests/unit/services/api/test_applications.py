from __future__ import annotations

import uuid

from services.api import applications as apps
from shared.applications.schemas import BuildConfiguration
from shared.config import Settings
from shared.specs import DeploymentSpec


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
