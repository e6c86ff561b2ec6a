"""Read and write protein structures (PDB, mmCIF, BinaryCIF via biotite) and MD trajectories (XTC, DCD, HDF5 via
mdtraj and h5py) as :class:`~genmol.data.proteins.structure.Protein` residues in the shared slot table.

Reading keeps the first alternate location, HETATM caps (ACE, NME) and modified residues (MSE as MET, other
amino-acid-like residues as UNK with their backbone); drops waters, ions and ligands and ignores hydrogens, all
counted in ``protein.dropped``; masks missing atoms (never invents them). Author residue numbers, insertion codes
and chain ids are kept. mdtraj works in nm; coordinates are converted to Å here, at the boundary.

Writing is atomic (:mod:`genmol.io.atomic`) with standard atom names and the protein's numbering and chains.

Anything wrong with a file raises one :class:`GenmolError` sentence naming the file (and the chain, residue or
frame): a missing or empty file, bytes that are not a structure, a truncated mmCIF, no protein residues (a
ligand-only file, a DNA chain), a chain in which no amino acid has a complete backbone, a trajectory whose atom
count differs from its topology's.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from genmol.data.proteins.assign import assign_slots
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.io.atomic import atomic_open
from genmol.io.files import check_input_file, decode_user_text, read_user_bytes

__all__ = ["read_structure", "read_trajectory", "write_pdb", "write_mmcif", "STRUCTURE_FORMATS",
           "TRAJECTORY_FORMATS"]

STRUCTURE_FORMATS = {".pdb": "PDB", ".ent": "PDB", ".cif": "mmCIF", ".mmcif": "mmCIF", ".bcif": "BinaryCIF"}
TRAJECTORY_FORMATS = {".xtc": "XTC", ".dcd": "DCD", ".h5": "HDF5", ".hdf5": "HDF5"}
NM_TO_ANGSTROM = 10.0


def _reason(e: Exception) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 100 else text[:97] + "..."


def _format(path: Path, formats: dict[str, str], what: str) -> str:
    fmt = formats.get(path.suffix.lower())
    if fmt is None:
        raise GenmolError(f"{path}: unsupported {what} type {path.suffix or '(none)'!r}; use one of "
                          f"{', '.join(formats)}")
    return fmt


def _open_structure_file(path: Path, fmt: str):
    """The biotite file object (PDBFile, CIFFile or BinaryCIFFile) of ``path``."""
    import biotite.structure.io.pdb as pdb
    import biotite.structure.io.pdbx as pdbx

    data = read_user_bytes(path, "structure file")
    if not data.strip():
        raise GenmolError(f"{path} is empty: it holds no {fmt} structure")
    if fmt == "BinaryCIF":
        return pdbx.BinaryCIFFile.read(io.BytesIO(data))
    text = decode_user_text(data, str(path))
    if fmt == "PDB":
        return pdb.PDBFile.read(io.StringIO(text))
    return pdbx.CIFFile.read(io.StringIO(text))


def _model_atoms(file, path: Path, fmt: str, model: int):
    """Atoms of one model with every alternate location (annotation ``altloc_id``)."""
    import biotite.structure.io.pdb as pdb
    import biotite.structure.io.pdbx as pdbx

    is_pdb = isinstance(file, pdb.PDBFile)
    count = file.get_model_count() if is_pdb else pdbx.get_model_count(file)
    if count == 0:
        raise GenmolError(f"{path} holds no atoms (no {fmt} atom records)")
    if not 1 <= model <= count:
        raise GenmolError(f"{path} has {count} model(s); model {model} does not exist")
    if is_pdb:
        return file.get_structure(model=model, altloc="all")
    return pdbx.get_structure(file, model=model, altloc="all")


def _first_altloc(atoms):
    import biotite.structure as struc

    keep = struc.filter_first_altloc(atoms, atoms.altloc_id)
    return atoms[keep], int((~keep).sum())


def read_structure(path: str | os.PathLike, chain: str | None = None, model: int = 1) -> Protein:
    """One model of a PDB (``.pdb``, ``.ent``), mmCIF (``.cif``, ``.mmcif``) or BinaryCIF (``.bcif``) file.

    Args:
        chain: an author chain id to keep (default: every chain with protein residues).
        model: the model number, from 1 (NMR ensembles have several).

    Returns:
        The protein's residues (``positions [R, 14, 3]`` Å), with ``source`` the path and ``dropped`` the counts
        of what was left out.

    Raises:
        GenmolError: one sentence naming the file (and chain): see the module docstring.
    """
    path = check_input_file(path, "structure file")
    fmt = _format(path, STRUCTURE_FORMATS, "structure file")
    atoms, altloc_atoms = _structure_atoms(path, fmt, model)
    if chain is not None:
        atoms = _select_chain(atoms, path, chain)
    return assign_slots(atoms, str(path), altloc_atoms, chain=chain).protein(atoms.coord)


def _structure_atoms(path: Path, fmt: str, model: int):
    """``(atoms, altloc_atoms)``: one model's atoms at their first alternate location, and how many other-altloc
    atoms were left out; any parser failure is one :class:`GenmolError` naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _first_altloc(_model_atoms(_open_structure_file(path, fmt), path, fmt, model))
    except GenmolError:
        raise
    except Exception as e:  # biotite's parsers raise many types on malformed input
        raise GenmolError(f"{path} is not a readable {fmt} file ({_reason(e)})") from None


def _select_chain(atoms, path: Path, chain: str):
    keep = atoms.chain_id == chain
    if not keep.any():
        chains = ", ".join(repr(c) for c in dict.fromkeys(atoms.chain_id.tolist()))
        raise GenmolError(f"{path} has no chain {chain!r} (chains: {chains})")
    return atoms[keep]


# ---------------------------------------------------------------------------------------------- trajectories


def _atom_array(rows: list[tuple[str, int, str, str, str, str]]):
    """A coordinate-less biotite AtomArray from ``(chain, res_id, ins_code, res_name, atom_name, element)`` rows."""
    import biotite.structure as struc

    atoms = struc.AtomArray(len(rows))
    if rows:
        chain, res_id, ins_code, res_name, atom_name, element = (np.asarray(c) for c in zip(*rows))
        atoms.chain_id, atoms.res_id, atoms.res_name = chain.astype(str), res_id.astype(int), res_name.astype(str)
        atoms.ins_code = ins_code.astype(str)
        atoms.atom_name, atoms.element = atom_name.astype(str), element.astype(str)
    return atoms


def _chain_name(chain_id, index: int) -> str:
    if chain_id:
        return str(chain_id)
    return chr(ord("A") + index) if index < 26 else str(index)


def _mdtraj_rows(topology) -> list[tuple]:
    """``(chain, res_id, ins_code, res_name, atom_name, element)`` rows; mdtraj topologies keep no insertion
    codes (see :func:`_with_insertion_codes`)."""
    return [(_chain_name(getattr(a.residue.chain, "chain_id", None), a.residue.chain.index), a.residue.resSeq, "",
             a.residue.name, a.name, a.element.symbol if a.element is not None else "") for a in topology.atoms]


def _h5_rows(topology: dict) -> list[tuple]:
    """Rows of an mdtraj HDF5 topology; ``insertionCode`` is genmol's addition (mdtraj ignores it)."""
    return [(_chain_name(c.get("chain_id"), c["index"]), r["resSeq"], r.get("insertionCode", ""), r["name"],
             a["name"], a.get("element") or "")
            for c in topology["chains"] for r in c["residues"] for a in r["atoms"]]


def _with_insertion_codes(rows: list[tuple], top: Path) -> list[tuple]:
    """The rows with the insertion codes of a PDB/mmCIF/BinaryCIF topology file, read again with biotite (mdtraj
    drops them); unchanged for other topology formats or if biotite sees other atoms than mdtraj."""
    fmt = STRUCTURE_FORMATS.get(top.suffix.lower())
    if fmt is None:
        return rows
    try:
        atoms, _ = _structure_atoms(top, fmt, 1)
    except GenmolError:  # mdtraj read it; whatever biotite cannot read keeps mdtraj's rows
        return rows
    same = len(atoms) == len(rows) and all(
        int(r[1]) == int(i) and r[4] == n for r, i, n in zip(rows, atoms.res_id, atoms.atom_name))
    if not same:
        return rows
    return [(r[0], r[1], str(code), *r[3:]) for r, code in zip(rows, atoms.ins_code)]


def _load_topology(top: Path):
    import mdtraj

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return mdtraj.load_topology(str(top))
    except Exception as e:
        raise GenmolError(f"{top} is not a readable topology ({_reason(e)})") from None


def _read_h5(path: Path) -> tuple[np.ndarray, list[tuple]]:
    """Coordinates ``[F, N, 3]`` in nm and the embedded topology rows of an mdtraj HDF5 file (read with h5py:
    mdtraj's own reader needs PyTables)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            coords = np.asarray(f["coordinates"][...], dtype=np.float32)
            units = f["coordinates"].attrs.get("units", b"nanometers")
            topology = json.loads(f["topology"][0]) if "topology" in f else None
    except Exception as e:
        raise GenmolError(f"{path} is not a readable mdtraj HDF5 trajectory ({_reason(e)})") from None
    units = units.decode() if isinstance(units, bytes) else str(units)
    if units not in ("nanometers", "nm"):
        raise GenmolError(f"{path}: coordinates are in {units!r}, expected nanometers")
    return coords, (_h5_rows(topology) if topology else [])


def _read_frames(path: Path, fmt: str, topology) -> np.ndarray:
    """Coordinates ``[F, N, 3]`` in nm of an XTC or DCD file read against an mdtraj topology."""
    import mdtraj

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return mdtraj.load(str(path), top=topology).xyz
    except Exception as e:
        n_file = _frame_atom_count(path)
        if n_file is not None and n_file != topology.n_atoms:
            raise GenmolError(f"{path} holds {n_file} atoms per frame but its topology has {topology.n_atoms}"
                              ) from None
        raise GenmolError(f"{path} is not a readable {fmt} trajectory ({_reason(e)})") from None


def _frame_atom_count(path: Path) -> int | None:
    import mdtraj

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with mdtraj.open(str(path)) as f:
                return int(f.read(n_frames=1)[0].shape[1])
    except Exception:
        return None


def read_trajectory(path: str | os.PathLike, top: str | os.PathLike | None = None) -> tuple[Protein, np.ndarray]:
    """The frames of an XTC, DCD or mdtraj HDF5 trajectory in the slot table.

    Args:
        path: the trajectory (``.xtc``, ``.dcd``, ``.h5``/``.hdf5``).
        top: its topology (any file mdtraj reads: PDB, mmCIF, PSF, prmtop, GRO, ...); optional for HDF5, which
            embeds one.

    Returns:
        ``(topology, positions)``: the residues as a :class:`Protein` with the first frame's positions, and
        ``positions [F, R, 14, 3]`` float32 Å (0 in empty slots; the mask is ``topology.atom_mask``).
        Waters, ions, ligands and hydrogens are dropped as in :func:`read_structure`.

    Raises:
        GenmolError: naming the file: unreadable files, no topology for XTC/DCD, no frames, a different atom
            count in the trajectory and the topology, no protein residues, a non-finite coordinate.
    """
    path = check_input_file(path, "trajectory file")
    fmt = _format(path, TRAJECTORY_FORMATS, "trajectory file")
    if top is None and fmt != "HDF5":
        raise GenmolError(f"{path}: a {fmt} trajectory needs a topology file (top=...)")
    topology = _load_topology(check_input_file(top, "topology file")) if top is not None else None
    if fmt == "HDF5":
        coords, rows = _read_h5(path)
        if topology is not None:
            rows = _with_insertion_codes(_mdtraj_rows(topology), Path(top))
        if not rows:
            raise GenmolError(f"{path} embeds no topology; pass one with top=...")
        if coords.ndim != 3 or coords.shape[1:] != (len(rows), 3):
            raise GenmolError(f"{path} holds {coords.shape[1] if coords.ndim == 3 else '?'} atoms per frame but "
                              f"its topology has {len(rows)}")
    else:
        coords, rows = _read_frames(path, fmt, topology), _with_insertion_codes(_mdtraj_rows(topology), Path(top))
    if coords.shape[0] == 0:
        raise GenmolError(f"{path} holds no frames")
    slots = assign_slots(_atom_array(rows), str(path))
    positions = slots.positions(coords * np.float32(NM_TO_ANGSTROM))
    return slots.protein(coords[0] * np.float32(NM_TO_ANGSTROM)), positions


# ---------------------------------------------------------------------------------------------- writers


def _ensemble(path: Path, proteins: Protein | Sequence[Protein]):
    """One AtomArray, or an AtomArrayStack of models with the same residues and atom masks."""
    import biotite.structure as struc

    models = [proteins] if isinstance(proteins, Protein) else list(proteins)
    if not models:
        raise GenmolError(f"{path}: no protein to write")
    first = models[0]
    for k, p in enumerate(models[1:], 2):
        same = (p.num_residues == first.num_residues and np.array_equal(p.aatype, first.aatype)
                and np.array_equal(p.atom_mask, first.atom_mask) and np.array_equal(p.chain_id, first.chain_id)
                and np.array_equal(p.residue_index, first.residue_index)
                and np.array_equal(p.insertion_code, first.insertion_code))
        if not same:
            raise GenmolError(f"{path}: model {k} differs from model 1 in its residues, chains or atom mask; "
                              "the models of one file must share them")
    arrays = [p.to_atom_array() for p in models]
    return arrays[0] if len(arrays) == 1 else struc.stack(arrays)


def write_pdb(path: str | os.PathLike, proteins: Protein | Sequence[Protein]) -> None:
    """Writes a protein, or a list of proteins as the models of an ensemble (same residues and masks), as PDB.

    Raises:
        GenmolError: naming the file: models that differ, or a protein PDB's fixed columns cannot hold (chain ids
            longer than one character, more than 99,999 atoms or residue numbers beyond 4 digits).
    """
    import biotite.structure.io.pdb as pdb

    path = Path(path)
    atoms = _ensemble(path, proteins)
    long_chains = sorted({str(c) for c in np.unique(atoms.chain_id) if len(c) > 1})
    if long_chains:
        raise GenmolError(f"{path}: chain id {long_chains[0]!r} does not fit PDB's one-character column; "
                          "write mmCIF instead")
    file = pdb.PDBFile()
    try:
        file.set_structure(atoms)
    except Exception as e:
        raise GenmolError(f"{path}: the protein cannot be written as PDB ({_reason(e)})") from None
    with atomic_open(path, "w") as f:
        file.write(f)


def write_mmcif(path: str | os.PathLike, protein: Protein) -> None:
    """Writes a protein as mmCIF (author and label fields from the protein's numbering and chains)."""
    import biotite.structure.io.pdbx as pdbx

    path = Path(path)
    file = pdbx.CIFFile()
    try:
        pdbx.set_structure(file, _ensemble(path, protein))
    except Exception as e:
        raise GenmolError(f"{path}: the protein cannot be written as mmCIF ({_reason(e)})") from None
    with atomic_open(path, "w") as f:
        file.write(f)
