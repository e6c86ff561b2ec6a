"""Dynamics metrics: trajectories of a jump simulator (or any MD) against reference MD (numpy, deeptime, mdtraj;
definitions in shared/notes/protein_metrics.md, "Dynamics").

* :mod:`~genmol.eval.dynamics.dihedrals`: backbone φ/ψ per residue from slot positions (caps as neighbours).
* :mod:`~genmol.eval.dynamics.histograms`: 36 × 36 periodic φ/ψ histograms and the Jensen–Shannon divergence (nats).
* :mod:`~genmol.eval.dynamics.basins`: αR / β-PPII / αL basins, populations, core-to-core transitions per ns at a lag
  (within each trajectory), lagged basin count matrices.
* :mod:`~genmol.eval.dynamics.structure`: RMSD to a structure, radius of gyration, RMSF, Cα–Cα drift and clashes
  frame by frame (the single-structure metrics of :mod:`genmol.eval.proteins`).
* :mod:`~genmol.eval.dynamics.bonds`: bond-length ranges over a trajectory and the check against a reference's range.
* :mod:`~genmol.eval.dynamics.tica`: TICA fitted on the reference, TIC-histogram JSD on the reference's grid.
* :mod:`~genmol.eval.dynamics.msm`: k-means states on the reference's TICs, MSM implied timescales against the lag.
* :mod:`~genmol.eval.dynamics.trajectories`: trajectory files with their frame interval, the embedded reference MD
  (``ala2:300``, ``ala2:400``, ``trpcage:320``, ``trpcage:400``), halves for noise floors.
* :mod:`~genmol.eval.dynamics.summary`: :func:`dynamics_metrics`, everything that applies as one JSON-safe dict
  (plots via :mod:`genmol.viz.dynamics`).

Units: Å, ps (rates per ns), angles in radians in arrays and degrees in basin definitions and plots.
"""

from genmol.eval.dynamics.basins import (
    BASIN_NAMES, CORE_NAMES, Transitions, basin_labels, basin_populations, basin_spreads, basin_transitions,
    bin_basins, core_labels, core_transitions, lag_in_frames, reweight_to_populations,
)
from genmol.eval.dynamics.bonds import (
    BOND_RANGE_TOLERANCE, BondRangeCheck, BondRanges, bond_length_series, bond_ranges, check_bond_ranges,
)
from genmol.eval.dynamics.dihedrals import BackboneDihedrals, backbone_dihedrals, dihedral_angles, phi_psi_pairs
from genmol.eval.dynamics.histograms import (
    JSD_EPSILON, PHI_PSI_BINS, histogram_entropy, jensen_shannon, phi_psi_histogram, phi_psi_jsd, wrap_degrees,
)
from genmol.eval.dynamics.msm import assign_states, fit_states, implied_timescales
from genmol.eval.dynamics.structure import (
    CaCaSeries, Rmsf, ca_ca_series, clash_series, fit_atoms, radius_of_gyration_series, rmsd_series, rmsf,
)
from genmol.eval.dynamics.summary import dynamics_metrics, json_safe
from genmol.eval.dynamics.tica import (
    TicComparison, TicGrid, compare_tics, fit_tica, tic_grid, tic_histogram, tica_ca_rows, tica_features,
)
from genmol.eval.dynamics.trajectories import (
    Trajectory, embedded_reference, interval_from_times, load_trajectory, split_halves,
)

__all__ = [
    "backbone_dihedrals", "BackboneDihedrals", "dihedral_angles", "phi_psi_pairs",
    "phi_psi_histogram", "jensen_shannon", "phi_psi_jsd", "wrap_degrees", "PHI_PSI_BINS", "JSD_EPSILON",
    "histogram_entropy", "basin_spreads", "bin_basins", "reweight_to_populations",
    "BASIN_NAMES", "CORE_NAMES", "basin_labels", "core_labels", "basin_populations", "Transitions",
    "core_transitions", "basin_transitions", "lag_in_frames",
    "rmsd_series", "radius_of_gyration_series", "rmsf", "Rmsf", "ca_ca_series", "CaCaSeries", "clash_series",
    "fit_atoms",
    "bond_length_series", "bond_ranges", "BondRanges", "check_bond_ranges", "BondRangeCheck", "BOND_RANGE_TOLERANCE",
    "tica_features", "tica_ca_rows", "fit_tica", "TicGrid", "tic_grid", "tic_histogram", "compare_tics",
    "TicComparison",
    "fit_states", "assign_states", "implied_timescales",
    "Trajectory", "load_trajectory", "interval_from_times", "embedded_reference", "split_halves",
    "dynamics_metrics", "json_safe",
]
