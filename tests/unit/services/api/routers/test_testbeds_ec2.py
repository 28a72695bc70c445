"""Adding an ec2 testbed: its config checked field by field, its key pair write-only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from services.cli.server import _migrate
from shared.db.models import Testbed
from shared.secrets import decrypt
from tests.unit.services.api.conftest import running

CONFIG: dict[str, Any] = {
    "region": "eu-west-1",
    "images": {"arm64": "ami-0abc1234"},
    "instance_types": ["g5g.xlarge"],
    "spot": True,
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"config": {**CONFIG, "region": "Mars-1"}}, "config.region"),
        ({"config": {**CONFIG, "images": {"x86_64": "ubuntu"}}}, "config.images"),
        ({"config": {**CONFIG, "max_price_per_hour": -1}}, "config.max_price_per_hour"),
        ({"config": {**CONFIG, "tags": {"tessera:key": "x"}}}, "config.tags"),
        ({"config": {"images": {"arm64": "ami-1"}}}, "config.region"),
        ({"config": CONFIG, "credentials": "just-a-key"}, "credentials"),
    ],
)
def test_bad_ec2_testbeds_name_the_field(
    settings: Any, monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], field: str
) -> None:
    with running("sqlite", monkeypatch) as api:
        response = api.client.post(
            "/api/v1/testbeds",
            json={"name": "cloud", "kind": "ec2", **body},
            headers=api.auth("admin"),
        )
    assert response.status_code == 422, response.text
    assert field in response.text


def test_an_ec2_testbed_keeps_its_key_pair_encrypted(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running("sqlite", monkeypatch) as api:
        response = api.client.post(
            "/api/v1/testbeds",
            json={
                "name": "cloud",
                "kind": "ec2",
                "config": CONFIG,
                "credentials": "AKIAEXAMPLE:s3cr3t/key",
            },
            headers=api.auth("admin"),
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["kind"] == "ec2" and body["has_credentials"] is True
        assert "s3cr3t" not in response.text and body["config"]["on_demand_fallback"] is True
        listed = api.client.get("/api/v1/testbeds", headers=api.auth("admin")).text
        assert "s3cr3t" not in listed
    _migrate(settings)
    from services import worker

    with worker.transaction() as session:
        row = session.execute(select(Testbed).where(Testbed.name == "cloud")).scalar_one()
        assert row.credentials and b"s3cr3t" not in row.credentials.encode()
        assert decrypt(row.credentials) == "AKIAEXAMPLE:s3cr3t/key"
