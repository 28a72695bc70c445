"""Reading Jobs and pods (shared/testbeds/kubernetes/parse.py)."""

from __future__ import annotations

from shared.testbeds.kubernetes.parse import scheduler_info, slim_job, slim_pod, with_scheduler


def test_slim_pod_keeps_what_tessera_reads() -> None:
    """The connector remembers each tracked run's pod between cycles: only these fields."""

    pod = {
        "metadata": {
            "name": "run-1-abcde",
            "labels": {"job-name": "run-1"},
            "creationTimestamp": "2026-12-02T10:00:00Z",
            "annotations": {"tessera.io/script-sha256": "ab" * 32, "other": "x" * 1000},
            "managedFields": [{"big": "y" * 10000}],
        },
        "spec": {
            "nodeName": "gpu-1",
            "nodeSelector": {"a": "b"},
            "volumes": [{"configMap": {"name": "c"}}],
            "containers": [
                {"name": "main", "image": "img", "resources": {"limits": {"cpu": "1"}}, "env": []}
            ],
            "initContainers": [{"name": "probe", "image": "tessera", "command": ["x"]}],
        },
        "status": {"phase": "Running"},
    }
    slim = slim_pod(pod)
    assert "managedFields" not in slim["metadata"] and "volumes" not in slim["spec"]
    assert slim["metadata"]["annotations"] == {"tessera.io/script-sha256": "ab" * 32}
    assert scheduler_info(slim, "ns") == scheduler_info(pod, "ns")
    assert slim_job(
        {"metadata": {"name": "j", "uid": "u"}, "spec": {}, "status": {"active": 1}}
    ) == {
        "metadata": {"name": "j"},
        "status": {"active": 1},
    }


def test_the_schedulers_view_joins_the_probes_hwinfo() -> None:
    pod = {"metadata": {"name": "run-1-abcde"}, "spec": {"nodeName": "gpu-1"}, "status": {}}
    probed = {"hostname": "gpu-1", "scheduler": {"kind": "probe-said"}}
    joined = with_scheduler(probed, pod, "ns")
    assert joined["scheduler"]["kind"] == "probe-said"  # the probe's own fields are kept
    assert joined["scheduler"]["kubernetes"] == scheduler_info(pod, "ns")
    assert probed == {"hostname": "gpu-1", "scheduler": {"kind": "probe-said"}}  # unchanged
    assert with_scheduler({"hostname": "h"}, pod, "ns")["scheduler"]["kind"] == "kubernetes"
    assert with_scheduler({"hostname": "h"}, None, "ns") == {"hostname": "h"}
