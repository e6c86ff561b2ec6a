"""Timing helper shared by the benchmark scripts (run them as ``python scripts/NAME.py``)."""

from __future__ import annotations

import statistics
import time

import jax


def median_ms(fn, *args, reps: int) -> float:
    """Median wall time of ``fn(*args)`` in ms over ``reps`` runs, after one compiling call."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)
