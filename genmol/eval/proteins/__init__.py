"""Protein metrics shared by the autoencoder, the latent diffusion and the jump simulator (numpy, biotite, scipy,
tmtools; definitions in shared/notes/protein_metrics.md).

* :mod:`~genmol.eval.proteins.comparison`: a prediction against a reference of the same residues — Cα and
  all-atom RMSD (flip-aware), GDT-TS/HA, lDDT, TM-score, residue recovery.
* :mod:`~genmol.eval.proteins.chemistry`: one structure's covalent geometry and packing — bond length and angle
  RMSD against :mod:`genmol.data.proteins.chemistry`, peptide-bond and Cα–Cα validity, clashes, radius of
  gyration; the chain-break rule.
* :mod:`~genmol.eval.proteins.ensemble`: sets of structures — secondary-structure fractions, Rg scaling exponent,
  diversity, novelty.
* :mod:`~genmol.eval.proteins.summary`: the metric dictionaries (:func:`reconstruction_metrics`,
  :func:`structure_metrics`, :func:`ensemble_metrics`).

Inputs are :class:`~genmol.data.proteins.structure.Protein` records or arrays ``positions [R, 14, 3]`` (Å),
``aatype [R]``, ``atom_mask [R, 14]``; metrics on true Cα leave the caps (``ACE``, ``NME``) out.
"""

from genmol.eval.proteins.chemistry import (
    BondAtoms, Clashes, bond_angle_deviations, bond_angle_rmsd, bond_atoms, bond_length_deviations, bond_length_rmsd,
    ca_ca_distances, ca_ca_fraction, ca_ca_valid, chain_links, clashes_per_100_residues, find_clashes,
    peptide_bond_fraction, radius_of_gyration,
)
from genmol.eval.proteins.comparison import (
    AllAtomRMSD, all_atom_rmsd, ca_rmsd, ca_superposition, flip_to_match, gdt, gdt_ha, gdt_ts, lddt,
    residue_recovery, tm_align_scores, tm_score,
)
from genmol.eval.proteins.ensemble import (
    diversity, novelty, pairwise_tm_scores, rg_scaling_exponent, secondary_structure_fractions,
)
from genmol.eval.proteins.summary import (
    ENSEMBLE_KEYS, RECONSTRUCTION_KEYS, STRUCTURE_KEYS, ensemble_metrics, reconstruction_metrics,
    structure_metrics,
)

__all__ = [
    "flip_to_match", "ca_superposition", "ca_rmsd", "all_atom_rmsd", "AllAtomRMSD", "gdt", "gdt_ts", "gdt_ha",
    "lddt", "tm_score", "tm_align_scores", "residue_recovery",
    "chain_links", "bond_atoms", "BondAtoms", "bond_length_deviations", "bond_length_rmsd", "bond_angle_deviations",
    "bond_angle_rmsd",
    "peptide_bond_fraction", "ca_ca_distances", "ca_ca_fraction", "ca_ca_valid", "find_clashes", "Clashes",
    "clashes_per_100_residues", "radius_of_gyration",
    "secondary_structure_fractions", "rg_scaling_exponent", "diversity", "novelty", "pairwise_tm_scores",
    "reconstruction_metrics", "structure_metrics", "ensemble_metrics", "RECONSTRUCTION_KEYS", "STRUCTURE_KEYS",
    "ENSEMBLE_KEYS",
]
