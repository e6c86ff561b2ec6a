"""Tiny mdCATH-layout HDF5 files synthesised at test time (the torchmd-net way: real atoms, frames reused).

From the protein fixtures only (never the shared data): Trp-cage 1L2Y (``1l2y.pdb`` + the 38 frames of
``1l2y.xtc``, 304 atoms with hydrogens) and alanine dipeptide (``alanine-dipeptide-explicit.pdb`` without its
waters, 22 atoms, NME methyl ``C``; frames = the structure plus Gaussian noise). Every trajectory is shifted by its
own offset (:func:`offset`) so that frames of different temperatures and replicas differ.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "proteins"
MDCATH_TEMPERATURES = (320, 348, 379, 413, 450)
LAYOUT = "mdcath-only-protein-v1.0"


def offset(temperature: float, replica: int) -> np.ndarray:
    """The translation (Å) added to every frame of a trajectory, distinct per temperature and replica."""
    return np.array([temperature / 10.0, 7.0 * replica, 0.0], np.float32)


def protein_atoms(pdb_path: Path):
    """Model 1 of a PDB file without waters, as a biotite AtomArray."""
    import biotite.structure.io.pdb as pdb

    atoms = pdb.PDBFile.read(str(pdb_path)).get_structure(model=1)
    return atoms[~np.isin(atoms.res_name, ("HOH", "WAT"))]


def pdb_text(atoms) -> str:
    import biotite.structure.io.pdb as pdb

    f = pdb.PDBFile()
    f.set_structure(atoms)
    buf = io.StringIO()
    f.write(buf)
    return buf.getvalue()


def trpcage():
    """``(atoms, frames [38, 304, 3] Å)`` of 1L2Y."""
    import mdtraj

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the PDB's dummy CRYST1 record
        frames = mdtraj.load(str(FIX / "1l2y.xtc"), top=str(FIX / "1l2y.pdb")).xyz * np.float32(10.0)
    return protein_atoms(FIX / "1l2y.pdb"), frames.astype(np.float32)


def alanine_dipeptide(num_frames: int, seed: int, nme_methyl: str = "C"):
    """``(atoms, frames [num_frames, 22, 3] Å)``; ``nme_methyl`` renames the NME methyl carbon (``"CH3"``: older
    PDB/CHARMM style)."""
    atoms = protein_atoms(FIX / "alanine-dipeptide-explicit.pdb")
    methyl = (atoms.res_name == "NME") & (atoms.atom_name == "C")
    atoms.atom_name[methyl] = nme_methyl
    rng = np.random.default_rng(seed)
    frames = atoms.coord[None] + rng.normal(scale=0.1, size=(num_frames, *atoms.coord.shape))
    return atoms, frames.astype(np.float32)


def temperature_key(temperature: float, style: str) -> str:
    return f"sims{temperature:g}K" if style == "sims" else f"{temperature:g}"


def write_domain(h5, domain: str, atoms, trajectories: dict, *, style: str = "plain",
                 timestep_ps: float | None = None, forces: bool = True, compress: bool = False) -> None:
    """Writes ``/{domain}`` in the mdCATH layout into an open h5py file.

    Args:
        trajectories: ``{(temperature, replica): coords [F, N, 3] Å}``.
        style: ``"plain"`` (``/320/0``, current mdCATH) or ``"sims"`` (``/sims320K/0``, early releases).
        timestep_ps: written as the replica attribute ``timestep_ps`` (our files); ``None``: no attribute
            (published mdCATH).
        forces: write a ``forces`` dataset (random, kcal/mol/Å) next to ``coords``.
        compress: gzip the coordinates (as the real files are).
    """
    import h5py

    h5.attrs["layout"] = LAYOUT
    g = h5.create_group(domain)
    g["element"] = np.char.upper(atoms.element.astype(str)).astype("S2")
    g["z"] = np.array([{"H": 1, "C": 6, "N": 7, "O": 8, "S": 16}[e.upper()] for e in atoms.element], np.int32)
    g["resid"] = atoms.res_id.astype(np.int32)
    g["resname"] = atoms.res_name.astype("S4")
    g["chain"] = atoms.chain_id.astype("S1")
    g.create_dataset("pdbProteinAtoms", data=pdb_text(atoms), dtype=h5py.string_dtype())
    g.attrs["numProteinAtoms"] = atoms.array_length()
    g.attrs["numResidues"] = len(np.unique(atoms.res_id))
    g.attrs["numChains"] = len(np.unique(atoms.chain_id))
    rng = np.random.default_rng(0)
    for (temperature, replica), coords in trajectories.items():
        r = g.create_group(f"{temperature_key(temperature, style)}/{replica}")
        kw = dict(compression="gzip", chunks=(min(8, len(coords)), *coords.shape[1:])) if compress else {}
        r.create_dataset("coords", data=np.asarray(coords, np.float32), **kw)
        if forces:
            r["forces"] = rng.normal(size=coords.shape).astype(np.float32)
        r.attrs["numFrames"] = len(coords)
        if timestep_ps is not None:
            r.attrs["timestep_ps"] = timestep_ps
            r.attrs["temperature"] = temperature


def trpcage_trajectories(frames: np.ndarray, replica_lengths=(38, 30)) -> dict:
    """Five mdCATH temperatures × replicas, replica ``r`` holding the first ``replica_lengths[r]`` frames, each
    trajectory shifted by :func:`offset`."""
    return {(t, r): frames[:n] + offset(t, r) for t in MDCATH_TEMPERATURES for r, n in enumerate(replica_lengths)}


# Corrupted frames of the standard fixture: (domain, temperature, replica, frame) -> kind
CORRUPTED = {
    ("1l2yA00", 320, 1, 28): "overflow_atoms",  # a few atoms at the int32-overflow value (≈ 2.1e7 Å)
    ("1l2yA00", 320, 1, 29): "overflow",        # the whole frame
    ("1l2yA00", 413, 0, 5): "nan",              # one NaN coordinate
    ("1l2yB00", 450, 0, 37): "zero",            # an all-zero frame
}
INVALID_COUNTS = {("1l2yA00", 320, 1): {"beyond 10000 Å": 2}, ("1l2yA00", 413, 0): {"non-finite": 1},
                  ("1l2yB00", 450, 0): {"all-zero": 1}}


def corrupt(coords: np.ndarray, frame: int, kind: str) -> None:
    if kind == "overflow":
        coords[frame] = 2.147e7
    elif kind == "overflow_atoms":
        coords[frame, :5] = -2.147e7
    elif kind == "nan":
        coords[frame, 3, 1] = np.nan
    elif kind == "zero":
        coords[frame] = 0.0


def build_standard(directory: Path) -> dict[str, Path]:
    """The standard fixture set in ``directory``:

    * ``mdcath_dataset_1l2yA00.h5``: domain ``1l2yA00``, keys ``"320"``, no ``timestep_ps`` (published style),
      gzip-compressed coordinates, forces;
    * ``mdcath_dataset_1l2yB00.h5``: domain ``1l2yB00``, keys ``"sims320K"`` (early releases), no forces;
    * ``ala2_md.h5``: domains ``ala2`` (NME ``C``) and ``ala2ch3`` (NME ``CH3``), 300 and 400 K, one replica of
      120 frames, ``timestep_ps = 1.0`` (our OpenMM files).

    Corrupted frames: :data:`CORRUPTED`. Returns ``{name: path}``.
    """
    import h5py

    atoms, frames = trpcage()
    paths = {}
    for domain, style, compress, forces in (("1l2yA00", "plain", True, True), ("1l2yB00", "sims", False, False)):
        trajs = trpcage_trajectories(frames)
        for (d, t, r, frame), kind in CORRUPTED.items():
            if d == domain:
                corrupt(trajs[(t, r)], frame, kind)
        path = directory / f"mdcath_dataset_{domain}.h5"
        with h5py.File(path, "w") as h:
            write_domain(h, domain, atoms, trajs, style=style, compress=compress, forces=forces)
        paths[domain] = path
    path = directory / "ala2_md.h5"
    with h5py.File(path, "w") as h:
        for seed, (domain, methyl) in enumerate((("ala2", "C"), ("ala2ch3", "CH3"))):
            a, base = alanine_dipeptide(120, seed, methyl)
            write_domain(h, domain, a, {(t, 0): base + offset(t, 0) for t in (300, 400)}, timestep_ps=1.0)
    paths["ala2"] = path
    return paths
