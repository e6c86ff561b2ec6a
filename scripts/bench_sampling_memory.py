"""Peak memory (RSS) of ``genmol sample molecules`` against ``--batch``, each in its own process.

Each row runs the command line exactly as a user would (shipped model, its recorded settings,
seed 0) and reads the child's peak resident set size from ``wait4``; the process includes the
JAX runtime, the model and XLA's compilations. Peak memory depends on ``--batch`` and
``--max-atoms``, not on ``--num`` (molecules are grown a batch at a time), which the last row
checks with the default batch.

Usage: python scripts/bench_sampling_memory.py [--batches 1 10 20 50] [--num 50] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from genmol.errors import run_script
from benchtools import cpu_name


def peak_rss(args: list[str]) -> tuple[float, float, str]:
    """``(peak RSS in GB, wall seconds, the command's last stderr line)`` of ``genmol ARGS``."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "genmol.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"genmol {' '.join(args)} failed:\n{err[-2000:]}")
    return usage.ru_maxrss / 1024**2, time.perf_counter() - t, err.strip().splitlines()[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 10, 20, 50])
    ap.add_argument("--num", type=int, default=50)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    rows = ["| --batch | --num | peak RSS (GB) | wall s (incl. model load and compile) | molecules/s (as printed) |",
            "|---|---|---|---|---|"]
    runs = [(b, max(args.num, b)) for b in args.batches] + [(10, 4 * args.num)]
    with tempfile.TemporaryDirectory() as tmp:
        for batch, num in runs:
            gb, wall, last = peak_rss(["sample", "molecules", "--num", str(num), "--batch", str(batch), "--out",
                                       os.path.join(tmp, "s.sdf")])
            rate = re.search(r"([0-9.]+) molecules/s", last)
            rows.append(f"| {batch} | {num} | {gb:.2f} | {wall:.0f} | {rate.group(1) if rate else '?'} |")
            print(rows[-1], flush=True)
    text = "\n".join([f"Command: `python scripts/bench_sampling_memory.py {' '.join(sys.argv[1:])}` (one run; "
                      f"{cpu_name()}).", "", *rows]) + "\n"
    print(text)
    if args.out:
        from genmol.io.atomic import atomic_write_text

        atomic_write_text(args.out, text)


if __name__ == "__main__":
    run_script(main)
