from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.testbed_create_config import TestbedCreateConfig


T = TypeVar("T", bound="TestbedCreate")


@_attrs_define
class TestbedCreate:
    """
    Attributes:
        name (str):
        kind (str): local, slurm, kubernetes, ssh or ec2
        config (TestbedCreateConfig | Unset): slurm: host, port, user, host_key, partition, account, qos, gres_types,
            gres_vendor, work_dir, max_sessions, accounting. kubernetes: in_cluster, context, namespace, gpu_label,
            gpu_models, gpu_resources, tolerations, image_pull_secret, host_image, tessera_image, run_as_user, run_as_group,
            ttl_after_finished_s, service_account, request_timeout_s, live_log_interval_s, live_logs_per_cycle. ssh: hosts
            (host, port, user, host_key, name), work_dir, max_sessions. ec2: region, endpoint_url, subnet_id,
            security_group_ids, key_name, images ({x86_64, arm64}: AMI or resolve:ssm:), instance_types, spot,
            max_price_per_hour, on_demand_fallback, max_instances, idle_timeout_s, tags, request_timeout_s.
        credentials (None | str | Unset): Write-only, encrypted at rest, never returned. slurm: the SSH private key.
            kubernetes: the kubeconfig (YAML or JSON; embedded tokens or certificates only). ec2: ACCESS_KEY_ID:SECRET, or
            none for the role the workers run under.
    """

    name: str
    kind: str
    config: TestbedCreateConfig | Unset = UNSET
    credentials: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        kind = self.kind

        config: dict[str, Any] | Unset = UNSET
        if not isinstance(self.config, Unset):
            config = self.config.to_dict()

        credentials: None | str | Unset
        if isinstance(self.credentials, Unset):
            credentials = UNSET
        else:
            credentials = self.credentials

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "kind": kind,
            }
        )
        if config is not UNSET:
            field_dict["config"] = config
        if credentials is not UNSET:
            field_dict["credentials"] = credentials

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.testbed_create_config import TestbedCreateConfig  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        kind = d.pop("kind")

        _config = d.pop("config", UNSET)
        config: TestbedCreateConfig | Unset
        if isinstance(_config, Unset):
            config = UNSET
        else:
            config = TestbedCreateConfig.from_dict(_config)

        def _parse_credentials(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        credentials = _parse_credentials(d.pop("credentials", UNSET))

        testbed_create = cls(
            name=name,
            kind=kind,
            config=config,
            credentials=credentials,
        )

        return testbed_create
