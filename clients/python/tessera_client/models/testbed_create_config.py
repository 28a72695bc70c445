from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="TestbedCreateConfig")


@_attrs_define
class TestbedCreateConfig:
    """slurm: host, port, user, host_key, partition, account, qos, gres_types, gres_vendor, work_dir, max_sessions,
    accounting. kubernetes: in_cluster, context, namespace, gpu_label, gpu_models, gpu_resources, tolerations,
    image_pull_secret, host_image, tessera_image, run_as_user, run_as_group, ttl_after_finished_s, service_account,
    request_timeout_s, live_log_interval_s, live_logs_per_cycle. ssh: hosts (host, port, user, host_key, name),
    work_dir, max_sessions. ec2: region, endpoint_url, subnet_id, security_group_ids, key_name, images ({x86_64, arm64}:
    AMI or resolve:ssm:), instance_types, spot, max_price_per_hour, on_demand_fallback, max_instances, idle_timeout_s,
    tags, request_timeout_s.

    """

    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        testbed_create_config = cls()

        testbed_create_config.additional_properties = d
        return testbed_create_config

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
