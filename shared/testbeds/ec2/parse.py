"""Pure: what EC2 and the results listing say, read as observations; backend references."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.testbeds.base import Observation

# Errors of a try that another offer (or on-demand) may not get: move to the next.
CAPACITY_ERRORS = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "InsufficientHostCapacity",
        "InsufficientReservedInstanceCapacity",
        "SpotMaxPriceTooLow",
        "MaxSpotInstanceCountExceeded",
        "SpotCapacityNotAvailable",
        "InstanceLimitExceeded",
        "VcpuLimitExceeded",
        "Unsupported",
        "UnsupportedOperation",
        "InvalidParameterCombination",
    }
)
ACTIVE_STATES = ("pending", "running")
GONE_STATES = ("shutting-down", "terminated", "stopping", "stopped")


@dataclass(frozen=True)
class Instance:
    instance_id: str
    key: uuid.UUID | None
    run_id: str | None
    state: str
    reason: str | None  # StateReason's code and message, e.g. Server.SpotInstanceTermination
    launched: datetime | None
    instance_type: str
    zone: str | None
    lifecycle: str  # "spot" | "on-demand"


def _tags(item: Mapping[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in item.get("Tags", ())}


def instances(reservations: Iterable[Mapping[str, Any]]) -> list[Instance]:
    """The instances of DescribeInstances' reservations, with Tessera's tags read."""
    found = []
    for reservation in reservations:
        for item in reservation.get("Instances", ()):
            tags = _tags(item)
            try:
                key: uuid.UUID | None = uuid.UUID(tags.get("tessera:key", ""))
            except ValueError:
                key = None
            reason = item.get("StateReason") or {}
            text = " ".join(str(reason.get(k) or "") for k in ("Code", "Message")).strip()
            found.append(
                Instance(
                    instance_id=str(item["InstanceId"]),
                    key=key,
                    run_id=tags.get("tessera:run"),
                    state=str(item.get("State", {}).get("Name") or "unknown"),
                    reason=text or None,
                    launched=item.get("LaunchTime"),
                    instance_type=str(item.get("InstanceType") or ""),
                    zone=item.get("Placement", {}).get("AvailabilityZone"),
                    lifecycle="spot" if item.get("InstanceLifecycle") == "spot" else "on-demand",
                )
            )
    return found


def newest_by_key(found: Iterable[Instance]) -> dict[uuid.UUID, Instance]:
    """Per attempt key, its live instance if it has one, else its last one."""
    best: dict[uuid.UUID, Instance] = {}
    for item in found:
        if item.key is None:
            continue
        held = best.get(item.key)
        if held is None or (item.state in ACTIVE_STATES and held.state not in ACTIVE_STATES):
            best[item.key] = item
    return best


def observation(item: Instance | None, outputs: Mapping[str, int]) -> Observation:
    """Where the attempt is: `outputs` are its objects under the results prefix (name: size).
    status.json there: ended, whatever the instance does now. The instance gone without it:
    interrupted (spot reclaimed, terminated, stopped). Not listed at all: gone."""
    if "status.json" in outputs:
        return Observation("ended")
    if item is None:
        return Observation("gone", reason="no instance with its tag")
    if item.state in GONE_STATES:
        return Observation(
            "interrupted",
            reason=f"instance {item.instance_id} {item.state} before its result was uploaded"
            + (f" ({item.reason})" if item.reason else ""),
        )
    if item.state == "pending":
        return Observation("pending", reason=f"instance {item.instance_id} pending")
    return Observation("running")


def by_attempt(listing: Mapping[str, int], prefix: str) -> dict[str, dict[str, int]]:
    """One listing of the results prefix, by attempt key: {name under it: size}."""
    grouped: dict[str, dict[str, int]] = {}
    for name, size in listing.items():
        rest = name[len(prefix) :] if name.startswith(prefix) else name
        key, _, inner = rest.partition("/")
        if inner:
            grouped.setdefault(key, {})[inner] = size
    return grouped


@dataclass(frozen=True)
class Ref:
    """The backend reference of an attempt on EC2."""

    instance_id: str
    instance_type: str
    lifecycle: str
    price: float | None
    run_id: str
    attempt: int

    def text(self) -> str:
        price = "" if self.price is None else f"{self.price:.6g}"
        return "|".join(
            [
                "ec2",
                self.instance_id,
                self.instance_type,
                self.lifecycle,
                price,
                self.run_id,
                str(self.attempt),
            ]
        )


def ref(text: str | None) -> Ref | None:
    if not text or not text.startswith("ec2|"):
        return None
    parts = text.split("|")
    if len(parts) != 7:
        return None
    _, instance_id, instance_type, lifecycle, price, run_id, attempt = parts
    return Ref(
        instance_id,
        instance_type,
        lifecycle,
        float(price) if price else None,
        run_id,
        int(attempt) if attempt.isdigit() else 0,
    )


def cost(price: float | None, started: datetime | None, ended: datetime) -> float | None:
    """Hours x price (EC2 bills Linux by the second, one minute at least)."""
    if price is None or started is None:
        return None
    seconds = max(60.0, (ended - started).total_seconds())
    return round(seconds / 3600 * price, 10)
