"""One call: every dynamics metric that applies to a set of trajectories, optionally against a reference MD, as a
JSON-safe dictionary (and PNG plots). Definitions: shared/notes/protein_metrics.md, "Dynamics", implemented in the
modules of :mod:`genmol.eval.dynamics`.

What is computed:

* ``phi_psi``: pooled 36 × 36 φ/ψ histogram (every residue with a defined pair, all frames of all trajectories)
  and its entropy (nats; lower than the reference's: too narrow, higher: too broad); with a reference its JSD
  (nats) to the reference's, and ``jsd_at_reference_populations``, the JSD once the model's basins are given the
  reference's populations (:func:`~genmol.eval.dynamics.basins.reweight_to_populations`): what is left is the shape
  inside the basins, the rest of ``jsd`` comes from the populations.
* ``basins``: populations of αR, β/PPII, αL, each basin's circular mean and sd of φ and ψ; αR↔β core transitions
  per ns at ``lag_ps`` and the lagged 3 × 3 basin count matrix — counted within each trajectory (walkers are never
  joined), also listed per trajectory.
* ``structure``: RMSD to a structure, radius of gyration, RMSF, consecutive Cα–Cα, clashes (per frame, summarised;
  ``per_frame=True`` keeps the series), bond-length ranges and, with a reference, the check that every bond stays
  within ``bond_tolerance`` Å of the reference's range.
* ``tica`` and ``msm`` (reference only): JSD of the 2-D TIC histogram on the reference's grid, the fraction of model
  frames outside it, and implied timescales of MSMs at several lags.
* ``table``: the headline rows ``{key, label, unit, model, reference, noise_floor}``.

**Noise floor.** The reference's trajectories are each cut in half (:func:`~genmol.eval.dynamics.trajectories.
split_halves`); a divergence's floor is its value between the two halves (JSD of the first halves' histogram
against the second halves'), the floor of the fraction of frames outside the reference's TIC grid is the fraction
of the second halves outside a grid sized from the first halves, and any other number's floor is
``|value(first halves) − value(second halves)|``. A model is indistinguishable from the reference at this sample
size when its number is within the floor.

Everything that does not apply is left out with a reason in ``notes`` (e.g. TICA without a reference, φ/ψ for a
structure without a residue that has both angles).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.eval.dynamics import basins as bs
from genmol.eval.dynamics import bonds as bd
from genmol.eval.dynamics import msm as ms
from genmol.eval.dynamics import structure as st
from genmol.eval.dynamics import tica as tc
from genmol.eval.dynamics.dihedrals import backbone_dihedrals
from genmol.eval.dynamics.histograms import histogram_entropy, jensen_shannon, phi_psi_histogram
from genmol.eval.dynamics.trajectories import split_halves

__all__ = ["dynamics_metrics", "MAX_REFERENCE_FRAMES", "MSM_LAG_FACTORS", "json_safe"]

MAX_REFERENCE_FRAMES = 5000
"""The reference's per-frame chemistry (Rg, RMSD, Cα–Cα, clashes) uses at most this many evenly strided frames
(its bond ranges, dihedrals and TICA use every frame)."""
MSM_LAG_FACTORS = (1, 2, 5, 10)
"""Default MSM lags: these multiples of ``lag_ps``."""


def json_safe(value):
    """Numpy scalars and arrays as Python numbers and lists; NaN and infinities as ``None``."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


# ---------------------------------------------------------------------------------------------- inputs


def _arrays(trajectories, topology: Protein, what: str) -> list[np.ndarray]:
    arrays = [trajectories] if isinstance(trajectories, np.ndarray) else list(trajectories)
    if not arrays:
        raise GenmolError(f"no {what} trajectories")
    shape = (topology.num_residues, rc.NUM_SLOTS, 3)
    out = []
    for i, a in enumerate(arrays):
        a = np.asarray(a, np.float32)
        if a.ndim != 4 or a.shape[1:] != shape:
            raise GenmolError(f"{what} trajectory {i} has shape {a.shape}, expected [F, {shape[0]}, 14, 3]")
        if len(a) == 0:
            raise GenmolError(f"{what} trajectory {i} has no frames")
        out.append(a)
    return out


def _intervals(value, n: int, what: str) -> list[float]:
    if value is None:
        raise GenmolError(f"the {what} frame interval is unknown; give the time between frames in ps")
    values = [value] * n if np.ndim(value) == 0 else list(value)
    if len(values) != n:
        raise GenmolError(f"{len(values)} {what} frame intervals for {n} trajectories")
    for v in values:
        if v is None or not (math.isfinite(float(v)) and float(v) > 0):
            raise GenmolError(f"{what} frame intervals must be positive numbers of ps, got {v}")
    return [float(v) for v in values]


def _default_lag(intervals: Sequence[float]) -> float:
    """The coarsest interval, if every other one divides it."""
    lag = max(intervals)
    for dt in intervals:
        k = lag / dt
        if abs(k - round(k)) > 1e-6 * k:
            raise GenmolError(f"frame intervals of {dt:g} and {lag:g} ps have no common lag here; give the lag in "
                              "ps (a whole number of frames of every trajectory)")
    return lag


def _labels(topology: Protein) -> list[str]:
    return [f"{rc.RESIDUE_NAMES[a]}{n}{i}" for a, n, i in
            zip(topology.aatype, topology.residue_index, topology.insertion_code)]


def _strided(arrays: list[np.ndarray], limit: int) -> tuple[list[np.ndarray], int]:
    total = sum(len(a) for a in arrays)
    step = max(1, math.ceil(total / limit))
    return [a[::step] for a in arrays], step


# ---------------------------------------------------------------------------------------------- pieces


def _dihedrals(arrays, topology: Protein) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per trajectory ``(phi, psi) [F, K]`` radians of the ``K`` residues whose pair is defined in the topology."""
    top_phi, top_psi = backbone_dihedrals(topology)
    keep = np.isfinite(top_phi) & np.isfinite(top_psi)
    out = []
    for a in arrays:
        phi, psi = backbone_dihedrals(a, topology.aatype, topology.atom_mask, residue_index=topology.residue_index,
                                      chain_id=topology.chain_id)
        out.append((phi[:, keep], psi[:, keep]))
    return out


def _histogram(dihedrals) -> np.ndarray:
    return sum(phi_psi_histogram(phi, psi, normalize=False) for phi, psi in dihedrals)


def _basin_numbers(dihedrals, intervals, lag_ps: float, names: list[str]) -> dict:
    labels = [bs.basin_labels(phi, psi) for phi, psi in dihedrals]
    cores = [bs.core_labels(phi, psi) for phi, psi in dihedrals]
    core = bs.core_transitions(cores, intervals, lag_ps)
    basin = bs.basin_transitions(labels, intervals, lag_ps)
    per = []
    for name, c, dt in zip(names, cores, intervals):
        one = bs.core_transitions([c], [dt], lag_ps)
        per.append({"name": name, "frames": len(c), "frame_interval_ps": dt,
                    "alpha_R_beta_per_ns": one.between("alpha_R", "beta"), "transitions": one.num_transitions})
    return {"populations": bs.basin_populations(labels),
            "spreads_deg": bs.basin_spreads([phi for phi, _ in dihedrals], [psi for _, psi in dihedrals]),
            "alpha_R_beta_per_ns": core.between("alpha_R", "beta"),
            "core_transitions": core.to_dict(), "basin_transitions": basin.to_dict(),
            "basin_rates_per_ns": basin.rates_per_ns(), "per_trajectory": per}


def _series(arrays, topology: Protein, structure: Protein) -> dict:
    """Per-frame structure series of each trajectory."""
    out = {"rmsd": [], "rg": [], "ca_ca": [], "clashes": []}
    for a in arrays:
        rmsd, rmsd_kind = st.rmsd_series(a, topology, structure)
        rg, rg_kind = st.radius_of_gyration_series(a, topology)
        out["rmsd"].append(rmsd)
        out["rg"].append(rg)
        out["ca_ca"].append(st.ca_ca_series(a, topology))
        out["clashes"].append(st.clash_series(a, topology))
    out["rmsd_atoms"], out["rg_atoms"] = rmsd_kind, rg_kind
    return out


def _half(series: dict, which: int) -> dict:
    """The first (0) or second (1) half of every trajectory's series (cut at ``F // 2``, as :func:`split_halves`)."""
    def cut(x):
        m = len(x) // 2
        return x[:m] if which == 0 else x[m:]

    out = dict(series)
    for key in ("rmsd", "rg", "clashes"):
        out[key] = [cut(x) for x in series[key]]
    out["ca_ca"] = [st.CaCaSeries(*(cut(f) for f in c)) for c in series["ca_ca"]]
    return out


def _structure_summary(series: dict, topology: Protein) -> dict:
    rmsd, rg = np.concatenate(series["rmsd"]), np.concatenate(series["rg"])
    frac = np.concatenate([c.fraction for c in series["ca_ca"]])
    within = np.concatenate([c.all_within for c in series["ca_ca"]])
    maxdev = np.concatenate([c.max_deviation for c in series["ca_ca"]])
    clashes = np.concatenate(series["clashes"]).astype(np.float64)
    first_bad = [int(np.argmin(c.all_within)) if not c.all_within.all() else None for c in series["ca_ca"]]
    defined = bool(np.isfinite(frac).any())  # NaN in every frame: no consecutive amino-acid Cα pair
    return {
        "rmsd": {"atoms": series["rmsd_atoms"], "mean": rmsd.mean(), "max": rmsd.max(),
                 "final_mean": float(np.mean([r[-1] for r in series["rmsd"]]))},
        "radius_of_gyration": {"atoms": series["rg_atoms"], "mean": rg.mean(), "std": rg.std(), "min": rg.min(),
                               "max": rg.max()},
        "ca_ca": {"defined": defined, "fraction_mean": np.nanmean(frac) if defined else None,
                  "fraction_min": np.nanmin(frac) if defined else None,
                  "frames_all_within": within.mean(), "all_frames_within": bool(within.all()),
                  "max_deviation": np.nanmax(maxdev) if np.isfinite(maxdev).any() else None,
                  "first_violation_frame": first_bad},
        "clashes": {"mean_per_frame": clashes.mean(), "max": clashes.max(), "frames_with_clashes": (clashes > 0).mean(),
                    "per_100_residues_mean": 100.0 * clashes.mean() / topology.num_residues},
    }


def _bonds_summary(ranges: bd.BondRanges) -> dict:
    ideal = ranges.bonds.ideal
    dev = np.maximum(np.abs(ranges.minimum - ideal), np.abs(ranges.maximum - ideal))
    return {"num_bonds": len(ranges.names), "frames": ranges.num_frames,
            "max_deviation_from_ideal": float(dev.max()) if dev.size else None,
            "ranges": {n: [lo, hi] for n, lo, hi in zip(ranges.names, ranges.minimum, ranges.maximum)}}


def _rmsf_summary(arrays, topology: Protein) -> dict:
    r = st.rmsf(arrays, topology)
    labels = _labels(topology)
    return {"fit": r.fit, "superposed_on": "the first frame of the first trajectory", "atom": "slot 1 (Cα; caps: "
            "methyl C)", "mean": float(r.values.mean()), "per_residue": {labels[i]: v for i, v in
                                                                        zip(r.rows, r.values)}}


def _row(key, label, unit, model, reference=None, floor=None) -> dict:
    return {"key": key, "label": label, "unit": unit, "model": model, "reference": reference, "noise_floor": floor}


def _diff(a, b):
    return abs(a - b) if a is not None and b is not None and np.isfinite(a) and np.isfinite(b) else None


# ---------------------------------------------------------------------------------------------- main


def dynamics_metrics(trajectories, topology: Protein, frame_interval_ps, reference=None,
                     reference_interval_ps=None, *, reference_topology: Protein | None = None,
                     structure: Protein | None = None, lag_ps: float | None = None,
                     msm_lags_ps: Sequence[float] | None = None, bond_tolerance: float = bd.BOND_RANGE_TOLERANCE,
                     tic_bins: int = tc.TIC_BINS, n_clusters: int = ms.MSM_CLUSTERS,
                     max_reference_frames: int = MAX_REFERENCE_FRAMES, per_frame: bool = False,
                     names: Sequence[str] | None = None, reference_names: Sequence[str] | None = None,
                     plots_dir: str | os.PathLike | None = None, seed: int = 0) -> dict:
    """Every dynamics metric that applies (module docstring), JSON-safe.

    Args:
        trajectories: model trajectories, each ``[F, R, 14, 3]`` Å (a single array is one trajectory; walkers are
            separate entries — pooled for histograms and populations, never joined for transitions and lags).
        topology: their residues (types, mask, numbering; its positions are the default RMSD structure).
        frame_interval_ps: time between frames, ps (one value, or one per trajectory).
        reference: reference MD trajectories (same residue types), or ``None``.
        reference_interval_ps: their frame interval(s), ps (required with a reference).
        reference_topology: the reference's residues (default: ``topology``); only its types and mask are checked.
        structure: the structure RMSDs are measured to (default: ``topology``, e.g. the starting structure).
        lag_ps: lag of transitions and TICA, ps (default: the coarsest frame interval, if the others divide it).
        msm_lags_ps: MSM lags (default: :data:`MSM_LAG_FACTORS` × ``lag_ps``).
        bond_tolerance: Å beyond the reference's bond-length range a model bond may go.
        tic_bins: bins per TIC. n_clusters: k-means states of the MSM.
        max_reference_frames: see :data:`MAX_REFERENCE_FRAMES`.
        per_frame: also return the per-frame series (RMSD, Rg, Cα–Cα fraction and flag, clashes) per trajectory.
        names, reference_names: labels of the trajectories (default ``traj 0``, ... / ``ref 0``, ...).
        plots_dir: write ``phi_psi_free_energy.png`` and ``time_series.png`` there.
        seed: of the k-means seeding.

    Returns:
        The metrics (module docstring); NaN/inf as ``None``.

    Raises:
        GenmolError: bad shapes or intervals, a lag that is not a whole number of frames, a reference of other
            residues.
    """
    model = _arrays(trajectories, topology, "model")
    intervals = _intervals(frame_interval_ps, len(model), "model")
    names = list(names) if names is not None else [f"traj {i}" for i in range(len(model))]
    ref, ref_intervals = None, []
    if reference is not None:
        ref_top = topology if reference_topology is None else reference_topology
        if not np.array_equal(ref_top.aatype, topology.aatype):
            have = " ".join(rc.RESIDUE_NAMES[a] for a in ref_top.aatype[:8])
            want = " ".join(rc.RESIDUE_NAMES[a] for a in topology.aatype[:8])
            raise GenmolError(f"the reference has other residues ({have}{' ...' * (ref_top.num_residues > 8)}) than "
                              f"the trajectories ({want}{' ...' * (topology.num_residues > 8)})")
        if not np.array_equal(ref_top.atom_mask, topology.atom_mask):
            r, s = np.argwhere(ref_top.atom_mask != topology.atom_mask)[0]
            raise GenmolError(f"the reference and the trajectories have the same residues but not the same atoms "
                              f"(first difference: {rc.RESIDUE_NAMES[topology.aatype[r]]} "
                              f"{topology.residue_index[r]} {rc.ATOM_NAMES[topology.aatype[r], s]})")
        ref = _arrays(reference, topology, "reference")
        ref_intervals = _intervals(reference_interval_ps, len(ref), "reference")
    ref_names = list(reference_names) if reference_names is not None else [f"ref {i}" for i in range(len(ref or []))]
    lag = float(lag_ps) if lag_ps is not None else _default_lag(intervals + ref_intervals)
    structure = topology if structure is None else structure
    notes: list[str] = []
    table: list[dict] = []
    out: dict = {
        "system": {"residues": " ".join(rc.RESIDUE_NAMES[a] for a in topology.aatype),
                   "num_residues": topology.num_residues, "num_trajectories": len(model),
                   "num_frames": sum(len(a) for a in model), "frame_interval_ps": intervals,
                   "simulated_time_ns": sum((len(a) - 1) * dt for a, dt in zip(model, intervals)) / 1000.0,
                   "lag_ps": lag, "trajectories": names},
        "noise_floor_definition": "reference cut in half: JSD between the halves for divergences; second-half "
                                  "frames outside the first half's TIC grid for the outside fraction; |first half − "
                                  "second half| for every other number",
    }
    if ref is not None:
        out["reference"] = {"num_trajectories": len(ref), "num_frames": sum(len(a) for a in ref),
                            "frame_interval_ps": ref_intervals, "trajectories": ref_names,
                            "simulated_time_ns": sum((len(a) - 1) * dt for a, dt in zip(ref, ref_intervals)) / 1e3}
        halves = split_halves(ref)
    # ------------------------------------------------------------------ φ/ψ and basins
    model_dih = _dihedrals(model, topology)
    n_pairs = model_dih[0][0].shape[1]
    hists = {}
    if n_pairs == 0:
        notes.append("φ/ψ, basins and transitions skipped: no residue has both φ and ψ")
    else:
        hists["model"] = _histogram(model_dih)
        section = {"residues_with_pairs": n_pairs, "bins": 36, "bin_width_deg": 10.0,
                   "entropy": histogram_entropy(hists["model"])}
        basins = {"model": _basin_numbers(model_dih, intervals, lag, names)}
        if ref is not None:
            ref_dih = _dihedrals(ref, topology)
            h1_dih, h2_dih = _dihedrals(halves[0], topology), _dihedrals(halves[1], topology)
            hists["reference"] = _histogram(ref_dih)
            section["jsd"] = jensen_shannon(hists["model"], hists["reference"])
            h1, h2 = _histogram(h1_dih), _histogram(h2_dih)
            section["jsd_noise_floor"] = jensen_shannon(h1, h2)
            section["jsd_unit"] = "nats (natural log; maximum ln 2)"
            section["reference_entropy"] = histogram_entropy(hists["reference"])
            section["entropy_noise_floor"] = abs(histogram_entropy(h1) - histogram_entropy(h2))
            basins["reference"] = _basin_numbers(ref_dih, ref_intervals, lag, ref_names)
            section["jsd_at_reference_populations"] = jensen_shannon(
                bs.reweight_to_populations(hists["model"], basins["reference"]["populations"]), hists["reference"])
            b1 = _basin_numbers(h1_dih, ref_intervals, lag, ref_names)
            b2 = _basin_numbers(h2_dih, ref_intervals, lag, ref_names)
            basins["noise_floor"] = {
                "populations": {k: _diff(b1["populations"][k], b2["populations"][k]) for k in bs.BASIN_NAMES},
                "alpha_R_beta_per_ns": _diff(b1["alpha_R_beta_per_ns"], b2["alpha_R_beta_per_ns"])}
            table.append(_row("phi_psi_jsd", "φ/ψ JSD", "nats", section["jsd"], None, section["jsd_noise_floor"]))
            table.append(_row("phi_psi_jsd_at_reference_populations", "φ/ψ JSD with the reference's basin "
                              "populations (shape alone)", "nats", section["jsd_at_reference_populations"], None,
                              section["jsd_noise_floor"]))
        table.append(_row("phi_psi_entropy", "φ/ψ histogram entropy (lower: narrower)", "nats", section["entropy"],
                          section.get("reference_entropy"), section.get("entropy_noise_floor")))
        out["phi_psi"] = section
        out["basins"] = basins
        for k in bs.BASIN_NAMES:
            table.append(_row(f"population_{k}", f"population {k}", "fraction", basins["model"]["populations"][k],
                              basins.get("reference", {}).get("populations", {}).get(k),
                              basins.get("noise_floor", {}).get("populations", {}).get(k)))
        table.append(_row("alpha_R_beta_per_ns", f"αR↔β transitions at {lag:g} ps",
                          "per ns" if n_pairs == 1 else "per ns per residue",
                          basins["model"]["alpha_R_beta_per_ns"],
                          basins.get("reference", {}).get("alpha_R_beta_per_ns"),
                          basins.get("noise_floor", {}).get("alpha_R_beta_per_ns")))
    # ------------------------------------------------------------------ structure
    series = _series(model, topology, structure)
    struct = {"model": _structure_summary(series, topology),
              "rmsd_to": structure.source or "the topology's coordinates"}
    struct["model"]["rmsf"] = _rmsf_summary(model, topology)
    model_bonds = bd.bond_ranges(model, topology)
    struct["model"]["bonds"] = _bonds_summary(model_bonds)
    rows = [("rmsd", "mean", f"RMSD to structure ({series['rmsd_atoms']})", "Å"),
            ("radius_of_gyration", "mean", f"radius of gyration ({series['rg_atoms']})", "Å"),
            ("clashes", "mean_per_frame", "clashes per frame", "count"),
            ("ca_ca", "frames_all_within", "frames with all Cα–Cα in 3.8±0.2 Å", "fraction")]
    ref_series = None
    if ref is not None:
        strided, step = _strided(ref, max_reference_frames)
        ref_series = _series(strided, topology, structure)
        struct["reference"] = _structure_summary(ref_series, topology)
        struct["reference"]["frame_stride"] = step
        struct["reference"]["rmsf"] = _rmsf_summary(ref, topology)
        ref_bonds = bd.bond_ranges(ref, topology)
        struct["reference"]["bonds"] = _bonds_summary(ref_bonds)
        halves_series = [_structure_summary(_half(ref_series, k), topology) for k in (0, 1)]
        check = bd.check_bond_ranges(model_bonds, ref_bonds, bond_tolerance)
        struct["bond_range_check"] = check.to_dict()
    for sec, key, label, unit in rows:
        model_v = struct["model"][sec][key]
        ref_v = struct["reference"][sec][key] if ref is not None else None
        floor = _diff(halves_series[0][sec][key], halves_series[1][sec][key]) if ref is not None else None
        if sec == "ca_ca" and not struct["model"]["ca_ca"]["defined"]:
            continue
        table.append(_row(f"{sec}_{key}", label, unit, model_v, ref_v, floor))
    if ref is not None:
        table.append(_row("bonds_within_reference_range", f"bonds within {bond_tolerance:g} Å of the reference "
                          "range", "fraction", check.fraction_within))
        table.append(_row("bond_worst_excess", f"worst bond beyond the reference range ({check.worst})", "Å",
                          check.worst_excess))
    out["structure"] = struct
    # ------------------------------------------------------------------ TICA and MSM
    if ref is None:
        notes.append("TICA and MSM skipped: they need a reference (TICA is fitted on the reference only)")
    else:
        try:
            out.update(_tica_msm(model, intervals, ref, ref_intervals, topology, lag, msm_lags_ps, tic_bins,
                                 n_clusters, seed, notes))
            t = out["tica"]
            table.append(_row("tic_jsd", f"TIC JSD ({t['features']}, grid of the reference)", "nats", t["jsd"], None,
                              t["jsd_noise_floor"]))
            table.append(_row("tic_fraction_outside", "model frames outside the reference TIC grid", "fraction",
                              t["fraction_outside"], 0.0, t["reference_halves_fraction_outside"]))
        except GenmolError as e:
            if not str(e).startswith("TICA skipped"):
                raise
            out["tica"] = {"skipped": str(e)}
            notes.append(str(e))
    out["table"] = table
    out["notes"] = notes
    if per_frame:
        out["per_frame"] = [{"name": n, "rmsd": r, "radius_of_gyration": g, "ca_ca_fraction": c.fraction,
                             "ca_ca_all_within": c.all_within, "clashes": k}
                            for n, r, g, c, k in zip(names, series["rmsd"], series["rg"], series["ca_ca"],
                                                     series["clashes"])]
    if plots_dir is not None:
        out["plots"] = _plots(Path(plots_dir), hists, series, intervals, ref_series,
                              [dt * struct.get("reference", {}).get("frame_stride", 1) for dt in ref_intervals])
    return json_safe(out)


def _tica_msm(model, intervals, ref, ref_intervals, topology, lag, msm_lags_ps, tic_bins, n_clusters, seed,
              notes) -> dict:
    ref_feats, kinds = zip(*(tc.tica_features(a, topology) for a in ref))
    kind = kinds[0]
    lag_frames = bs.lag_in_frames(lag, ref_intervals)
    if len(set(lag_frames)) != 1:
        raise GenmolError("the reference trajectories have different frame intervals; TICA needs one lag in frames")
    tica = tc.fit_tica(ref_feats, lag_frames[0])
    ref_tics = [tica.transform(f) for f in ref_feats]
    model_tics = [tica.transform(tc.tica_features(a, topology)[0]) for a in model]
    pooled_ref = np.concatenate(ref_tics)
    grid = tc.tic_grid(pooled_ref, tic_bins)
    cmp = tc.compare_tics(np.concatenate(model_tics), pooled_ref, grid)
    first = np.concatenate([t[:len(t) // 2] for t in ref_tics])
    second = np.concatenate([t[len(t) // 2:] for t in ref_tics])
    floor = tc.compare_tics(first, second, grid)
    # the floor of "outside the grid": second-half frames outside a grid sized from the first half alone
    outside_floor = tc.tic_histogram(second, tc.tic_grid(first, tic_bins))[1] / max(len(second), 1)
    features = {"features": kind}
    if kind == "ca_distances":
        features.update(ca_atoms=len(tc.tica_ca_rows(topology, 10**9)), ca_atoms_used=len(tc.tica_ca_rows(topology)),
                        num_features=int(ref_feats[0].shape[1]))
    result = {"tica": {**features, "lag_ps": lag, "lag_frames": lag_frames[0], "dim": 2,
                       "fitted_on": "reference only", "bins": tic_bins,
                       "grid": {"lo": grid.lo, "hi": grid.hi, "sized_from": "reference alone"},
                       "outside_grid": "counted in one overflow bin (never dropped)", "jsd": cmp.jsd,
                       "jsd_noise_floor": floor.jsd, "fraction_outside": cmp.fraction_outside,
                       "reference_halves_fraction_outside": outside_floor}}
    lags = [lag * f for f in MSM_LAG_FACTORS] if msm_lags_ps is None else [float(v) for v in msm_lags_ps]
    states = ms.fit_states(ref_tics, n_clusters, seed)
    msm = {"num_clusters": int(states.n_clusters), "clustered_on": "reference TICs",
           "reference": ms.implied_timescales(ms.assign_states(states, ref_tics), ref_intervals[0], lags)}
    if len(set(intervals)) == 1:
        msm["model"] = ms.implied_timescales(ms.assign_states(states, model_tics), intervals[0], lags)
    else:
        notes.append("model MSM skipped: the trajectories have different frame intervals")
    notes += [f"MSM of the {who}: " + "; ".join(msm[who]["notes"]) for who in ("model", "reference")
              if who in msm and msm[who]["notes"]]
    result["msm"] = msm
    return result


def _plots(directory: Path, hists: dict, series: dict, intervals, ref_series, ref_intervals) -> list[str]:
    from genmol.viz.dynamics import plot_free_energy_maps, plot_time_series

    written = []
    if hists:
        path = directory / "phi_psi_free_energy.png"
        plot_free_energy_maps([(k, h) for k, h in hists.items()], path)
        written.append(str(path))

    def timed(values, dts):
        return [(np.arange(len(v)) * dt / 1000.0, v) for v, dt in zip(values, dts)]

    ref_rmsd = timed(ref_series["rmsd"], ref_intervals) if ref_series else []
    ref_rg = timed(ref_series["rg"], ref_intervals) if ref_series else []
    path = directory / "time_series.png"
    plot_time_series([(f"RMSD ({series['rmsd_atoms']}), Å", timed(series["rmsd"], intervals), ref_rmsd),
                      (f"Rg ({series['rg_atoms']}), Å", timed(series["rg"], intervals), ref_rg)], path)
    written.append(str(path))
    return written
