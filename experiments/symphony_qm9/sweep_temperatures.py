"""Sampling-temperature sweep for a Symphony model: molecules sampled at each (focus, position)
temperature pair and scored with the EDM and xyz2mol metrics (no novelty). A pair suffixed
``,grid`` samples without continuous refinement (atoms on the S² grid and bin radii); one suffixed
``,BxA`` (e.g. ``,60x119``) evaluates positions on that S² grid instead of the training grid; one
suffixed ``,mdD`` (e.g. ``,md0.9``) excludes positions within D Å of a non-focus atom; one suffixed
``,even`` allows STOP only at even electron counts; one suffixed ``,val`` turns on the valence guard.

Usage: python experiments/symphony_qm9/sweep_temperatures.py MODEL_DIR --num 200
           [--pairs 1,1 1,0.5 1,0.5,grid 0.5,0.25,grid,60x119 0.5,0.25,grid,md0.9 ...]
           [--out experiments/symphony_qm9/temperature_sweep.json]
"""

from __future__ import annotations

import argparse
import json

from genmol.eval.molecules import evaluate_molecules
from genmol.io.atomic import atomic_write_text
from genmol.data.molecules.molecule_set import MoleculeSet
from genmol.errors import GenmolError, run_script
from genmol.models.symphony.generate import generate_molecules
from genmol.models.symphony.settings import SamplingSettings
from genmol.models.store import load_model


def parse_pair(pair: str) -> SamplingSettings:
    """``"FT,PT[,grid][,BxA][,mdD][,even][,val]"`` -> the sampling settings; ValueError naming the pair
    otherwise."""
    parts = pair.split(",")
    try:
        ft, pt = float(parts[0]), float(parts[1])
    except (ValueError, IndexError):
        raise ValueError(f"--pairs {pair!r}: expected 'FOCUS_T,POSITION_T[,suffix...]'") from None
    flags = dict(focus_temperature=ft, position_temperature=pt, refine=True, min_distance=0.0,
                 even_electrons=False, valence_guard=False)
    for p in parts[2:]:
        if p == "grid":
            flags["refine"] = False
        elif p == "even":
            flags["even_electrons"] = True
        elif p == "val":
            flags["valence_guard"] = True
        elif p.startswith("md"):
            try:
                flags["min_distance"] = float(p[2:])
            except ValueError:
                raise ValueError(f"--pairs {pair!r}: {p!r} is not md followed by a distance in Å") from None
        elif "x" in p:
            flags["grid"] = p
        else:
            raise ValueError(f"--pairs {pair!r}: unknown suffix {p!r} (grid, BxA, mdD, even, val)")
    try:
        return SamplingSettings(**flags)
    except GenmolError as e:
        raise ValueError(f"--pairs {pair!r}: {e}") from None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--num", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pairs", nargs="+", default=["1,1", "1,0.5", "1,0.25", "0.5,0.5", "0.5,0.25"])
    ap.add_argument("--out", default="experiments/symphony_qm9/temperature_sweep.json")
    args = ap.parse_args()
    try:
        settings = [parse_pair(pair) for pair in args.pairs]  # all checked before the first run
    except ValueError as e:
        ap.error(str(e))
    model, cfg, meta = load_model(args.model, expect="symphony")
    rows = []
    for st in settings:
        mols, stats = generate_molecules(model, args.num, settings=st, seed=args.seed, batch=100, progress=False)
        res = evaluate_molecules(MoleculeSet.from_molecules(mols), reference_smiles=None)
        shown = st.grid or (int(cfg.model.res_beta), int(cfg.model.res_alpha))
        row = {**st.to_record(), "grid": f"{shown[0]}x{shown[1]}", **res.summary,
               "stopped_fraction": stats["stopped_fraction"], "molecules_per_s": stats["molecules_per_s"]}
        print(json.dumps(row), flush=True)
        rows.append(row)
    atomic_write_text(args.out, json.dumps({"model": str(args.model), "step": meta.get("step"), "num": args.num,
                                            "seed": args.seed, "rows": rows}, indent=2) + "\n")
    lines = ["| focus T | position T | refine | grid | min distance (Å) | even electrons | valence guard | "
             "xyz2mol validity | xyz2mol connected | xyz2mol uniqueness | EDM validity | atom stability | "
             "mol stability | emitted STOP | molecules/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['focus_temperature']:g} | {r['position_temperature']:g} | "
                     f"{'yes' if r['refine'] else 'no'} | {r['grid']} | {r.get('min_distance', 0):g} | "
                     f"{'yes' if r.get('even_electrons') else 'no'} | {'yes' if r.get('valence_guard') else 'no'} | "
                     f"{r['xyz2mol_validity']:.3f} | {r['xyz2mol_connected']:.3f} | "
                     f"{r['xyz2mol_uniqueness']:.3f} | "
                     f"{r['validity']:.3f} | {r['atom_stability']:.3f} | {r['mol_stability']:.3f} | "
                     f"{r['stopped_fraction']:.2f} | {r['molecules_per_s']:.2f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    atomic_write_text(args.out.removesuffix(".json") + ".md", table)


if __name__ == "__main__":
    run_script(main)
