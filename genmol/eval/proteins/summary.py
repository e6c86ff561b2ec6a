"""One call per use: the metric dictionaries the autoencoder, the latent diffusion and the jump simulator report.

Keys are snake_case; lengths in Å, angles in degrees, fractions in [0, 1]. NaN marks a metric that is undefined
for the input, only where the key's description says so.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from genmol.data.proteins import chemistry as ch
from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.eval.proteins import chemistry as chem
from genmol.eval.proteins import comparison as cmp
from genmol.eval.proteins import ensemble as ens

__all__ = ["reconstruction_metrics", "structure_metrics", "ensemble_metrics", "RECONSTRUCTION_KEYS",
           "STRUCTURE_KEYS", "ENSEMBLE_KEYS"]

STRUCTURE_KEYS = {
    "num_residues": "residues in the record (caps included)",
    "bond_length_rmsd": "RMS deviation of bond lengths from ideal, Å (intra-residue + peptide bonds); NaN without "
                        "bonds (e.g. Cα-only)",
    "bond_angle_rmsd": "RMS deviation of bond angles from ideal, degrees; NaN without angles",
    "peptide_bond_fraction": "peptide bonds C–N within 1.329 ± 0.1 Å; NaN without peptide bonds",
    "ca_ca_fraction": "consecutive Cα–Cα within 3.8 ± 0.2 Å; NaN for a single amino acid",
    "ca_ca_valid": "1.0 if every consecutive Cα–Cα is within 3.8 ± 0.2 Å, else 0.0",
    "clashes": "heavy-atom pairs closer than r_a + r_b − 0.4 Å (Bondi), bonded neighbours and disulfides excepted",
    "clashes_per_100_residues": "100 · clashes / num_residues",
    "radius_of_gyration": "Rg of the amino-acid Cα atoms, Å",
    "helix_fraction": "P-SEA helix (a) fraction of the labelled residues",
    "strand_fraction": "P-SEA strand (b) fraction",
    "coil_fraction": "P-SEA coil (c) fraction",
}
RECONSTRUCTION_KEYS = {
    "ca_rmsd": "Cα RMSD after Cα superposition, Å",
    "all_atom_rmsd_ca_fit": "all-atom RMSD after the Cα superposition, flip-aware, Å",
    "all_atom_rmsd": "all-atom RMSD after an all-atom superposition, flip-aware, Å",
    "gdt_ts": "GDT-TS (1, 2, 4, 8 Å), iterative superposition search, fraction",
    "gdt_ha": "GDT-HA (0.5, 1, 2, 4 Å), fraction",
    "lddt": "all-atom lDDT (15 Å, thresholds 0.5/1/2/4 Å), flip-aware",
    "ca_lddt": "Cα-only lDDT",
    "tm_score": "TM-score (TM-align) normalised by the reference length",
    "residue_recovery": "fraction of amino acids whose type is recovered",
    **{k: f"of the prediction: {v}" for k, v in STRUCTURE_KEYS.items()},
}
ENSEMBLE_KEYS = {
    "num_structures": "structures in the set",
    "bond_length_rmsd": "mean over structures (those where it is defined) of the per-structure value, Å",
    "bond_angle_rmsd": "mean over structures of the per-structure value, degrees",
    "peptide_bond_fraction": "mean over structures",
    "ca_ca_fraction": "mean over structures",
    "ca_ca_valid_fraction": "fraction of structures whose consecutive Cα–Cα are all within 3.8 ± 0.2 Å",
    "clashes_per_100_residues": "mean over structures",
    "radius_of_gyration": "mean over structures, Å",
    "helix_fraction": "P-SEA helix fraction pooled over all residues",
    "strand_fraction": "pooled strand fraction",
    "coil_fraction": "pooled coil fraction",
    "rg_prefactor": "a of the fit Rg = a N^ν, Å; NaN unless the set has at least two lengths",
    "rg_exponent": "ν of that fit; NaN unless the set has at least two lengths",
    "diversity_tm": "mean pairwise TM-score (shorter chain), lower = more diverse; NaN for fewer than 2 structures",
    "novelty_tm": "mean over structures of the highest TM-score to the reference set (shorter chain), lower = "
                  "more novel; NaN without a reference",
    "reference_rg_exponent": "ν of the reference set's fit; NaN without a reference of at least two lengths",
}


def structure_metrics(protein: Protein, *, links=None) -> dict[str, float]:
    """Chemistry and shape of one structure (:data:`STRUCTURE_KEYS`); ``links [R - 1]`` overrides the chain-break
    rule of :mod:`genmol.eval.proteins.chemistry` (default: from the protein's numbering and chains)."""
    if not isinstance(protein, Protein):
        raise GenmolError(f"structure_metrics takes a Protein record, got {type(protein).__name__}")
    links = chem.chain_links(protein) if links is None else links
    clashes = chem.find_clashes(protein, links=links).count
    sse = ens.secondary_structure_fractions(protein)
    return {
        "num_residues": float(protein.num_residues),
        "bond_length_rmsd": chem.bond_length_rmsd(protein, links=links),
        "bond_angle_rmsd": chem.bond_angle_rmsd(protein, links=links),
        "peptide_bond_fraction": chem.peptide_bond_fraction(protein, links=links),
        "ca_ca_fraction": chem.ca_ca_fraction(protein, links=links),
        "ca_ca_valid": float(chem.ca_ca_valid(protein, links=links)),
        "clashes": float(clashes),
        "clashes_per_100_residues": 100.0 * clashes / max(protein.num_residues, 1),
        "radius_of_gyration": chem.radius_of_gyration(protein),
        "helix_fraction": sse["helix"],
        "strand_fraction": sse["strand"],
        "coil_fraction": sse["coil"],
    }


def reconstruction_metrics(pred: Protein, ref: Protein) -> dict[str, float]:
    """Every comparison of a prediction with its reference plus the chemistry of the prediction
    (:data:`RECONSTRUCTION_KEYS`).

    The prediction's peptide links follow the reference's chain breaks (:func:`~genmol.eval.proteins.chemistry.
    chain_links` of the reference with ``max_c_n=2.0``), so a stretched bond the reference does not have is
    penalised, and a gap the reference has is not scored.
    """
    if not (isinstance(pred, Protein) and isinstance(ref, Protein)):
        raise GenmolError("reconstruction_metrics takes two Protein records (prediction, reference)")
    rmsd = cmp.all_atom_rmsd(pred, ref)
    cutoffs = sorted(set(cmp.GDT_TS_CUTOFFS) | set(cmp.GDT_HA_CUTOFFS))
    gdt = dict(zip(cutoffs, cmp.gdt(pred, ref, cutoffs)))  # one search for both scores
    links = chem.chain_links(ref, max_c_n=2.0)
    if pred.num_residues > 1:
        links = links & ch.LINK_VALID[pred.aatype[:-1], pred.aatype[1:]]
    return {
        "ca_rmsd": cmp.ca_rmsd(pred, ref),
        "all_atom_rmsd_ca_fit": rmsd.ca_fit,
        "all_atom_rmsd": rmsd.all_atom_fit,
        "gdt_ts": float(np.mean([gdt[d] for d in cmp.GDT_TS_CUTOFFS])),
        "gdt_ha": float(np.mean([gdt[d] for d in cmp.GDT_HA_CUTOFFS])),
        "lddt": cmp.lddt(pred, ref),
        "ca_lddt": cmp.lddt(pred, ref, ca_only=True),
        "tm_score": cmp.tm_score(pred, ref),
        "residue_recovery": cmp.residue_recovery(pred.aatype, ref.aatype),
        **structure_metrics(pred, links=links),
    }


def _nanmean(values) -> float:
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def ensemble_metrics(proteins: Sequence[Protein], reference: Sequence[Protein] | None = None) -> dict[str, float]:
    """Metrics of a set of structures, e.g. generated samples (:data:`ENSEMBLE_KEYS`); with a reference
    (training) set also novelty and the reference's Rg exponent.

    Raises:
        GenmolError: an empty set or an entry that is not a Protein.
    """
    proteins = list(proteins)
    if not proteins or not all(isinstance(p, Protein) for p in proteins):
        raise GenmolError("ensemble_metrics takes a non-empty sequence of Protein records")
    per = [structure_metrics(p) for p in proteins]
    out = {"num_structures": float(len(proteins))}
    for key in ("bond_length_rmsd", "bond_angle_rmsd", "peptide_bond_fraction", "ca_ca_fraction"):
        out[key] = _nanmean([m[key] for m in per])
    out["ca_ca_valid_fraction"] = float(np.mean([m["ca_ca_valid"] for m in per]))
    out["clashes_per_100_residues"] = _nanmean([m["clashes_per_100_residues"] for m in per])
    out["radius_of_gyration"] = _nanmean([m["radius_of_gyration"] for m in per])
    sse = ens.secondary_structure_fractions(proteins)
    out.update(helix_fraction=sse["helix"], strand_fraction=sse["strand"], coil_fraction=sse["coil"])
    out["rg_prefactor"], out["rg_exponent"] = _rg_fit(proteins, [m["radius_of_gyration"] for m in per])
    out["diversity_tm"] = ens.diversity(proteins) if len(proteins) > 1 else float("nan")
    out["novelty_tm"] = float(np.mean(ens.novelty(proteins, reference))) if reference else float("nan")
    if reference:
        reference = list(reference)
        out["reference_rg_exponent"] = _rg_fit(reference, [chem.radius_of_gyration(p) for p in reference])[1]
    else:
        out["reference_rg_exponent"] = float("nan")
    return out


def _rg_fit(proteins: list[Protein], rgs) -> tuple[float, float]:
    lengths = [int((~rc.IS_CAP[p.aatype]).sum()) for p in proteins]
    if len(set(lengths)) < 2:
        return float("nan"), float("nan")
    return ens.rg_scaling_exponent(lengths, rgs)
