"""Reference (training-set) statistics: SMILES for novelty, environment counts for the JSD metrics; cached.

``qm9``: the EDM train split of the full QM9 if the ``qm9`` extra is installed, else the
embedded 2,000-molecule subset (noted in the result). SMILES come from the same pipeline as
EDM validity (table bonds, sanitised, largest fragment), so a generated molecule identical to
a training molecule is never counted novel. (EDM's own cache skips the largest-fragment step;
on QM9 training molecules the two agree except for the few disconnected ones.) Local-environment
and atom-type counts come from the xyz2mol-valid reference molecules, as for generated ones
(:mod:`genmol.eval.environments`). Both are cached under ``$GENMOL_CACHE_DIR/reference``, keyed by a
hash of the reference coordinates and elements.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from genmol.data.molecules.molecule_set import MoleculeSet
from genmol.errors import GenmolError
from genmol.eval.edm_bonds import EDM_ELEMENTS
from genmol.eval.molecules import edm_orders
from genmol.data.molecules.rdkit import largest_fragment_smiles, mol_from_orders, silence_rdkit, xyz2mol
from genmol.io.atomic import atomic_write_text

ENVIRONMENTS_VERSION = 1  # bump when the definition in genmol.eval.environments changes (new cache file)

__all__ = ["reference_smiles", "reference_environments", "smiles_of", "environments_of"]


def smiles_of(ms: MoleculeSet) -> set[str]:
    """Largest-fragment EDM SMILES of every molecule that sanitises."""
    silence_rdkit()
    out = set()
    ok = set(EDM_ELEMENTS)
    for idx, z, orders, mask in edm_orders(ms):
        for k, i in enumerate(idx):
            m = int(mask[k].sum())
            if not set(z[k, :m].tolist()) <= ok:
                continue
            s = largest_fragment_smiles(mol_from_orders(z[k, :m], orders[k, :m, :m]))
            if s is not None:
                out.add(s)
    return out


def environments_of(ms: MoleculeSet) -> dict:
    """Local-environment and atom-type counts of the xyz2mol-valid molecules of ``ms``, and how many there are."""
    from genmol.eval.environments import atom_type_counts, environment_counts

    silence_rdkit()
    ok = set(EDM_ELEMENTS)
    mols = []
    for i in range(len(ms)):
        m = ms.molecule(i)
        if set(m.atomic_numbers.tolist()) <= ok:
            mols.append(xyz2mol(m.atomic_numbers, m.positions)[0])
    valid = [m for m in mols if m is not None]
    return {"n_molecules": len(ms), "n_valid": len(valid),
            "local_environments": dict(sorted(environment_counts(valid).items())),
            "atom_types": dict(sorted(atom_type_counts(valid).items()))}


def _reference_set(name: str) -> tuple[MoleculeSet, str, Path]:
    """``(molecules, description, cache directory)`` of the reference ``name`` (only ``qm9``)."""
    from genmol.data.molecules.qm9 import cache_dir, edm_split, load_qm9, qm9pack_dir

    if name != "qm9":
        raise GenmolError(f"unknown reference {name!r}; use 'qm9' or 'none'")
    if qm9pack_dir() is not None:
        ms = load_qm9("qm9pack")
        split = edm_split(ms.properties["qm9_index"])
        pos = np.searchsorted(ms.properties["qm9_index"], np.sort(split["train"]))
        ms, desc = ms.subset(pos), "QM9 EDM train split (100,000 molecules, qm9pack)"
    else:
        ms = load_qm9("embedded")
        desc = "embedded QM9 subset (2,000 molecules; install the qm9 extra for EDM's train split)"
    return ms, desc, cache_dir() / "reference"


def _key(ms: MoleculeSet) -> str:
    return hashlib.sha256(ms.positions.tobytes() + ms.atomic_numbers.tobytes()).hexdigest()[:16]


def reference_smiles(name: str = "qm9") -> tuple[set[str], str]:
    """``(smiles, description)`` of the reference set ``name`` (only ``qm9``), cached on disk."""
    ms, desc, folder = _reference_set(name)
    path = folder / f"qm9_largest_fragment_{_key(ms)}.json"
    if path.is_file():
        return set(json.loads(path.read_text())), desc
    smiles = smiles_of(ms)
    atomic_write_text(path, json.dumps(sorted(smiles)))
    return smiles, desc


def reference_environments(name: str = "qm9") -> tuple[dict, str]:
    """``(counts, description)``: :func:`environments_of` the reference set ``name`` (only ``qm9``), cached on disk.

    ``counts["local_environments"]`` and ``counts["atom_types"]`` are plain ``{key: count}`` dicts.
    """
    ms, desc, folder = _reference_set(name)
    path = folder / f"qm9_environments_v{ENVIRONMENTS_VERSION}_{_key(ms)}.json"
    if path.is_file():
        return json.loads(path.read_text()), desc
    counts = environments_of(ms)
    atomic_write_text(path, json.dumps(counts, indent=1))
    return counts, desc
