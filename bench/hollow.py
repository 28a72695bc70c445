"""Hollow Kubernetes clusters for bench/scale.py, in a process of their own (so serving them
does not share the benchmark's interpreter with the monitor it measures).

`python bench/hollow.py N` starts N API server test doubles (tests/kubeapi) with their
kubelet off (`run_containers=False`: pods are scheduled and reported Running, no process is
started, as Kubemark's hollow nodes do) and one node each with room for thousands of pods.
It prints one JSON line, the kubeconfig of each, then answers lines on stdin:
`submissions` -> a JSON line with, for every Job name, how many times a Job of that name was
submitted (POST, taken or refused as AlreadyExists); `quit` (or EOF) stops.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402

from tests.kubeapi import KubeApi, node  # noqa: E402


class CountingApi(KubeApi):
    """The double, counting every submission of a Job by its name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.submitted: Counter[str] = Counter()

    def _create(self, store: dict[Any, Any], resource: str, namespace: str, obj: Any) -> Any:
        if resource == "jobs":
            with self.lock:
                self.submitted[str((obj.get("metadata") or {}).get("name"))] += 1
        return super()._create(store, resource, namespace, obj)


def main() -> int:
    count = int(sys.argv[1])
    # Ten clusters of thousands of Jobs and pods are millions of dicts in this process: the
    # cyclic collector's full passes over them took most of the time the lists took to serve,
    # and a real API server has no such pauses. The stores form no cycles.
    gc.disable()
    # They stand for clusters on machines of their own: serving them comes after the API and
    # the workers on this one. SCHED_IDLE, not only nice 19: a task of the API that wakes
    # takes the core at once, not at the end of this one's slice (the threads serving the
    # clusters are started below and inherit it).
    os.nice(19)
    if hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    doubles = [
        CountingApi(
            [node("hollow-0", cpu="100000", memory="64Ti", extended={"pods": "100000"})],
            run_containers=False,
        ).start()
        for _ in range(count)
    ]
    try:
        print(json.dumps([api.kubeconfig() for api in doubles]), flush=True)
        for line in sys.stdin:
            if line.strip() == "submissions":
                merged: Counter[str] = Counter()
                for api in doubles:
                    merged.update(api.submitted)
                print(json.dumps(merged), flush=True)
            elif line.strip() == "quit":
                break
    finally:
        for api in doubles:
            api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
