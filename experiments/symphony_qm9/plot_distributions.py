"""Sampled molecules against QM9: atoms per molecule, element frequencies and the distance from
each atom to its nearest neighbour (the bond-length scale), as one PNG.

Usage: python experiments/symphony_qm9/plot_distributions.py SAMPLES.sdf --out distributions.png
           [--reference embedded|qm9pack]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from genmol.data.molecules.qm9 import load_qm9
from genmol.errors import run_script
from genmol.io.molecules import read_molecules
from genmol.viz.figures import save_png

ELEMENTS = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F"}


def nearest_distances(ms) -> np.ndarray:
    out = []
    for i in range(len(ms)):
        p = ms.molecule(i).positions
        if len(p) < 2:
            continue
        d = np.linalg.norm(p[:, None] - p[None], axis=-1)
        np.fill_diagonal(d, np.inf)
        out.append(d.min(1))
    return np.concatenate(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples")
    ap.add_argument("--out", required=True)
    ap.add_argument("--reference", default="embedded")
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gen, _ = read_molecules(args.samples)
    ref = load_qm9(args.reference)
    if len(ref) > 20000:
        ref = ref.subset(np.random.default_rng(0).choice(len(ref), 20000, replace=False))
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    bins = np.arange(0.5, 36.5)
    ax[0].hist(ref.num_atoms, bins=bins, density=True, alpha=0.5, label=f"QM9 ({args.reference})")
    ax[0].hist(gen.num_atoms, bins=bins, density=True, alpha=0.5, label=f"samples ({Path(args.samples).name})")
    ax[0].set(xlabel="atoms per molecule", ylabel="fraction")
    ax[0].legend(fontsize=8)
    zs = list(ELEMENTS)
    fr = [np.mean(ref.atomic_numbers == z) for z in zs]
    fg = [np.mean(gen.atomic_numbers == z) for z in zs]
    x = np.arange(len(zs))
    ax[1].bar(x - 0.2, fr, 0.4, label="QM9")
    ax[1].bar(x + 0.2, fg, 0.4, label="samples")
    ax[1].set_xticks(x, [ELEMENTS[z] for z in zs])
    ax[1].set(ylabel="fraction of atoms")
    ax[1].legend(fontsize=8)
    dbins = np.linspace(0.6, 2.2, 81)
    ax[2].hist(nearest_distances(ref), bins=dbins, density=True, alpha=0.5, label="QM9")
    ax[2].hist(nearest_distances(gen), bins=dbins, density=True, alpha=0.5, label="samples")
    ax[2].set(xlabel="nearest-neighbour distance (Å)", ylabel="density")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_script(main)
