"""Metrics for generated 3D molecules, as the field reports them.

* **EDM protocol** (Hoogeboom et al. 2022): bond orders from distance tables
  (:mod:`genmol.eval.edm_bonds`); atom stability (stable atoms / all atoms, pooled),
  molecule stability; validity = RDKit sanitisation of the bonded molecule, SMILES of the
  largest fragment; uniqueness = unique valid SMILES / valid; valid-and-unique = unique valid
  / n; novelty = unique valid SMILES absent from the reference (training) SMILES.
* **xyz2mol** (Symphony): RDKit ``DetermineBonds(charge=0)`` succeeds with at least one
  bond; uniqueness of canonical SMILES among those; connected = valid *and* one fragment under
  the perceived bonds, over all molecules (xyz2mol validity alone accepts e.g. a molecule plus
  a stray H₂, and PoseBusters' ``all_atoms_connected`` only sees the valid ones).
* **Distributions** (Symphony): Jensen–Shannon divergence (natural log) of the local-environment counts
  (element + multiset of bonded neighbour elements, e.g. ``C:C2H2``) and of the atom-type counts of the
  xyz2mol-valid molecules against those of the reference set (:mod:`genmol.eval.environments` has the
  definition and its sources).
* **PoseBusters** ``mol_fast`` checks on the xyz2mol-valid molecules (optional extra); the ``bond_lengths``
  pass rate (Symphony reports it: 98.72 % for its model) is also a metric of its own.

Molecules that cannot be scored (an element outside H/C/N/O/F, no atoms, non-finite
coordinates, a record the lenient reader could not read) count as unstable and invalid, with the
reason tallied, never dropped. A fraction whose denominator is zero (no molecules, no atoms, no
valid molecules) is NaN: undefined, not 0 (the CLI writes it as JSON ``null``); so is a metric that was not
computed (xyz2mol off, no reference, PoseBusters not requested).
"""

from __future__ import annotations

import collections
import dataclasses
import math

import numpy as np

from genmol.data.molecules.molecule_set import MoleculeSet
from genmol.eval.edm_bonds import EDM_ELEMENTS, atom_stable, bond_order_matrices, valences
from genmol.data.molecules.rdkit import largest_fragment_smiles, mol_from_orders, silence_rdkit, xyz2mol

__all__ = ["MoleculeMetrics", "evaluate_molecules", "edm_orders", "METRIC_KEYS"]

METRIC_KEYS = ("atom_stability", "mol_stability", "validity", "uniqueness", "valid_and_unique", "novelty",
               "xyz2mol_validity", "xyz2mol_uniqueness", "xyz2mol_connected", "local_env_jsd", "atom_type_jsd",
               "posebusters_bond_lengths", "n")


@dataclasses.dataclass
class MoleculeMetrics:
    """Aggregate metrics (``summary``) and per-molecule results."""

    summary: dict
    mol_stable: np.ndarray
    n_stable_atoms: np.ndarray
    smiles: list  # EDM largest-fragment SMILES or None
    xyz2mol_smiles: list  # or None
    reasons: dict  # invalid reason -> count
    posebusters: dict | None = None
    xyz2mol_mols: list | None = None
    # local-environment JSD terms, largest first ({"key", "p": generated, "q": reference, "term"}; nats)
    environment_terms: list | None = None


def _screen(ms: MoleculeSet, record_errors=None) -> list[str | None]:
    """Why a molecule cannot be scored at all (or None)."""
    out = []
    allowed = set(EDM_ELEMENTS)
    for i in range(len(ms)):
        s, e = ms.offsets[i], ms.offsets[i + 1]
        if record_errors is not None and record_errors[i]:
            out.append(f"unreadable record: {record_errors[i]}")
        elif e == s:
            out.append("no atoms")
        elif not np.all(np.isfinite(ms.positions[s:e])):
            out.append("non-finite coordinate")
        elif not set(ms.atomic_numbers[s:e].tolist()) <= allowed:
            out.append("element outside H,C,N,O,F")
        else:
            out.append(None)
    return out


def edm_orders(ms: MoleculeSet, chunk: int = 2048):
    """Yields ``(index array, z [b, n], orders [b, n, n], mask [b, n])`` in chunks of similar-size molecules."""
    order = np.argsort(ms.num_atoms, kind="stable")
    for s in range(0, len(order), chunk):
        idx = order[s:s + chunk]
        pos, z, mask = ms.padded(idx)
        pos = np.where(np.isfinite(pos), pos, 1e6)
        yield idx, z, bond_order_matrices(pos, z, mask), mask


def _divergences(x_mols: list, reference: dict | None) -> tuple[dict, list | None]:
    """``local_env_jsd`` and ``atom_type_jsd`` of the xyz2mol-valid molecules against ``reference`` (NaN: none),
    and the local-environment JSD's terms (largest first; ``None`` without a reference or valid molecules)."""
    from genmol.eval.environments import atom_type_counts, environment_counts, jensen_shannon, jensen_shannon_terms

    valid = [m for m in x_mols if m is not None]
    if reference is None or not valid:
        return {"local_env_jsd": math.nan, "atom_type_jsd": math.nan}, None
    env = environment_counts(valid)
    return {"local_env_jsd": jensen_shannon(env, reference["local_environments"]),
            "atom_type_jsd": jensen_shannon(atom_type_counts(valid), reference["atom_types"])}, \
        jensen_shannon_terms(env, reference["local_environments"])


def evaluate_molecules(ms: MoleculeSet, *, reference_smiles: set | None = None, xyz2mol_metrics: bool = True,
                       posebusters: bool = False, record_errors: list | None = None,
                       reference_environments: dict | None = None) -> MoleculeMetrics:
    """Scores every molecule of ``ms`` (see module docstring).

    Args:
        ms: the molecules (H included, Å).
        reference_smiles: training-set SMILES for novelty (``None``: novelty is NaN).
        xyz2mol_metrics: also run RDKit ``DetermineBonds``.
        posebusters: also run PoseBusters ``mol_fast`` (needs the ``posebusters`` extra).
        record_errors: per-molecule read errors from a lenient reader (counted invalid, with the reason).
        reference_environments: ``{"local_environments": counts, "atom_types": counts}`` of the training set
            (:func:`genmol.eval.reference.reference_environments`) for ``local_env_jsd`` and ``atom_type_jsd``
            (``None``: both NaN; they also need ``xyz2mol_metrics``).

    Returns:
        :class:`MoleculeMetrics`; ``summary["n"]`` is ``len(ms)`` (0 for an empty set, every fraction NaN).
    """
    silence_rdkit()
    n = len(ms)
    why = _screen(ms, record_errors)
    reasons: collections.Counter = collections.Counter(r for r in why if r)
    mol_stable = np.zeros(n, bool)
    n_stable = np.zeros(n, np.int64)
    smiles: list = [None] * n
    for idx, z, orders, mask in edm_orders(ms):
        stable = atom_stable(z, valences(orders), mask)
        n_stable[idx] = stable.sum(1)
        mol_stable[idx] = stable.sum(1) == mask.sum(1)
        for k, i in enumerate(idx):
            if why[i] is not None:
                continue
            m = int(mask[k].sum())
            smi = largest_fragment_smiles(mol_from_orders(z[k, :m], orders[k, :m, :m]))
            smiles[i] = smi
            if smi is None:
                reasons["EDM bonds fail RDKit sanitisation"] += 1
    screened = np.array([w is None for w in why], bool)  # bool even when empty (n = 0)
    mol_stable &= screened
    n_stable = np.where(screened, n_stable, 0)
    total_atoms = int(ms.num_atoms.sum())
    valid = [s for s in smiles if s is not None]
    unique = set(valid)
    summary = {
        "n": n,
        "atom_stability": n_stable.sum() / total_atoms if total_atoms else math.nan,
        "mol_stability": mol_stable.mean() if n else math.nan,
        "validity": len(valid) / n if n else math.nan,
        "uniqueness": len(unique) / len(valid) if valid else math.nan,
        "valid_and_unique": len(unique) / n if n else math.nan,
        "novelty": (len(unique - reference_smiles) / len(unique) if unique else math.nan)
        if reference_smiles is not None else math.nan,
    }
    x_smiles: list = [None] * n
    x_mols: list = [None] * n
    if xyz2mol_metrics:
        from rdkit import Chem

        for i in range(n):
            if why[i] is not None:
                continue
            mol = ms.molecule(i)
            xm, reason = xyz2mol(mol.atomic_numbers, mol.positions)
            if xm is None:
                reasons[f"xyz2mol: {reason}"] += 1
                continue
            x_mols[i] = xm
            x_smiles[i] = Chem.MolToSmiles(Chem.RemoveHs(xm, sanitize=False))
        xv = [s for s in x_smiles if s is not None]
        summary["xyz2mol_validity"] = len(xv) / n if n else math.nan
        summary["xyz2mol_uniqueness"] = len(set(xv)) / len(xv) if xv else math.nan
        connected = sum(len(Chem.GetMolFrags(m)) == 1 for m in x_mols if m is not None)
        summary["xyz2mol_connected"] = connected / n if n else math.nan
    else:
        summary["xyz2mol_validity"] = summary["xyz2mol_uniqueness"] = summary["xyz2mol_connected"] = math.nan
    divergences, env_terms = _divergences(x_mols if xyz2mol_metrics else [], reference_environments)
    summary.update(divergences)
    pb = None
    summary["posebusters_bond_lengths"] = math.nan
    if posebusters:
        from genmol.eval.posebusters import posebusters_pass_rates

        pb = posebusters_pass_rates([m for m in x_mols if m is not None])
        summary["posebusters_bond_lengths"] = pb["checks"].get("bond_lengths", math.nan)
    summary = {k: (float(v) if k != "n" else int(v)) for k, v in summary.items()}
    return MoleculeMetrics(summary, mol_stable, n_stable, smiles, x_smiles, dict(reasons), pb, x_mols,
                           env_terms)
