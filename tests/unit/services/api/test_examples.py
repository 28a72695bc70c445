"""The OpenAPI request examples (services/api/examples.py): each one a body its schema accepts,
so what the interactive docs offer to send is never refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from services.api import examples
from services.api import schemas as api
from shared.applications.schemas import ApplicationCreate, BuildRequest, NodeDrain
from shared.config import Settings
from shared.specs import DeploymentSpec, InspectionSpec
from shared.workflow_spec import WorkflowSpec

BODIES: list[tuple[dict[str, Any], type[BaseModel]]] = [
    (examples.INSPECTION_EXAMPLES, InspectionSpec),
    (examples.DEPLOYMENT_EXAMPLES, DeploymentSpec),
    (examples.OFFER_EXAMPLES, api.OfferRequest),
    (examples.TESTBED_EXAMPLES, api.TestbedCreate),  # not imported: pytest would collect it
    (examples.APPLICATION_EXAMPLES, ApplicationCreate),
    (examples.BUILD_EXAMPLES, BuildRequest),
    (examples.DRAIN_EXAMPLES, NodeDrain),
    (examples.WORKFLOW_EXAMPLES, WorkflowSpec),
]


@pytest.mark.parametrize(("named", "model"), BODIES, ids=[model.__name__ for _, model in BODIES])
def test_every_example_is_a_body_its_schema_accepts(
    settings: Settings, named: dict[str, Any], model: type[BaseModel]
) -> None:
    assert named
    for name, example in named.items():
        assert example.get("summary"), name
        model.model_validate(example["value"])
