"""The record's table from experiments/jump_ala2/results/*.json (written by evaluate.sh): one row per rollout.

Usage: python experiments/jump_ala2/table.py [NAME ...]   (default: every alanine-dipeptide results/*.json, sorted)
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEYS = ("phi_psi_jsd", "population_alpha_R", "population_beta_PPII", "population_alpha_L")


def row(name: str) -> str:
    d = json.loads((HERE / "results" / f"{name}.json").read_text())
    t = {r["key"]: r for r in d["table"]}
    trans = next((r for k, r in t.items() if k == "alpha_R_beta_per_ns"), None)
    bonds = next((r for k, r in t.items() if k == "bond_worst_excess"), None)
    sim = (HERE / "results" / f"{name}.simulate.txt").read_text().strip()
    frames = sim.split("wrote ")[1].split(" frames")[0] if "wrote " in sim else "?"
    cells = [name, frames]
    for k in KEYS:
        r, f = t[k], ".4f" if k == "population_alpha_L" else ".3f"
        ref = "" if r["reference"] is None else f" / {r['reference']:{f}}"
        cells.append(f"{r['model']:{f}}{ref} (±{r['noise_floor']:{f}})")
    if trans is not None:
        cells.append(f"{trans['model']:.1f} / {trans['reference']:.1f} (±{trans['noise_floor']:.1f})")
    else:
        cells.append("—")
    cells.append(f"{bonds['model']:.2f}" if bonds is not None else "—")
    return "| " + " | ".join(cells) + " |"


def main():
    names = sys.argv[1:] or sorted(p.stem for p in (HERE / "results").glob("*.json")
                                   if not p.stem.startswith("trpcage"))
    print("| rollout | walkers × frames | φ/ψ JSD (nats; noise floor) | αR model / MD | β+PPII model / MD | "
          "αL model / MD | αR↔β per ns at the jump's lag, model / MD | worst bond beyond the MD's range (Å) |")
    print("|---|---|---|---|---|---|---|---|")
    for n in names:
        print(row(n))


if __name__ == "__main__":
    main()
