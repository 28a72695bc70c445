from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.testbeds.ec2.config import Ec2Config, credentials

SSM = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
GOOD: dict[str, Any] = {"region": "us-east-1", "images": {"x86_64": "ami-0abc1234"}}


def test_defaults_and_a_full_config() -> None:
    config = Ec2Config.model_validate(GOOD)
    assert config.spot and config.on_demand_fallback and config.max_instances == 20
    full = Ec2Config.model_validate(
        {
            **GOOD,
            "endpoint_url": "http://127.0.0.1:5055",
            "subnet_id": "subnet-0123abcd",
            "security_group_ids": ["sg-0123abcd"],
            "key_name": "me",
            "images": {"x86_64": "ami-0abc1234", "arm64": SSM},
            "instance_types": ["g5.xlarge", "p5.48xlarge"],
            "max_price_per_hour": 2.5,
            "tags": {"team": "hads"},
        }
    )
    assert full.images["arm64"].startswith("resolve:ssm:/")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"region": "mars"}, "region"),
        ({"images": {"sparc": "ami-1"}}, "images"),
        ({"images": {"x86_64": "ami-1; rm -rf /"}}, "images"),
        ({"images": {}}, "images"),
        ({"instance_types": ["g5.xlarge; reboot"]}, "instance_types"),
        ({"security_group_ids": ["default"]}, "security_group_ids"),
        ({"subnet_id": "subnet-$(id)"}, "subnet_id"),
        ({"tags": {"tessera:run": "x"}}, "tags"),
        ({"tags": {"aws:x": "x"}}, "tags"),
        ({"max_instances": 0}, "max_instances"),
        ({"endpoint_url": "file:///etc/passwd"}, "endpoint_url"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_configs_name_the_field(change: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as error:
        Ec2Config.model_validate({**GOOD, **change})
    assert error.value.errors()[0]["loc"][0] == where


def test_credentials() -> None:
    assert credentials("AKIAEXAMPLE:sec/ret+x") == ("AKIAEXAMPLE", "sec/ret+x")
    assert credentials('{"access_key_id": "AKIA1", "secret_access_key": "s"}') == ("AKIA1", "s")
    for bad in ("nocolon", ":secret", "AKIA:", "AK IA:x"):
        with pytest.raises(ValueError):
            credentials(bad)
