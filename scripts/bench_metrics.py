"""Molecule-metric speed on this CPU: 10,000 G-SchNet samples (EDM's released set).

Times ``evaluate_molecules`` for EDM stability/validity/uniqueness (vectorised bond tables
+ RDKit sanitisation), with novelty against the cached reference SMILES, with xyz2mol
(RDKit ``DetermineBonds``), and PoseBusters ``mol_fast`` on a subset.

Usage: python scripts/bench_metrics.py [--posebusters 500] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from genmol.errors import run_script
from genmol.eval.molecules import evaluate_molecules
from genmol.eval.reference import reference_smiles
from genmol.io.molecules import read_molecules
from benchtools import cpu_name

ROOT = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--file", default=str(ROOT / "tests/fixtures/qm9/gschnet_samples_edm.npz"))
    p.add_argument("--posebusters", type=int, default=500)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    ms, _ = read_molecules(a.file)
    ref, desc = reference_smiles("qm9")  # built and cached before timing
    rows = []

    def timed(label, n, **kw):
        sub = ms if n == len(ms) else ms.subset(range(n))
        t = time.perf_counter()
        r = evaluate_molecules(sub, **kw)
        dt = time.perf_counter() - t
        rows.append(f"| {label} | {n:,} | {dt:.2f} | {n / dt:,.0f} |")
        print(rows[-1], flush=True)
        return r

    timed("EDM stability + validity + uniqueness", len(ms), xyz2mol_metrics=False)
    timed("… + novelty (cached reference SMILES)", len(ms), xyz2mol_metrics=False, reference_smiles=ref)
    r = timed("… + xyz2mol validity/uniqueness (all metrics of `genmol evaluate molecules`)", len(ms),
              reference_smiles=ref)
    if a.posebusters:
        timed("… + PoseBusters mol_fast", a.posebusters, reference_smiles=ref, posebusters=True)
    text = "\n".join([
        "# Molecule-metric benchmark\n",
        f"Command: `python scripts/bench_metrics.py --posebusters {a.posebusters}`\n",
        f"Machine: {cpu_name()}; one process. Input: {a.file.split('/')[-1]} "
        f"(10,000 G-SchNet samples from EDM, 18.6 atoms each). Novelty reference: {desc}.\n",
        "| metrics | molecules | seconds | molecules/s |", "|---|---|---|---|", *rows, "",
        "Values of that run: " + ", ".join(f"{k} {v:.4f}" for k, v in r.summary.items() if k != "n") + ".",
        "The issue's budget is 10,000 molecules in under 30 s excluding PoseBusters.", ""])
    if a.out:
        from genmol.io.atomic import atomic_write_text

        atomic_write_text(a.out, text)
    print(text)


if __name__ == "__main__":
    run_script(main)
