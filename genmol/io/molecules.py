"""Read and write sets of molecules by file extension: ``.xyz``, ``.extxyz``, ``.sdf``, ``.npz``.

* XYZ/extxyz: multi-frame, fixed-point coordinates (see :mod:`genmol.io.xyz`).
* SDF: bonds perceived with RDKit ``DetermineBonds(charge=0)`` where possible; otherwise the
  record is written without bonds and flagged with the SD property ``genmol_bonds=none``.
* NPZ: ragged arrays ``n_atoms [M]``, ``positions [A, 3]`` (Å), ``atomic_numbers [A]``
  (+ ``smiles``) — the layout of EDM's released samples; compact for large sample sets.

All writes are atomic. Readers can be ``lenient``: content errors inside a record (unknown
element, non-finite coordinate, an SDF record RDKit cannot parse) then yield the record
with its error in ``errors[i]`` instead of raising, so evaluation counts it invalid.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genmol.data.molecules.molecule_set import MoleculeSet
from genmol.errors import GenmolError
from genmol.io.atomic import atomic_open
from genmol.data.molecules.molecule import Molecule
from genmol.io.xyz import iter_xyz, write_xyz

__all__ = ["read_molecules", "write_molecules", "molecule_format", "FORMATS"]

FORMATS = (".xyz", ".extxyz", ".sdf", ".npz")


def molecule_format(path: str | os.PathLike) -> str:
    """The file's format (``.xyz``, ``.extxyz``, ``.sdf`` or ``.npz``) from its extension.

    Raises:
        GenmolError: any other extension (check outputs with it before long work).
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise GenmolError(f"{path}: unsupported molecule file type {ext or '(none)'!r}; use one of {FORMATS}")
    return ext


def _read_sdf(path: Path, lenient: bool) -> tuple[list[Molecule], list]:
    from rdkit import Chem

    from genmol.data.molecules.rdkit import silence_rdkit

    silence_rdkit()
    if not path.read_text(errors="replace").strip():
        raise GenmolError(f"{path} is empty: no SDF record found")
    supplier = Chem.SDMolSupplier(str(path), sanitize=False, removeHs=False, strictParsing=True)
    mols, errors = [], []
    for i in range(len(supplier)):
        mol = supplier[i]
        problem = None
        if mol is None:
            problem = "RDKit cannot read the record"
        elif mol.GetNumConformers() == 0:
            problem = "record has no coordinates"
        if problem is None:
            pos = mol.GetConformer().GetPositions()
            if not np.all(np.isfinite(pos)):
                problem = "non-finite coordinate"
        if problem is not None:
            if not lenient:
                raise GenmolError(f"{path}: record {i + 1}: {problem}")
            mols.append(Molecule(np.zeros(0, np.int64), np.zeros((0, 3)), {}))
            errors.append(problem)
            continue
        info = {k: mol.GetProp(k) for k in mol.GetPropNames()}
        mols.append(Molecule(np.array([a.GetAtomicNum() for a in mol.GetAtoms()], np.int64), pos, info))
        errors.append(None)
    return mols, errors


def read_molecules(path: str | os.PathLike, *, lenient: bool = False) -> tuple[MoleculeSet, list]:
    """Reads all molecules of a file.

    Returns:
        ``(molecules, errors)``; ``errors[i]`` is ``None`` or why record ``i`` is unusable
        (only in ``lenient`` mode; otherwise such a record raises :class:`GenmolError`).
    """
    path = Path(path)
    ext = molecule_format(path)
    if not path.is_file():
        raise GenmolError(f"{path} does not exist")
    if ext == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                d = {k: f[k] for k in f.files}
        except (ValueError, OSError) as e:
            raise GenmolError(f"{path} is not a readable npz file ({e})") from None
        ms = MoleculeSet.from_arrays(d, source=str(path))
        errors = [None] * len(ms)
        if not lenient:
            for i in range(len(ms)):
                s, e = ms.offsets[i], ms.offsets[i + 1]
                if not np.all(np.isfinite(ms.positions[s:e])):
                    raise GenmolError(f"{path}: molecule {i}: non-finite coordinate")
        return ms, errors
    if ext == ".sdf":
        mols, errors = _read_sdf(path, lenient)
    else:
        mols = list(iter_xyz(path, lenient=lenient))
        errors = [m.info.pop("error", None) for m in mols]
    return MoleculeSet.from_molecules(mols, property_keys=[]), errors


def _sdf_mol(mol: Molecule):
    from rdkit import Chem

    from genmol.data.molecules.rdkit import mol_from_orders, xyz2mol

    rd, _ = xyz2mol(mol.atomic_numbers, mol.positions)
    flagged = rd is None
    if flagged:
        rd = mol_from_orders(mol.atomic_numbers, np.zeros((mol.num_atoms,) * 2, np.int8), mol.positions)
    rd = Chem.Mol(rd)
    for k, v in mol.info.items():
        if isinstance(v, (str, int, float)) and k != "arrays":
            rd.SetProp(str(k), str(v))
    rd.SetProp("genmol_bonds", "none" if flagged else "DetermineBonds")
    return rd


def write_molecules(path: str | os.PathLike, molecules, *, extended: bool = True) -> None:
    """Writes ``molecules`` (a :class:`MoleculeSet` or a list of :class:`Molecule`) by extension, atomically."""
    path = Path(path)
    ext = molecule_format(path)
    mols = list(molecules)
    if ext in (".xyz", ".extxyz"):
        write_xyz(path, mols, extended=extended or ext == ".extxyz")
    elif ext == ".sdf":
        from genmol.data.molecules.rdkit import silence_rdkit

        silence_rdkit()
        from rdkit import Chem

        with atomic_open(path, "w") as f:
            writer = Chem.SDWriter(f)
            writer.SetKekulize(False)
            for m in mols:
                writer.write(_sdf_mol(m))
            writer.close()
    else:
        ms = molecules if isinstance(molecules, MoleculeSet) else MoleculeSet.from_molecules(mols, property_keys=[])
        ms.save_npz(path)
