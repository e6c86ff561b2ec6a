"""``genmol evaluate dynamics``: dynamics metrics of trajectory files (walkers of the jump simulator, or any MD),
optionally against a reference MD — a trajectory file or the embedded alanine-dipeptide MD (``ala2:300``,
``ala2:400``) or Trp-cage MD (``trpcage:320``, ``trpcage:400``). Thin over
:func:`genmol.eval.dynamics.dynamics_metrics`.

Several trajectory files are walkers: pooled for histograms and populations, separate for transitions and lags.
The frame interval comes from each file's time stamps when they are meaningful (XTC, mdtraj HDF5), else from
``--frame-interval``; neither is one error. Outputs (``--json``, ``--plots``) are written after everything was read
and computed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import List, Optional

import typer

from genmol.cli.common import out_console
from genmol.errors import GenmolError

__all__ = ["evaluate"]

_NEEDS_TOP = (".xtc", ".dcd")
_STRUCTURE_TOPS = (".pdb", ".ent", ".cif", ".mmcif", ".bcif")


def _check_interval(value: Optional[float], flag: str) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise GenmolError(f"{flag} must be a positive number of ps, got {value:g}")


def _load_walkers(paths: List[Path], top: Optional[Path], frame_interval: Optional[float]):
    from genmol.eval.dynamics import load_trajectory

    walkers = []
    for p in paths:
        if p.suffix.lower() in _NEEDS_TOP and top is None:
            raise GenmolError(f"{p}: an {p.suffix.lower()[1:].upper()} trajectory needs its topology; pass --top "
                              "(a PDB of the same atoms)")
        w = load_trajectory(p, top, frame_interval_ps=frame_interval)
        if w.interval_ps is None:
            raise GenmolError(f"{p} has no meaningful time stamps (DCD and PDB carry none; XTC/HDF5 times must "
                              "increase evenly); pass the time between frames with --frame-interval PS")
        if walkers and (w.topology.num_residues != walkers[0].topology.num_residues
                        or (w.topology.aatype != walkers[0].topology.aatype).any()
                        or (w.topology.atom_mask != walkers[0].topology.atom_mask).any()):
            raise GenmolError(f"{p} holds other residues or atoms than {walkers[0].name}; walkers must share one "
                              "topology")
        walkers.append(w)
    return walkers


def _load_reference(reference: str, reference_top: Optional[Path], top: Optional[Path],
                    interval: Optional[float]):
    from genmol.eval.dynamics import load_trajectory
    from genmol.eval.dynamics.trajectories import EMBEDDED_REFERENCES, embedded_reference

    key = reference.strip().lower().rstrip("k")
    path = Path(reference)
    if key in EMBEDDED_REFERENCES or (":" in reference and not path.exists()):
        return embedded_reference(reference)
    ref_top = reference_top if reference_top is not None else top
    if path.suffix.lower() in _NEEDS_TOP and ref_top is None:
        raise GenmolError(f"--reference {path}: an {path.suffix.lower()[1:].upper()} trajectory needs its topology; "
                          "pass --reference-top (or --top if it is the same)")
    ref = load_trajectory(path, ref_top, frame_interval_ps=interval)
    if ref.interval_ps is None:
        raise GenmolError(f"--reference {path} has no meaningful time stamps; pass its time between frames with "
                          "--reference-interval PS")
    return ref


def _structure(structure: Optional[Path], top: Optional[Path], walkers):
    """The RMSD structure and what it is: --structure, else a structure-file --top, else the first frame."""
    from genmol.io.structures import read_structure

    first = walkers[0].topology
    source = structure if structure is not None else (
        top if top is not None and top.suffix.lower() in _STRUCTURE_TOPS else None)
    if source is None:
        return first, f"the first frame of {walkers[0].name}"
    s = read_structure(source)
    if s.num_residues != first.num_residues or (s.aatype != first.aatype).any():
        raise GenmolError(f"{source} holds other residues than the trajectories; pass a structure of the same "
                          "residues with --structure")
    return s, str(source)


def evaluate(
    trajectories: List[Path] = typer.Argument(
        ..., metavar="TRAJ", help="Trajectory files (.xtc, .dcd, .h5, multi-model .pdb/.cif); several files are "
                                     "walkers."),
    top: Optional[Path] = typer.Option(None, "--top", help="Topology of the trajectories (PDB of the same atoms); "
                                                           "needed for XTC and DCD."),
    reference: Optional[str] = typer.Option(
        None, "--reference", help="Reference MD: a trajectory file, or ala2:300 (embedded alanine-dipeptide MD, "
                                  "held-out last 20 % at 300 K) or ala2:400 (last 20 % at 400 K, training data), "
                                  "or trpcage:320 / trpcage:400 (embedded Trp-cage MD, the same way)."),
    reference_top: Optional[Path] = typer.Option(None, "--reference-top", help="Topology of a reference file "
                                                                               "(default: --top)."),
    frame_interval: Optional[float] = typer.Option(
        None, "--frame-interval", help="Time between frames in ps, for files without meaningful time stamps."),
    reference_interval: Optional[float] = typer.Option(
        None, "--reference-interval", help="Time between reference frames in ps, if its file has no time stamps."),
    lag: Optional[float] = typer.Option(None, "--lag", help="Lag of transitions and TICA in ps (default: the "
                                                            "coarsest frame interval)."),
    structure: Optional[Path] = typer.Option(None, "--structure", help="Structure for the RMSD (default: --top if "
                                                                       "it is a PDB/mmCIF, else the first frame)."),
    bond_tolerance: float = typer.Option(0.2, "--bond-tolerance", help="Å a bond may go beyond the reference's "
                                                                       "range."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the metrics as JSON here."),
    plots: Optional[Path] = typer.Option(None, "--plots", help="Write PNG plots into this directory."),
    per_frame: bool = typer.Option(False, "--per-frame", help="Also put the per-frame series into the JSON."),
):
    """Dynamics metrics of trajectories: φ/ψ histograms and basins, αR↔β transitions per ns at a lag, RMSD, Rg,
    RMSF, Cα–Cα and bond-length drift, clashes; with --reference also φ/ψ and TIC JSD, the bond-range check and MSM
    implied timescales, each beside its noise floor (the same number between the two halves of the reference)."""
    from genmol.eval.dynamics import dynamics_metrics

    _check_interval(frame_interval, "--frame-interval")
    _check_interval(reference_interval, "--reference-interval")
    _check_interval(lag, "--lag")
    if not (math.isfinite(bond_tolerance) and bond_tolerance >= 0):
        raise GenmolError(f"--bond-tolerance must be a non-negative number of Å, got {bond_tolerance:g}")
    walkers = _load_walkers(trajectories, top, frame_interval)
    ref = _load_reference(reference, reference_top, top, reference_interval) if reference is not None else None
    rmsd_structure, rmsd_to = _structure(structure, top, walkers)
    metrics = dynamics_metrics(
        [w.positions for w in walkers], walkers[0].topology, [w.interval_ps for w in walkers],
        reference=[ref.positions] if ref is not None else None,
        reference_interval_ps=ref.interval_ps if ref is not None else None,
        reference_topology=ref.topology if ref is not None else None, structure=rmsd_structure, lag_ps=lag,
        bond_tolerance=bond_tolerance, per_frame=per_frame, names=[w.name for w in walkers],
        reference_names=[ref.name] if ref is not None else None, plots_dir=plots)
    metrics["structure"]["rmsd_to"] = rmsd_to
    inputs = {"trajectories": [{"path": w.name, "frames": w.num_frames, "frame_interval_ps": w.interval_ps,
                                "interval_from": w.interval_source} for w in walkers],
              "topology": str(top) if top is not None else None}
    if ref is not None:
        inputs["reference"] = {"source": ref.name, "frames": ref.num_frames, "frame_interval_ps": ref.interval_ps,
                               "interval_from": ref.interval_source, "note": ref.note}
    _print(inputs, metrics)
    if json_out is not None:
        from genmol.eval.dynamics import json_safe
        from genmol.io.atomic import atomic_write_text

        atomic_write_text(json_out, json.dumps(json_safe({"inputs": inputs, **metrics}), indent=2,
                                               ensure_ascii=False) + "\n")


def _fmt(v, unit: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    digits = 4 if unit in ("nats", "fraction") else 3 if unit in ("Å", "count") else 2
    return f"{v:.{digits}f}"


def _print(inputs: dict, m: dict) -> None:
    from rich.table import Table

    out = out_console()
    sys = m["system"]
    walkers = inputs["trajectories"]
    intervals = sorted({(w["frame_interval_ps"], w["interval_from"]) for w in walkers})
    dt = ", ".join(f"{v:g} ps ({src})" for v, src in intervals)
    names = sys["residues"].split()
    residues = " ".join(names) if len(names) <= 12 else (f"{len(names)} residues ({' '.join(names[:4])} ... "
                                                        f"{' '.join(names[-2:])})")
    out.print(f"{len(walkers)} trajector{'y' if len(walkers) == 1 else 'ies'} of {residues}: "
              f"{sys['num_frames']:,} frames, {sys['simulated_time_ns']:.3f} ns simulated, frame interval {dt}; "
              f"lag {sys['lag_ps']:g} ps", markup=False, highlight=False)
    has_ref = "reference" in inputs
    if has_ref:
        r = inputs["reference"]
        out.print(f"reference {r['source']}: {r['frames']:,} frames, {r['frame_interval_ps']:g} ps apart "
                  f"({r['interval_from']})" + (f"; {r['note']}" if r["note"] else ""), markup=False, highlight=False)
    t = Table(caption="noise floor: the same number between the two halves of the reference (JSD between the "
                      "halves; |difference| otherwise)" if has_ref else None)
    t.add_column("metric")
    t.add_column("unit")
    t.add_column("model", justify="right")
    if has_ref:
        t.add_column("reference", justify="right")
        t.add_column("noise floor", justify="right")
    for row in m["table"]:
        cells = [row["label"], row["unit"], _fmt(row["model"], row["unit"])]
        if has_ref:
            cells += [_fmt(row["reference"], row["unit"]), _fmt(row["noise_floor"], row["unit"])]
        t.add_row(*cells)
    out.print(t)
    s = m["structure"]["model"]
    if s["ca_ca"]["defined"]:
        first = [f for f in s["ca_ca"]["first_violation_frame"] if f is not None]
        out.print(f"Cα–Cα: all within 3.8 ± 0.2 Å in every frame: {_fmt(s['ca_ca']['all_frames_within'])}"
                  + (f" (first violation at frame {min(first)})" if first else ""), markup=False, highlight=False)
    check = m["structure"].get("bond_range_check")
    if check is not None:
        out.print(f"bond lengths: every bond within {check['tolerance']:g} Å of the reference range: "
                  f"{_fmt(check['within'])} (worst: {check['worst_bond']}, {check['worst_excess']:.3f} Å beyond)",
                  markup=False, highlight=False)
    if "msm" in m:
        for who in ("model", "reference"):
            its = m["msm"].get(who)
            if its is None:
                continue
            slowest = ", ".join(f"{lag:g}: {_fmt(ts[0])}" for lag, ts in zip(its["lags_ps"], its["timescales_ps"]))
            out.print(f"MSM slowest implied timescale (ps) by lag (ps), {who}: {slowest}", markup=False,
                      highlight=False)
    for note in m["notes"]:
        out.print(f"note: {note}", markup=False, highlight=False)
    for p in m.get("plots", []):
        out.print(f"wrote {p}", markup=False, highlight=False)
