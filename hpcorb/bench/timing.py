"""Timing helper shared by the benchmarks: medians, because the machines are shared."""
from __future__ import annotations

import statistics
import time


def median_time(fn, repeat: int) -> float:
    """Median wall time (s) of ``repeat`` calls of ``fn()``."""
    ts = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
