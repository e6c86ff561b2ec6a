"""Timing helper shared by the benchmark scripts (run them as ``python scripts/NAME.py``)."""

from __future__ import annotations

import os
import platform
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


def xla_cost(fn, *args) -> tuple[float, float]:
    """XLA's estimate of ``(flops, bytes accessed)`` of the jitted ``fn`` compiled for ``args`` (arrays or
    ``jax.ShapeDtypeStruct``); NaN where XLA reports none."""
    cost = fn.lower(*args).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost.get("flops", float("nan"))), float(cost.get("bytes accessed", float("nan")))


def cpu_name() -> str:
    """The CPU's model name, its core count and the vector extensions that change JAX's CPU speed (AVX-512,
    AMX, bfloat16 support), e.g. ``"AMD EPYC, 2 cores, avx2"``: absolute times differ several-fold between
    machines, so every benchmark file names the one it ran on (compare ratios measured in one run)."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    ext = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return f"{name}, {os.cpu_count()} cores" + (f", {' '.join(ext)}" if ext else "")
