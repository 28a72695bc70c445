"""The Grafana dashboards and their provisioning hold together.

That every metric a panel queries exists in a real scrape is checked against a running
Prometheus, in tests/integration/test_metrics.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
BUILT_IN = {"__rate_interval", "__interval", "__range"}


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_the_four_dashboards_exist_with_distinct_uids() -> None:
    names = {path.stem for path in DASHBOARDS}
    assert names == {"overview", "accelerators", "builds", "queues"}
    uids = [_load(path)["uid"] for path in DASHBOARDS]
    assert len(set(uids)) == len(uids) and all(uid.startswith("tessera-") for uid in uids)


def test_the_datasource_is_provisioned_under_the_uid_the_panels_name() -> None:
    provisioned = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (datasource,) = provisioned["datasources"]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    for path in DASHBOARDS:
        for panel in _load(path)["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == datasource["uid"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_panels_are_laid_out_and_query_something(path: Path) -> None:
    dashboard = _load(path)
    panels = dashboard["panels"]
    assert len(panels) >= 6 and len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}  # fmt: skip
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(set(refs)) == len(refs)
        for target in panel["targets"]:
            assert target["expr"].strip()
            used = set(re.findall(r"\$(\w+)", target["expr"])) - BUILT_IN
            assert used <= variables, f"{panel['title']}: undefined {used - variables}"
