"""The EC2 side of the `ec2` testbed: clients (one per region, endpoint and key pair, each
call counted and timed out), the artifact store it needs (S3), and the catalog of offers
(DescribeInstanceTypes priced by DescribeSpotPriceHistory and the on-demand table)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from shared import hardware
from shared.config import get_settings
from shared.db.models import Testbed
from shared.s3store import S3Store, make_client
from shared.secrets import SecretError, decrypt
from shared.store import open_store
from shared.testbeds.base import Discovery, Job, Unreachable
from shared.testbeds.ec2 import nodes, parse
from shared.testbeds.ec2.config import Ec2Config, credentials

CATALOG_TTL_S = 300.0


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code") or "")


class Ec2Api:
    """What the connector's calls go through; kept per worker process."""

    def __init__(self, store: S3Store | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._catalog: dict[uuid.UUID, tuple[float, list[Any]]] = {}
        self.calls: dict[str, int] = {}  # API calls made, by name (the benchmark reads them)

    # ---- clients ----------------------------------------------------------------------------

    def config(self, testbed: Testbed) -> Ec2Config:
        try:
            return Ec2Config.model_validate(testbed.config)
        except ValidationError as error:
            raise Unreachable(f"invalid config: {error.errors()[0]['msg']}") from None

    def ec2(self, testbed: Testbed) -> Any:
        config = self.config(testbed)
        key_id = secret = None
        if testbed.credentials:
            try:
                key_id, secret = credentials(decrypt(testbed.credentials))
            except (SecretError, ValueError) as error:
                raise Unreachable(str(error)) from None
        where = (config.region, config.endpoint_url, key_id, secret, config.request_timeout_s)
        with self._lock:
            if where not in self._clients:
                self._clients[where] = make_client(
                    endpoint_url=config.endpoint_url,
                    region=config.region,
                    access_key_id=key_id,
                    secret_access_key=secret,
                    timeout_s=config.request_timeout_s,
                    service="ec2",
                )
            return self._clients[where]

    def store(self) -> S3Store:
        if self._store is None:
            made = open_store(get_settings())
            if not isinstance(made, S3Store):
                raise Unreachable("ec2 testbeds need an S3 artifact store (s3://BUCKET/PREFIX)")
            self._store = made
        return self._store

    def _call(self, client: Any, name: str, **params: Any) -> Any:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
        try:
            return getattr(client, name)(**params)
        except BotoCoreError as error:  # connection, timeout: the API cannot be reached
            raise Unreachable(f"EC2 {name}: {error}") from error

    # ---- offers -----------------------------------------------------------------------------

    def refresh(self, testbed: Testbed, probed: Mapping[str, dict[str, Any]]) -> Discovery:
        try:
            reports = self._offers(testbed, fresh=True)
        except (Unreachable, ClientError) as error:
            return Discovery(offline=str(error)[:500])
        if not reports:
            return Discovery(offline="no instance type of the testbed's is offered in its region")
        return Discovery(tuple(reports), missing="no longer offered")

    def _offers(self, testbed: Testbed, fresh: bool = False) -> list[Any]:
        """The testbed's instance types as priced node reports (cached for a while)."""
        with self._lock:
            cached = self._catalog.get(testbed.id)
        if cached is not None and not fresh and time.monotonic() - cached[0] < CATALOG_TTL_S:
            return cached[1]
        config = self.config(testbed)
        client = self.ec2(testbed)
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"MaxResults": 100}
            if config.instance_types:
                params = {"InstanceTypes": list(config.instance_types)}
            if token:
                params["NextToken"] = token
            page = self._call(client, "describe_instance_types", **params)
            items += page.get("InstanceTypes", [])
            token = page.get("NextToken")
            if not token:
                break
        arches = list(config.images)
        items = [i for i in items if nodes.wanted(i, config.instance_types, arches)]
        spot: dict[str, tuple[float, str]] = {}
        if config.spot and items:
            names = sorted({str(i["InstanceType"]) for i in items})
            for start in range(0, len(names), 100):
                history = self._call(
                    client,
                    "describe_spot_price_history",
                    InstanceTypes=names[start : start + 100],
                    ProductDescriptions=["Linux/UNIX", "Linux/UNIX (Amazon VPC)"],
                    StartTime=datetime.now(UTC),
                )
                spot.update(nodes.spot_prices(history.get("SpotPriceHistory", [])))
        reports = [
            nodes.offer(
                i,
                testbed.name,
                config.region,
                arches,
                spot.get(str(i["InstanceType"])),
                config.spot,
            )
            for i in sorted(items, key=lambda i: str(i["InstanceType"]))
        ]
        with self._lock:
            self._catalog[testbed.id] = (time.monotonic(), reports)
        return reports

    def _fitting(self, testbed: Testbed, job: Job, chosen: str) -> list[dict[str, Any]]:
        """The offers (their `ec2` entries) that fit the job, the chosen one among them."""
        found = []
        for report in self._offers(testbed):
            if report.name != chosen and hardware.match(job.hardware, report.info):
                continue
            if report.name != chosen and job.cpu and (report.info.cores or 0) < job.cpu:
                continue
            if (
                report.name != chosen
                and job.memory
                and (report.info.memory_bytes or 0) < job.memory
            ):
                continue
            found.append(report.inventory["ec2"])
        return found

    # ---- placing ----------------------------------------------------------------------------

    def _find(self, client: Any, filters: list[dict[str, Any]]) -> list[parse.Instance]:
        found: list[parse.Instance] = []
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            page = self._call(
                client, "describe_instances", Filters=filters, MaxResults=1000, **extra
            )
            found += parse.instances(page.get("Reservations", []))
            token = page.get("NextToken")
            if not token:
                return found

    def _price(self, testbed: Testbed, instance_type: str, lifecycle: str) -> float | None:
        for report in self._offers(testbed):
            if report.name == instance_type:
                entry = report.inventory["ec2"]
                found = entry["spot_price" if lifecycle == "spot" else "on_demand_price"]
                return None if found is None else float(found)
        return None
