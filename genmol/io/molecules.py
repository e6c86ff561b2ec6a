"""Read and write sets of molecules by file extension: ``.xyz``, ``.extxyz``, ``.sdf``, ``.npz``.

* XYZ/extxyz: multi-frame, fixed-point coordinates (see :mod:`genmol.io.xyz`).
* SDF: bonds perceived with RDKit ``DetermineBonds(charge=0)`` where possible; otherwise the
  record is written without bonds and flagged with the SD property ``genmol_bonds=none``.
* NPZ: ragged arrays ``n_atoms [M]``, ``positions [A, 3]`` (Å), ``atomic_numbers [A]``
  (+ ``smiles``) — the layout of EDM's released samples; compact for large sample sets.

All writes are atomic. Readers can be ``lenient``: content errors inside a record (unknown
element, non-finite coordinate, an SDF record RDKit cannot parse) then yield the record
with its error in ``errors[i]`` instead of raising, so evaluation counts it invalid.

Anything else wrong with a file raises one :class:`GenmolError` sentence naming the file (and
the line, record or molecule index): a missing file or a directory, bytes that are not UTF-8
text, a file without molecules, a damaged npz archive or one holding pickled objects (never
loaded), arrays of the wrong dtype or shape, inconsistent counts.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from genmol.data.molecules.molecule_set import MoleculeSet
from genmol.errors import GenmolError
from genmol.io.atomic import atomic_open
from genmol.io.files import check_input_file, read_user_text
from genmol.data.molecules.molecule import Molecule
from genmol.io.xyz import iter_xyz, write_xyz

__all__ = ["read_molecules", "read_npz", "molecules_from_arrays", "write_molecules", "molecule_format", "FORMATS"]

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


def _sdf_records(text: str) -> Iterator[tuple[int, str]]:
    """``(first line number, record text)`` of every non-blank record of an SD file (records end at ``$$$$``)."""
    start, buf = 1, []
    for k, line in enumerate(text.splitlines(keepends=True), 1):
        buf.append(line)
        if line.rstrip("\r\n").rstrip() == "$$$$":
            if "".join(buf[:-1]).strip():
                yield start, "".join(buf)
            start, buf = k + 1, []
    if "".join(buf).strip():
        yield start, "".join(buf) + "\n$$$$\n"


def _read_sdf(path: Path, lenient: bool) -> tuple[list[Molecule], list]:
    from rdkit import Chem

    from genmol.data.molecules.rdkit import silence_rdkit

    silence_rdkit()
    text = read_user_text(path)
    if not text.strip():
        raise GenmolError(f"{path} is empty: it holds no SDF record")
    mols, errors = [], []
    for i, (line, record) in enumerate(_sdf_records(text)):
        problem, mol = None, None
        try:
            supplier = Chem.SDMolSupplier()
            supplier.SetData(record, sanitize=False, removeHs=False, strictParsing=True)
            mol = supplier[0] if len(supplier) else None
        except Exception:  # RDKit raises assorted errors (RuntimeError, ValueError, ...) on malformed blocks
            mol = None
        if mol is None:
            problem = "RDKit cannot read the record"
        elif mol.GetNumConformers() == 0:
            problem = "record has no coordinates"
        if problem is None:
            pos = np.asarray(mol.GetConformer().GetPositions(), np.float64).reshape(-1, 3)
            if not np.all(np.isfinite(pos)):
                problem = "non-finite coordinate"
        if problem is not None:
            if not lenient:
                raise GenmolError(f"{path}: record {i + 1} (line {line}): {problem}")
            mols.append(Molecule(np.zeros(0, np.int64), np.zeros((0, 3)), {}))
            errors.append(problem)
            continue
        info = {k: mol.GetProp(k) for k in mol.GetPropNames()}
        mols.append(Molecule(np.array([a.GetAtomicNum() for a in mol.GetAtoms()], np.int64), pos, info))
        errors.append(None)
    if not mols:
        raise GenmolError(f"{path} holds no SDF record (only '$$$$' separators and blank lines)")
    return mols, errors


_NPZ_KEYS = ("n_atoms", "positions", "atomic_numbers")
_MAX_Z = 118


def _load_npz_arrays(path: Path) -> dict:
    """Every array of an npz archive, never unpickling; one GenmolError for anything unreadable."""
    if not zipfile.is_zipfile(path):
        raise GenmolError(f"{path} is not an npz file (not a zip archive of .npy arrays)")
    key = None
    try:
        f = np.load(path, allow_pickle=False)
        if not isinstance(f, np.lib.npyio.NpzFile):
            raise GenmolError(f"{path} is not an npz file (it starts like a single .npy array)")
        with f:
            d = {}
            for key in f.files:
                d[key] = f[key]
                if not isinstance(d[key], np.ndarray):
                    raise GenmolError(f"{path}: member {key!r} is not a .npy array")
    except GenmolError:
        raise
    except ValueError as e:
        if "pickle" in str(e):
            raise GenmolError(f"{path}: array {key!r} holds Python objects (pickled data), which genmol never "
                              "loads; save plain numeric arrays") from None
        where = f"array {key!r}" if key is not None else "its zip directory"
        raise GenmolError(f"{path} is not a readable npz file: {where} is malformed") from None
    except Exception:  # a damaged archive: BadZipFile, zlib.error, EOFError, OSError, MemoryError, ...
        where = f"array {key!r}" if key is not None else "its zip directory"
        raise GenmolError(f"{path} is not a readable npz file: {where} is damaged") from None
    return d


def _read_npz(path: Path, lenient: bool) -> tuple[MoleculeSet, list]:
    """The ragged npz layout (see module docstring), every array checked; bad records as in :func:`read_molecules`."""
    return molecules_from_arrays(_load_npz_arrays(path), str(path), lenient=lenient)


def molecules_from_arrays(d: dict, path: str, *, lenient: bool = False) -> tuple[MoleculeSet, list]:
    """Molecules from the ragged layout ``n_atoms [M]``, ``positions [A, 3]`` (Å), ``atomic_numbers [A]``
    (+ ``smiles [M]``, ``prop_<name> [M]``), every array checked for dtype, shape and consistent counts.

    Returns:
        ``(molecules, errors)`` as :func:`read_molecules`: a non-finite coordinate or an atomic number outside
        1..118 raises, or with ``lenient`` is kept and described in ``errors[i]`` (the atomic number set to 0).

    Raises:
        GenmolError: one sentence naming ``path`` (and the molecule index) and the problem.
    """
    d = {k: np.asarray(v) for k, v in d.items()}
    missing = [k for k in _NPZ_KEYS if k not in d]
    if missing:
        raise GenmolError(f"{path}: missing array(s) {', '.join(missing)} (an npz of molecules holds "
                          f"n_atoms [M], positions [A, 3] in Å and atomic_numbers [A])")
    n_raw, pos_raw, z_raw = (d[k] for k in _NPZ_KEYS)
    if n_raw.ndim != 1 or n_raw.dtype.kind not in "iu":
        raise GenmolError(f"{path}: n_atoms must be a 1-D integer array, got {n_raw.dtype} of shape {n_raw.shape}")
    if pos_raw.ndim != 2 or pos_raw.shape[1] != 3 or pos_raw.dtype.kind not in "iuf":
        raise GenmolError(f"{path}: positions must be a real [A, 3] array, got {pos_raw.dtype} of shape "
                          f"{pos_raw.shape}")
    if z_raw.ndim != 1 or z_raw.dtype.kind not in "iu":
        raise GenmolError(f"{path}: atomic_numbers must be a 1-D integer array, got {z_raw.dtype} of shape "
                          f"{z_raw.shape}")
    m, a = len(n_raw), len(pos_raw)
    if m == 0:
        raise GenmolError(f"{path} holds no molecules (n_atoms is empty)")
    bad = np.flatnonzero((n_raw < 0) | (n_raw > a))
    if len(bad):
        raise GenmolError(f"{path}: molecule {bad[0]}: n_atoms = {n_raw[bad[0]]} is not an atom count "
                          f"(the file holds {a} atoms)")
    n = n_raw.astype(np.int64)
    if int(n.sum()) != a or len(z_raw) != a:
        raise GenmolError(f"{path}: inconsistent arrays: sum(n_atoms) = {int(n.sum())} but positions holds {a} atoms "
                          f"and atomic_numbers {len(z_raw)}")
    for k, v in d.items():
        if k == "smiles":
            if v.ndim != 1 or v.dtype.kind not in "US" or len(v) not in (0, m):
                raise GenmolError(f"{path}: smiles must be {m} strings, got {v.dtype} of shape {v.shape}")
        elif k.startswith("prop_") and (v.ndim != 1 or len(v) != m or v.dtype.kind not in "biuf"):
            raise GenmolError(f"{path}: {k} must hold one number per molecule ({m}), got {v.dtype} of shape {v.shape}")
    offsets = np.concatenate([[0], np.cumsum(n)])
    molecule_of_atom = np.repeat(np.arange(m), n)
    pos = pos_raw.astype(np.float64)
    bad_z = (z_raw < 1) | (z_raw > _MAX_Z)
    z = np.where(bad_z, 0, z_raw).astype(np.int16)
    nonfinite = ~np.all(np.isfinite(pos), axis=1)
    errors: list = [None] * m
    for i in sorted(set(molecule_of_atom[nonfinite].tolist()) | set(molecule_of_atom[bad_z].tolist())):
        s, e = offsets[i], offsets[i + 1]
        zi = z_raw[s:e][bad_z[s:e]]
        problem = f"atomic number {zi[0]} is not an element" if len(zi) else "non-finite coordinate"
        if not lenient:
            raise GenmolError(f"{path}: molecule {i}: {problem}")
        errors[i] = problem
    smiles = d["smiles"] if "smiles" in d and len(d["smiles"]) == m else None
    smiles = [s.decode("utf-8", "replace") if isinstance(s, bytes) else str(s) for s in smiles.tolist()] \
        if smiles is not None else []
    props = {k[5:]: v for k, v in d.items() if k.startswith("prop_")}
    return MoleculeSet(pos, z, offsets, props, smiles), errors


def read_npz(path: str | os.PathLike) -> MoleculeSet:
    """The molecules of a ragged-layout ``.npz`` file (any name), strictly checked (see :func:`read_molecules`)."""
    return _read_npz(check_input_file(path), lenient=False)[0]


def read_molecules(path: str | os.PathLike, *, lenient: bool = False) -> tuple[MoleculeSet, list]:
    """Reads all molecules of a file (at least one: a file without molecules is an error).

    Returns:
        ``(molecules, errors)``; ``errors[i]`` is ``None`` or why record ``i`` is unusable
        (only in ``lenient`` mode; otherwise such a record raises :class:`GenmolError`).
        Such a record is kept (with no atoms, or with its NaN coordinates / atomic number 0),
        so that evaluation counts it invalid.

    Raises:
        GenmolError: one sentence naming the file (and the line, record or molecule index) and
            the problem: missing file, a directory, unsupported extension, no molecules, bytes
            that are not UTF-8 text, a malformed record, a damaged or pickled npz.
    """
    path = Path(path)
    if path.is_dir():
        check_input_file(path)
    ext = molecule_format(path)
    check_input_file(path)
    if ext == ".npz":
        return _read_npz(path, lenient)
    if ext == ".sdf":
        mols, errors = _read_sdf(path, lenient)
    else:
        mols = list(iter_xyz(path, lenient=lenient))
        errors = [m.info.pop("error", None) if lenient else None for m in mols]
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
    if path.is_dir():
        raise GenmolError(f"{path} is a directory; give the name of the molecule file to write")
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
