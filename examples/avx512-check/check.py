#!/usr/bin/env python3
"""Report the node's AVX-512 extensions (from /proc/cpuinfo) and time a dot product, as JSON."""

import json
import os
import platform
import time
from array import array


def cpu_flags() -> set[str]:
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


flags = cpu_flags()
values = array("d", (float(i % 97) for i in range(1_000_000)))
start = time.perf_counter()
total = sum(x * x for x in values)
seconds = time.perf_counter() - start
print(
    json.dumps(
        {
            "machine": platform.machine(),
            "avx512f": "avx512f" in flags,
            "avx512": sorted(flag for flag in flags if flag.startswith("avx512")),
            "cpus": os.cpu_count(),
            "sum_of_squares": total,
            "seconds": round(seconds, 4),
        }
    )
)
