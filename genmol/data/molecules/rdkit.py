"""RDKit molecules from 3D structures: EDM bond tables or RDKit's xyz2mol (``DetermineBonds``)."""

from __future__ import annotations

import numpy as np

__all__ = ["mol_from_orders", "edm_smiles", "largest_fragment_smiles", "xyz2mol", "silence_rdkit"]

_BOND_TYPES = None


def silence_rdkit() -> None:
    """Hides RDKit's per-molecule warnings (sanitisation failures are expected on generated molecules)."""
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")


def _bond_types():
    global _BOND_TYPES
    if _BOND_TYPES is None:
        from rdkit import Chem

        _BOND_TYPES = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}
    return _BOND_TYPES


def mol_from_orders(z: np.ndarray, orders: np.ndarray, positions: np.ndarray | None = None):
    """An unsanitised ``RWMol`` with atoms ``z`` and bonds ``orders [n, n]`` (each pair once), optional conformer."""
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    mol = Chem.RWMol()
    for a in z:
        mol.AddAtom(Chem.Atom(int(a)))
    bt = _bond_types()
    ii, jj = np.nonzero(np.triu(orders, 1))
    for i, j in zip(ii.tolist(), jj.tolist()):
        mol.AddBond(i, j, bt[int(orders[i, j])])
    if positions is not None:
        conf = Chem.Conformer(len(z))
        for k, (x, y, w) in enumerate(np.asarray(positions, float)):
            conf.SetAtomPosition(k, Point3D(x, y, w))
        mol.AddConformer(conf, assignId=True)
    return mol


def _sanitized_smiles(mol):
    from rdkit import Chem

    try:
        Chem.SanitizeMol(mol)
    except (ValueError, RuntimeError):
        return None
    return Chem.MolToSmiles(mol)


def largest_fragment_smiles(mol):
    """EDM validity: SMILES of the largest fragment of the sanitised molecule, or ``None`` if it fails."""
    from rdkit import Chem

    if _sanitized_smiles(mol) is None:
        return None
    frags = Chem.rdmolops.GetMolFrags(mol, asMols=True)
    largest = max(frags, default=mol, key=lambda m: m.GetNumAtoms())
    return _sanitized_smiles(largest)


def edm_smiles(z: np.ndarray, orders: np.ndarray):
    """SMILES of the whole molecule under EDM bonds (no largest-fragment step; EDM's reference SMILES)."""
    return _sanitized_smiles(mol_from_orders(z, orders))


def xyz2mol(z: np.ndarray, positions: np.ndarray):
    """Bonds and charges perceived by RDKit ``DetermineBonds(mol, charge=0)``.

    Returns:
        ``(mol, None)`` on success with at least one bond, else ``(None, reason)``.
    """
    from rdkit.Chem import rdDetermineBonds

    mol = mol_from_orders(z, np.zeros((len(z), len(z)), np.int8), positions)
    try:
        rdDetermineBonds.DetermineBonds(mol, charge=0)
    except (ValueError, RuntimeError) as e:
        msg = str(e).split("\n")[0]
        return None, ("charge mismatch" if "charge" in msg.lower() else
                      "valence" if "valence" in msg.lower() else msg[:60])
    if mol.GetNumBonds() == 0:
        return None, "no bonds"
    return mol, None
