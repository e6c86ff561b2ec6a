"""Reference (training-set) SMILES for novelty, computed with EDM's pipeline and cached.

``qm9``: the EDM train split of the full QM9 if the ``qm9`` extra is installed, else the
embedded 2,000-molecule subset (noted in the result). SMILES come from the same pipeline as
EDM validity (table bonds, sanitised, largest fragment), so a generated molecule identical to
a training molecule is never counted novel. (EDM's own cache skips the largest-fragment step;
on QM9 training molecules the two agree except for the few disconnected ones.)
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from genmol.data.molecules.molecule_set import MoleculeSet
from genmol.errors import GenmolError
from genmol.eval.edm_bonds import EDM_ELEMENTS
from genmol.eval.molecules import edm_orders
from genmol.data.molecules.rdkit import largest_fragment_smiles, mol_from_orders, silence_rdkit
from genmol.io.atomic import atomic_write_text

__all__ = ["reference_smiles", "smiles_of"]


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


def reference_smiles(name: str = "qm9") -> tuple[set[str], str]:
    """``(smiles, description)`` of the reference set ``name`` (only ``qm9``), cached on disk."""
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
    key = hashlib.sha256(ms.positions.tobytes() + ms.atomic_numbers.tobytes()).hexdigest()[:16]
    path = cache_dir() / "reference" / f"qm9_largest_fragment_{key}.json"
    if path.is_file():
        return set(json.loads(path.read_text())), desc
    smiles = smiles_of(ms)
    atomic_write_text(path, json.dumps(sorted(smiles)))
    return smiles, desc
