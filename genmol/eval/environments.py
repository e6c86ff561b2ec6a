"""Local-environment and atom-type distributions compared by Jensen–Shannon divergence (Symphony's metrics).

Definition implemented (Daigavane et al. 2024, "Symphony", ICLR; code: ``atomicarchitects/symphony``, commit
``14785e2b`` "Commit as of ICLR submission", ``analyses/metrics.py`` and ``analyses/analyze_molecules.ipynb``,
whose saved output holds the paper's 0.0039 / 0.0057 / 0.0150 / 0.1016):

* **Molecules**: only xyz2mol-valid ones (RDKit ``DetermineBonds(charge=0)`` succeeds with at least one bond;
  Symphony's ``check_molecule_validity``), with the bonds it perceives. Bond orders are ignored: a double bond
  is one neighbour.
* **Local environment** of an atom: its element and the multiset of its bonded neighbours' elements, written
  ``"C:C2H2"`` (neighbour elements in alphabetical order of their symbols, each with its count). Symphony
  builds the same multiset per bond (``compute_local_environments``) and keys it as ``("C", "C2,H2")``; the
  spelling differs, the partition of atoms does not, so the divergence is the same. As there, an atom with no
  bond (a stray atom in a valid molecule) has no environment and is not counted.
* **Atom types**: the element of every atom of every valid molecule, bonded or not (``count_atom_types``).
* **Divergence**: counts are normalised to frequencies over the union of keys (a key missing on one side has
  frequency 0) and ``JSD(P, Q) = ½ KL(P‖M) + ½ KL(Q‖M)``, ``M = ½(P + Q)``, with the **natural logarithm**
  (``compute_jensen_shannon_divergence`` uses ``np.log``), so ``0 ≤ JSD ≤ ln 2``. This is the square of
  ``scipy.spatial.distance.jensenshannon``.

Where genmol departs (the paper is silent on these; they are choices, stated here and in the README):

* Symphony counts environments over the **first 1,000 valid molecules** of each set (``max_num_molecules=1000``,
  in ``os.listdir`` order) and compares with the first 1,000 valid molecules of **all of QM9** (a directory of
  QM9 ``.xyz`` files). genmol counts over **all** valid molecules and compares with the same reference as novelty
  (EDM's 100,000-molecule train split with the ``qm9`` extra, else the embedded 2,000-molecule subset): an
  order-independent number with less sampling noise (the plug-in JSD of small samples is biased upward), so it
  is **not** numerically comparable to the paper's table.
* The reference counts, like the generated ones, come from the reference molecules that are xyz2mol-valid here:
  94,782 of EDM's 100,000 train molecules with the RDKit this was written against (2026.09; Symphony's notebook
  found 99.99 % of QM9 valid with its RDKit of 2023).
* Molecules are ``None``-filtered lists of RDKit molecules with bonds (``MoleculeMetrics.xyz2mol_mols``); the
  environment of an atom needs its neighbours only, so any bond perception can be fed in, but the metric as
  reported uses xyz2mol's.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Mapping

__all__ = ["environment_key", "local_environments", "environment_counts", "atom_type_counts", "jensen_shannon",
           "jensen_shannon_terms"]


def environment_key(center: str, neighbours: Iterable[str]) -> str:
    """``"C:C2H2"``: the central element, then each neighbour element (alphabetical) with its count."""
    counts = collections.Counter(neighbours)
    return center + ":" + "".join(f"{el}{counts[el]}" for el in sorted(counts))


def local_environments(mol) -> list[str]:
    """Environment keys of the bonded atoms of an RDKit molecule, in atom order (atoms without a bond skipped)."""
    return [environment_key(a.GetSymbol(), [b.GetSymbol() for b in a.GetNeighbors()])
            for a in mol.GetAtoms() if a.GetDegree() > 0]


def environment_counts(mols: Iterable) -> collections.Counter:
    """How many atoms of ``mols`` (RDKit molecules with bonds; ``None`` entries skipped) have each environment."""
    out: collections.Counter = collections.Counter()
    for m in mols:
        if m is not None:
            out.update(local_environments(m))
    return out


def atom_type_counts(mols: Iterable) -> collections.Counter:
    """How many atoms of ``mols`` (``None`` entries skipped) are of each element, e.g. ``{"C": 7, "H": 10}``."""
    out: collections.Counter = collections.Counter()
    for m in mols:
        if m is not None:
            out.update(a.GetSymbol() for a in m.GetAtoms())
    return out


def jensen_shannon_terms(p_counts: Mapping, q_counts: Mapping) -> list[dict]:
    """Each key's share of :func:`jensen_shannon` (nats), largest first: where two count tables differ most.

    Returns one ``{"key", "p", "q", "term"}`` per key of either table: its frequencies in ``p_counts`` and
    ``q_counts`` and ``term = ½ p ln(p/m) + ½ q ln(q/m)``, ``m = (p + q)/2`` (≥ 0); the terms sum to the JSD in
    nats. Ties keep the keys' string order. Empty when either table has no counts.
    """
    np_, nq = sum(p_counts.values()), sum(q_counts.values())
    if np_ <= 0 or nq <= 0:
        return []
    out = []
    for k in sorted(set(p_counts) | set(q_counts), key=str):
        p, q = p_counts.get(k, 0) / np_, q_counts.get(k, 0) / nq
        m = (p + q) / 2
        term = ((p * math.log(p / m) if p else 0.0) + (q * math.log(q / m) if q else 0.0)) / 2
        out.append({"key": k, "p": p, "q": q, "term": term})
    out.sort(key=lambda t: -t["term"])  # stable: ties stay in key order
    return out


def jensen_shannon(p_counts: Mapping, q_counts: Mapping, base: float = math.e) -> float:
    """Jensen–Shannon divergence of the frequency distributions of two count tables (natural log by default).

    Keys missing from one table have frequency 0 there. Exactly symmetric and exactly 0 for proportional tables
    with the same keys; at most ``log_base 2`` (1 in base 2, ln 2 in base e), reached for disjoint supports.
    NaN when either table has no counts (the distribution is undefined). The sum of
    :func:`jensen_shannon_terms` (exactly, in nats).
    """
    terms = jensen_shannon_terms(p_counts, q_counts)
    if not terms:
        return math.nan
    return max(0.0, math.fsum(t["term"] for t in terms) / math.log(base))
