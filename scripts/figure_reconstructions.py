"""PNG of protein reconstructions overlaid on their inputs: Cα traces after a Cα superposition, one panel per chain.

Usage: python scripts/figure_reconstructions.py INPUT_DIR RECON_DIR --out FIG.png [--max 6]
(``RECON_DIR`` as written by ``genmol reconstruct protein INPUT_DIR --out RECON_DIR``: the same file names.)
"""

from __future__ import annotations

import argparse
from pathlib import Path


from genmol.errors import run_script
from genmol.eval.proteins import ca_rmsd
from genmol.geometry.kabsch import kabsch_np
from genmol.io.structures import read_structure
from genmol.viz.figures import save_png


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", type=Path)
    ap.add_argument("recons", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--max", type=int, default=6)
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = sorted(p for p in args.recons.iterdir() if p.suffix == ".pdb")[: args.max]
    fig = plt.figure(figsize=(4 * len(files), 4.4))
    for k, f in enumerate(files):
        ref, rec = read_structure(args.inputs / f.name), read_structure(f)
        keep = ref.atom_mask[:, 1] & rec.atom_mask[:, 1]
        x, y = ref.positions[keep, 1], rec.positions[keep, 1]
        r, t = kabsch_np(y, x)
        y = y @ r.T + t
        ax = fig.add_subplot(1, len(files), k + 1, projection="3d")
        ax.plot(*x.T, color="#888888", lw=2.2, label="input")
        ax.plot(*y.T, color="#d62728", lw=1.0, label="reconstruction")
        ax.set_title(f"{f.stem}: {len(x)} res, Cα RMSD {ca_rmsd(rec, ref):.2f} Å", fontsize=9)
        ax.set_axis_off()
        if k == 0:
            ax.legend(loc="lower left", fontsize=8)
    save_png(fig, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_script(main)
