"""Cost of denoising targets on this CPU: Kabsch vs exact matrix-Fisher vs series.

Batched ``denoising_target`` (jitted, float32) on 4,096 clouds of 20 and of 500 points;
medians in ms and ratios to Kabsch measured in the same run.

Usage: python scripts/bench_alignment.py [--batch 4096] [--reps 20] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import functools

import jax
from benchtools import cpu_name, median_ms
import jax.numpy as jnp

from genmol.errors import run_script
from genmol.geometry.rotations import random_rotation
from genmol.losses.alignment import denoising_target

METHODS = ("kabsch", "fisher", "fisher_series1", "fisher_series2")



def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    lines = ["# Alignment-target benchmark\n",
             f"Command: `python scripts/bench_alignment.py --batch {a.batch} --reps {a.reps}`\n",
             f"Machine: {cpu_name()}, {jax.device_count()} JAX CPU device(s), jax {jax.__version__}; "
             f"float32, jitted `denoising_target` on a batch of {a.batch} clouds (σ = 0.5 Å), median of {a.reps}. "
             "Each time includes centring, the 3×3 cross-covariance, the SVD and applying the rotation.\n",
             "| points | " + " | ".join(f"{m} ms" for m in METHODS) + " | " +
             " | ".join(f"{m} / kabsch" for m in METHODS[1:]) + " |",
             "|---" * (2 * len(METHODS)) + "|"]
    for n in (20, 500):
        k1, k2, k3 = jax.random.split(jax.random.key(n), 3)
        x0 = jax.random.normal(k1, (a.batch, n, 3)) * jnp.array([3.0, 2.0, 1.0])
        r = random_rotation(k2, (a.batch,))
        y = jnp.einsum("bij,bnj->bni", r, x0) + 0.5 * jax.random.normal(k3, x0.shape)
        times = {}
        for m in METHODS:
            fn = jax.jit(functools.partial(denoising_target, sigma=0.5, method=m))
            times[m] = median_ms(fn, x0, y, reps=a.reps)
        row = (f"| {n} | " + " | ".join(f"{times[m]:.2f}" for m in METHODS) + " | "
               + " | ".join(f"{times[m] / times['kabsch']:.2f}" for m in METHODS[1:]) + " |")
        print(row, flush=True)
        lines.append(row)
    text = "\n".join(lines) + "\n"
    if a.out:
        from genmol.io.atomic import atomic_write_text

        atomic_write_text(a.out, text)
    print(text)


if __name__ == "__main__":
    run_script(main)
