"""What users send, checked field by field before anything runs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.specs import DeploymentSpec


def test_slurm_options_are_names_only() -> None:
    spec = DeploymentSpec.model_validate(
        {"command": ["true"], "requests": {"slurm": {"partition": "gpu", "qos": "high"}}}
    )
    assert spec.run_requests().slurm_options() == {"partition": "gpu", "qos": "high"}
    for bad in ({"partition": "gpu; rm -rf /"}, {"account": ""}, {"queue": "x"}):
        with pytest.raises(ValidationError, match="slurm"):
            DeploymentSpec.model_validate({"command": ["true"], "requests": {"slurm": bad}})
