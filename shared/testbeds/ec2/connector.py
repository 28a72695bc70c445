"""The `ec2` testbed: cloud instances launched per run attempt, spot first with on-demand
fallback, results and logs through S3 (the artifact store must be `s3://`).

Nodes are offers: one per instance type the testbed allows, priced (nodes.py). Placing an
attempt looks for an instance tagged with its key first (a re-delivered placement adopts it),
then tries the fitting offers in order (render.ordered_offers) with a client token per try;
capacity and price refusals move to the next. Monitoring is one DescribeInstances per testbed
(its region) per cycle, filtered by the testbed's tag, and one listing of its results prefix.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from shared import hwinfo, runner
from shared.db.models import Testbed
from shared.s3store import S3Store
from shared.testbeds.base import (
    Collected,
    Job,
    NoCapacity,
    Observation,
    Observations,
    RenderError,
    Tracked,
    Unreachable,
)
from shared.testbeds.ec2 import parse, render
from shared.testbeds.ec2.api import Ec2Api, error_code

KIND = "ec2"
log = logging.getLogger(__name__)
MAX_LOG_BYTES = 64 * 1024 * 1024
BUNDLE = ("bundle.tar.gz", "manifest.json")


class Ec2Connector(Ec2Api):
    kind: ClassVar[str] = KIND
    queues: ClassVar[bool] = True  # a pending instance is a run waiting to start

    def __init__(self, store: S3Store | None = None) -> None:
        super().__init__(store)
        self._seen: dict[uuid.UUID, parse.Instance] = {}  # the last cycle's instances by key
        self._outputs: dict[uuid.UUID, dict[str, int]] = {}
        self._logs: dict[uuid.UUID, dict[str, bytes]] = {}  # log parts fetched, by key
        self._tries: dict[uuid.UUID, list[dict[str, Any]]] = {}
        node_files = {"runner.py": runner.__file__, "hwinfo.py": hwinfo.__file__}
        self._node_files = {n: open(p, "rb").read() for n, p in node_files.items()}

    def place(
        self,
        testbed: Testbed,
        node: str,
        run_id: uuid.UUID,
        job: Job,
        inventory: Mapping[str, Any] | None = None,
    ) -> str:
        """Launch the attempt `run_id` (its key) on the cheapest fitting offer, or adopt the
        instance tagged with its key. NoCapacity when every offer was refused for capacity
        or price, or the testbed has max_instances running: the run waits."""
        config = self.config(testbed)
        client = self.ec2(testbed)
        real_run = str(job.env.get("TESSERA_RUN_ID") or run_id)
        attempt = int(str(job.env.get("TESSERA_ATTEMPT") or "1"))
        # Placed before (a re-delivery, a deployer killed after RunInstances): adopt it, in
        # whatever state (it may have ended already; the monitor reads how).
        tagged = self._find(client, [{"Name": f"tag:{render.TAG_KEY}", "Values": [str(run_id)]}])
        for item in parse.newest_by_key(tagged).values():
            price = self._price(testbed, item.instance_type, item.lifecycle)
            return parse.Ref(
                item.instance_id, item.instance_type, item.lifecycle, price, real_run, attempt
            ).text()
        mine = [
            {"Name": f"tag:{render.TAG_TESTBED}", "Values": [str(testbed.id)]},
            {"Name": "instance-state-name", "Values": list(parse.ACTIVE_STATES)},
        ]
        active = self._find(client, mine)
        if len(active) >= config.max_instances:
            raise NoCapacity(f"the testbed has {len(active)} of {config.max_instances} instances")
        store = self.store()
        try:
            bundle = render.bundle(job, self._node_files)
        except RenderError as error:
            return f"error:{error}"[:250]
        expires = int(job.timeout_s) + 6 * 3600
        store.put(render.bundle_key(testbed.id, run_id, "bundle.tar.gz"), bundle)
        made = render.manifest(testbed.id, run_id, lambda k, m: _link(store, k, m, expires))
        manifest_key = render.bundle_key(testbed.id, run_id, "manifest.json")
        store.put(manifest_key, json.dumps(made).encode())
        user_data = render.user_data(_link(store, manifest_key, "get", expires))
        spot = config.spot and render.spot_allowed(job)
        tries = render.ordered_offers(
            self._fitting(testbed, job, node), node, spot, config.on_demand_fallback
        )
        if config.max_price_per_hour is not None:
            tries = [t for t in tries if t[2] is None or t[2] <= config.max_price_per_hour]
        record: list[dict[str, Any]] = []
        with self._lock:
            self._tries[run_id] = record
        for instance_type, lifecycle, price in tries:
            arch = next(
                (
                    r.inventory["ec2"]["arch"]
                    for r in self._offers(testbed)
                    if r.name == instance_type
                ),
                "x86_64",
            )
            request = render.run_request(
                config=config,
                image=config.images[arch],
                instance_type=instance_type,
                lifecycle=lifecycle,
                key=run_id,
                run_id=real_run,
                attempt=attempt,
                testbed_id=testbed.id,
                user_data_text=user_data,
                max_price=config.max_price_per_hour,
            )
            try:
                launched = self._call(client, "run_instances", **request)
            except ClientError as error:
                code = error_code(error)
                message = str(error.response.get("Error", {}).get("Message") or "")[:300]
                record.append(
                    {
                        "instance_type": instance_type,
                        "lifecycle": lifecycle,
                        "error": code,
                        "message": message,
                    }
                )
                if code in parse.CAPACITY_ERRORS:
                    continue
                return f"error:RunInstances {instance_type} {lifecycle}: {code}: {message}"[:250]
            instance = launched["Instances"][0]
            record.append(
                {
                    "instance_type": instance_type,
                    "lifecycle": lifecycle,
                    "instance_id": instance["InstanceId"],
                    "price_per_hour": price,
                }
            )
            return parse.Ref(
                str(instance["InstanceId"]), instance_type, lifecycle, price, real_run, attempt
            ).text()
        refused = "; ".join(f"{t['instance_type']} {t['lifecycle']}: {t['error']}" for t in record)
        raise NoCapacity(f"every offer was refused ({refused or 'no offer fits'})"[:400])

    def placement_notes(self, key: uuid.UUID) -> dict[str, Any] | None:
        """What the last place of attempt `key` in this process tried (the deployer stores it
        on the attempt): each offer, and the error the API gave or the instance launched."""
        with self._lock:
            tries = self._tries.pop(key, None)
        return None if tries is None else {"ec2_tries": tries}

    # ---- monitoring -------------------------------------------------------------------------

    def observe(self, testbed: Testbed, runs: Sequence[Tracked]) -> Observations:
        """One DescribeInstances (the testbed's tag) and one listing of its results prefix."""
        client = self.ec2(testbed)
        found = self._find(
            client, [{"Name": f"tag:{render.TAG_TESTBED}", "Values": [str(testbed.id)]}]
        )
        prefix = render.results_prefix(testbed.id)
        with self._lock:
            self.calls["list_objects_v2"] = self.calls.get("list_objects_v2", 0) + 1
        try:
            grouped = parse.by_attempt(self.store().list(prefix), prefix)
        except (ClientError, BotoCoreError) as error:
            raise Unreachable(f"S3 listing of {prefix}: {error}") from error
        latest = parse.newest_by_key(found)
        seen: dict[uuid.UUID, Observation] = {}
        with self._lock:
            for run in runs:
                if (run.backend_ref or "").startswith("error:"):
                    seen[run.run_id] = Observation("ended", reason=run.backend_ref)
                    continue
                item = latest.get(run.run_id)
                outputs = grouped.get(str(run.run_id), {})
                if item is not None:
                    self._seen[run.run_id] = item
                self._outputs[run.run_id] = outputs
                seen[run.run_id] = parse.observation(item, outputs)
        idle = self._idle(
            testbed, [latest[k] for k in seen if k in latest and not grouped.get(str(k))]
        )
        for key, reason in idle.items():
            seen[key] = Observation("interrupted", reason=reason)
        return Observations(seen)

    def _idle(self, testbed: Testbed, silent: list[parse.Instance]) -> dict[uuid.UUID, str]:
        """Instances whose run never started (nothing uploaded) after idle_timeout_s: ended
        (an AMI without python3, a bootstrap that cannot reach S3); why, by attempt key."""
        limit = self.config(testbed).idle_timeout_s
        now = datetime.now(UTC)
        stuck = [
            i
            for i in silent
            if limit
            and i.state in parse.ACTIVE_STATES
            and i.launched is not None
            and (now - i.launched).total_seconds() > limit
        ]
        if stuck:
            ids = [i.instance_id for i in stuck]
            self._call(self.ec2(testbed), "terminate_instances", InstanceIds=ids)
        return {
            i.key: f"instance {i.instance_id} uploaded nothing in idle_timeout_s ({limit} s)"
            for i in stuck
            if i.key is not None
        }

    def orphans(self, testbed: Testbed, keep: set[uuid.UUID], older_than_s: float) -> list[str]:
        """Terminate Tessera's live instances on the testbed whose attempt key is not in
        `keep` and that were launched over `older_than_s` ago; their ids."""
        client = self.ec2(testbed)
        live = self._find(
            client,
            [
                {"Name": f"tag:{render.TAG_TESTBED}", "Values": [str(testbed.id)]},
                {"Name": "instance-state-name", "Values": list(parse.ACTIVE_STATES)},
            ],
        )
        now = datetime.now(UTC)
        ids = [
            i.instance_id
            for i in live
            if i.key not in keep
            and (i.launched is None or (now - i.launched).total_seconds() > older_than_s)
        ]
        if ids:
            self._call(client, "terminate_instances", InstanceIds=ids)
        return ids

    def live_log(self, testbed: Testbed, run: Tracked, known_size: int | None) -> bytes | None:
        with self._lock:
            outputs = dict(self._outputs.get(run.run_id, {}))
        parts = sorted(n for n in outputs if n.startswith("log/"))
        total = sum(outputs[n] for n in parts)
        if not parts or total == known_size:
            return None
        return self._log(testbed, run.run_id, parts, outputs)

    def _log(
        self, testbed: Testbed, key: uuid.UUID, parts: list[str], outputs: Mapping[str, int]
    ) -> bytes:
        store = self.store()
        with self._lock:
            have = self._logs.setdefault(key, {})
        for name in parts:
            if name not in have or len(have[name]) != outputs.get(name, -1) or name == parts[-1]:
                have[name] = store.get(render.result_key(testbed.id, key, name)) or b""
        return b"".join(have[n] for n in parts)[:MAX_LOG_BYTES]

    def collect(self, testbed: Testbed, run: Tracked, cap: int) -> Collected:
        """The attempt's outputs from S3; hwinfo gains the `cloud` block, usage the cost
        (this attempt's and the run's earlier ones'); the attempt's S3 objects are removed."""
        if (run.backend_ref or "").startswith("error:"):
            return Collected({"error": (run.backend_ref or "")[6:]}, {}, b"", b"", None)
        store = self.store()
        key = run.run_id
        ref = parse.ref(run.backend_ref)
        listing = store.list(f"{render.results_prefix(testbed.id)}{key}/")
        prefix = f"{render.results_prefix(testbed.id)}{key}/"
        outputs = {name[len(prefix) :]: size for name, size in listing.items()}
        got = {n: store.get(render.result_key(testbed.id, key, n)) for n in render.OUTPUTS}
        parts = sorted(n for n in outputs if n.startswith("log/"))
        log_data = self._log(testbed, key, parts, outputs) if parts else None
        status = _json(got["status.json"])
        found = _json(got["hwinfo.json"])
        with self._lock:
            item = self._seen.pop(key, None)
            self._outputs.pop(key, None)
            self._logs.pop(key, None)
        config = self.config(testbed)
        if ref is not None:
            now = datetime.now(UTC)
            spent = parse.cost(ref.price, item.launched if item else None, now)
            cloud = {
                "provider": "aws",
                "region": config.region,
                "zone": item.zone if item else None,
                "instance_type": ref.instance_type,
                "instance_id": ref.instance_id,
                "lifecycle": ref.lifecycle,
                "price_per_hour": ref.price,
            }
            if found or status:
                found["cloud"] = cloud
            mine = {
                "attempt": ref.attempt,
                **cloud,
                "cost": spent,
                "ended": "result" if status else "interrupted",
            }
            store.put(render.cost_key(ref.run_id, ref.attempt), json.dumps(mine).encode())
            if status:
                status["usage"] = _with_cost(status.get("usage"), store, ref.run_id)
        for name in [*listing, *(render.bundle_key(testbed.id, key, n) for n in BUNDLE)]:
            store.delete(name)
        return Collected(
            status=status,
            hwinfo=found,
            stdout=(got["stdout"] or b"")[:cap],
            stderr=(got["stderr"] or b"")[:cap],
            log=log_data,
        )

    def cancel(self, testbed: Testbed, run: Tracked) -> None:
        """Terminate the attempt's instance (by its id, and any other with its tag)."""
        ref = parse.ref(run.backend_ref)
        client = self.ec2(testbed)
        ids = {ref.instance_id} if ref else set()
        tagged = self._find(
            client,
            [
                {"Name": f"tag:{render.TAG_KEY}", "Values": [str(run.run_id)]},
                {"Name": "instance-state-name", "Values": list(parse.ACTIVE_STATES)},
            ],
        )
        ids |= {i.instance_id for i in tagged}
        if ids:
            try:
                self._call(client, "terminate_instances", InstanceIds=sorted(ids))
            except ClientError as error:
                if error_code(error) != "InvalidInstanceID.NotFound":
                    raise Unreachable(f"TerminateInstances: {error}") from error


def _link(store: S3Store, key: str, method: str, expires: int) -> str:
    url = store.url(key, expires, method)
    assert url is not None
    return url


def _json(data: bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(data or b"")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _with_cost(usage: Any, store: S3Store, run_id: str) -> dict[str, Any]:
    """The run's usage with what each of its attempts on EC2 cost, and the total."""
    out = dict(usage) if isinstance(usage, dict) else {}
    spent = []
    for name in sorted(store.list(f"ec2-costs/{run_id}/")):
        item = _json(store.get(name))
        if item:
            spent.append(item)
    spent.sort(key=lambda item: int(item.get("attempt") or 0))
    out["cost"] = {
        "currency": "USD",
        "total": round(sum(float(i.get("cost") or 0) for i in spent), 6),
        "attempts": spent,
    }
    return out
