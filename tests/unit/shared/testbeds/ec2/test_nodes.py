from __future__ import annotations

from typing import Any

from shared import hardware
from shared.testbeds.ec2 import nodes

G5: dict[str, Any] = {
    "InstanceType": "g5.xlarge",
    "VCpuInfo": {"DefaultVCpus": 4},
    "MemoryInfo": {"SizeInMiB": 16384},
    "ProcessorInfo": {"SupportedArchitectures": ["x86_64"], "Manufacturer": "AMD"},
    "GpuInfo": {"Gpus": [{"Name": "A10G", "Manufacturer": "NVIDIA", "Count": 1,
                          "MemoryInfo": {"SizeInMiB": 22888}}]},
    "SupportedUsageClasses": ["on-demand", "spot"],
}  # fmt: skip
INF2: dict[str, Any] = {
    "InstanceType": "inf2.xlarge",
    "VCpuInfo": {"DefaultVCpus": 4},
    "MemoryInfo": {"SizeInMiB": 16384},
    "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]},
    "NeuronInfo": {"NeuronDevices": [{"Count": 1, "Name": "Inferentia2",
                                      "MemoryInfo": {"SizeInMiB": 32768}}]},
    "SupportedUsageClasses": ["on-demand"],
}  # fmt: skip


def test_the_price_table_is_dated_and_sourced() -> None:
    table = nodes.price_table()
    assert table["date"] and "AWS" in table["source"]
    assert nodes.on_demand_price("us-east-1", "g5.xlarge") == (1.006, False)
    assert nodes.on_demand_price("eu-west-1", "g5.xlarge") == (1.006, True)  # estimated
    assert nodes.on_demand_price("us-east-1", "x9.huge") == (None, True)


def test_an_instance_type_is_a_node_priced_spot_first() -> None:
    report = nodes.offer(G5, "cloud", "us-east-1", ["x86_64"], (0.4, "us-east-1b"), True)
    assert report.name == "g5.xlarge" and report.info.cores == 4
    assert report.info.arch == "x86_64"
    assert report.inventory["runtimes"] == ["native"]
    assert report.inventory["ec2"]["lifecycle"] == "spot"
    assert report.inventory["ec2"]["price_per_hour"] == 0.4
    assert not hardware.match(hardware.parse_spec({"gpu": "A10G:1"}), report.info)
    assert hardware.match(hardware.parse_spec({"gpu": "A10G:2"}), report.info)
    demand = nodes.offer(G5, "cloud", "us-east-1", ["x86_64"], None, True)
    assert demand.inventory["ec2"]["lifecycle"] == "on-demand"
    assert demand.inventory["ec2"]["price_per_hour"] == 1.006


def test_neuron_devices_are_accelerators_and_spot_needs_the_usage_class() -> None:
    report = nodes.offer(INF2, "cloud", "us-east-1", ["x86_64"], (0.2, "a"), True)
    (device,) = report.inventory["accelerators"]
    assert device["kind"] == "accelerator" and device["model"] == "Inferentia2"
    assert report.inventory["ec2"]["lifecycle"] == "on-demand"  # no spot usage class


def test_wanted_families_allow_list_and_arch() -> None:
    assert nodes.wanted(G5, [], ["x86_64"])
    assert not nodes.wanted(G5, [], ["arm64"])
    assert not nodes.wanted(G5, ["p5.48xlarge"], ["x86_64"])
    assert not nodes.wanted({**G5, "InstanceType": "x1e.xlarge"}, [], ["x86_64"])


def test_spot_prices_lowest_zone() -> None:
    history = [
        {"InstanceType": "g5.xlarge", "SpotPrice": "0.5", "AvailabilityZone": "a"},
        {"InstanceType": "g5.xlarge", "SpotPrice": "0.3", "AvailabilityZone": "b"},
    ]
    assert nodes.spot_prices(history) == {"g5.xlarge": (0.3, "b")}
