"""The strides table and figure of experiments/ophiuchus_proteins/README.md, from the committed records.

    python experiments/ophiuchus_proteins/strides_table.py [--out experiments/ophiuchus_proteins/strides.png]

Reads, for R = 1, 2, 4, 8, 16 residues per latent node (10,000 steps each; R = 4 is the shipped model before its
continuation), the whole-test-chain metrics written by ``genmol reconstruct protein ... --json``
(``test_metrics_stride{R}.json``, made by ``strides.sh R``), the model's parameters (``models/stride{R}``) and its
training log (``metrics_*.jsonl``: training time from the logged steps per second). Prints the markdown table;
writes the figure.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STRIDES = (1, 2, 4, 8, 16)
LATENT_PER_NODE = 16 + 16 * 3 + 3  # 16x0e + 16x1o and the node's position

COLUMNS = [  # (metric key, header, format)
    ("ca_rmsd", "Cα RMSD Å", "{:.3f}"), ("all_atom_rmsd", "all-atom RMSD Å", "{:.3f}"),
    ("gdt_ts", "GDT-TS", "{:.3f}"), ("gdt_ha", "GDT-HA", "{:.3f}"), ("lddt", "lDDT (all atom)", "{:.3f}"),
    ("ca_lddt", "Cα lDDT", "{:.3f}"), ("tm_score", "TM-score", "{:.3f}"), ("residue_recovery", "recovery", "{:.3f}"),
    ("bond_length_rmsd", "bond-length RMSD Å", "{:.3f}"), ("bond_angle_rmsd", "bond-angle RMSD °", "{:.1f}"),
    ("peptide_bond_fraction", "C–N in 1.33 ± 0.1 Å", "{:.3f}"),
    ("clashes_per_100_residues", "clashes / 100 res", "{:.1f}"),
]


def paths(r: int) -> tuple[Path, Path, Path]:
    """(test metrics JSON, model directory, training log) of the model at ``r`` residues per node."""
    log = HERE / ("metrics_autoencoder.jsonl" if r == 4 else f"metrics_stride{r}.jsonl")  # the first 10,000 steps
    return HERE / f"test_metrics_stride{r}.json", HERE / f"models/stride{r}", log


def num_params(model_dir: Path) -> int | None:
    f = model_dir / "params.npz"
    if not f.is_file():
        return None
    with np.load(f) as z:
        return int(sum(z[k].size for k in z.files))


def train_minutes(log: Path) -> float | None:
    """Minutes of training: logged windows of steps over their steps per second."""
    if not log.is_file():
        return None
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "steps_per_s" in r]
    total, last = 0.0, 0
    for r in rows:
        total += (r["step"] - last) / r["steps_per_s"]
        last = r["step"]
    return total / 60 if rows else None


def load() -> dict[int, dict]:
    out = {}
    for r in STRIDES:
        metrics, model, log = paths(r)
        if not metrics.is_file():
            continue
        d = json.loads(metrics.read_text())
        out[r] = dict(mean=d["mean"], n=len(d["structures"]), params=num_params(model), minutes=train_minutes(log))
    return out


def table(rows: dict[int, dict]) -> str:
    head = ["stride (residues / latent node)", "latent numbers / residue", "params", "training min"]
    head += [h for _, h, _ in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r, row in rows.items():
        cells = [str(r), f"{LATENT_PER_NODE / r:.2f}",
                 f"{row['params'] / 1e6:.2f} M" if row["params"] else "—",
                 f"{row['minutes']:.0f}" if row["minutes"] else "—"]
        for key, _, fmt in COLUMNS:
            m = row["mean"].get(key)
            cells.append(f"{fmt.format(m['mean'])} ± {fmt.format(m['std'])}" if m else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(rows: dict[int, dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = np.array(sorted(rows))
    def series(key):
        return (np.array([rows[i]["mean"][key]["mean"] for i in r]), np.array([rows[i]["mean"][key]["std"] for i in r]))

    panels = [("RMSD after superposition (Å)", [("ca_rmsd", "Cα"), ("all_atom_rmsd", "all heavy atoms")]),
              ("global / local accuracy",
               [("gdt_ts", "GDT-TS"), ("lddt", "lDDT (all atom)"), ("tm_score", "TM-score")]),
              ("residue recovery", [("residue_recovery", "recovery")]),
              ("bond-length RMSD (Å)", [("bond_length_rmsd", "bond lengths")])]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    for ax, (title, keys) in zip(axes, panels):
        for key, label in keys:
            m, s = series(key)
            ax.errorbar(r, m, yerr=s, marker="o", capsize=3, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(r, [str(i) for i in r])
        ax.set_xlabel("residues per latent node")
        ax.set_title(title, fontsize=10)
        if len(keys) > 1:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    n = {rows[i]["n"] for i in r}
    fig.suptitle(f"Autoencoder against compression: held-out test chains (whole, n = {'/'.join(map(str, n))}), "
                 "mean ± sd", fontsize=11)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "strides.png")
    args = ap.parse_args()
    rows = load()
    print(table(rows))
    figure(rows, args.out)


if __name__ == "__main__":
    main()
