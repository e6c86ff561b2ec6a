"""Write trajectories in the slot layout as XTC (mdtraj), next to a topology PDB written by
:func:`genmol.io.structures.write_pdb`: ``mdtraj.load(xtc, top=pdb)`` and
:func:`genmol.io.structures.read_trajectory` read them back.

Atoms are written in the order of ``Protein.to_atom_array`` (residue by residue, slot by slot, present atoms only),
the order of the topology PDB. Coordinates are Å in genmol and nm in the file (converted here, at the boundary);
XTC keeps 1e-3 nm (0.01 Å). Times are ps.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError

__all__ = ["write_xtc"]

ANGSTROM_TO_NM = 0.1


def write_xtc(path: str | os.PathLike, topology: Protein, positions, time_ps=None) -> None:
    """Writes frames ``positions [F, R, 14, 3]`` (Å, slot layout of ``topology``) as an XTC file, atomically.

    Args:
        path: the ``.xtc`` file.
        topology: the residues; its present atoms (``atom_mask``) are written, in the topology PDB's order.
        positions: the frames.
        time_ps: ``[F]`` times in ps (default ``0, 1, 2, ...``: set real times, the reader takes the frame interval
            from them).

    Raises:
        GenmolError: shapes that do not match, non-finite coordinates of present atoms, or an unwritable path.
    """
    import mdtraj

    path = Path(path)
    pos = np.asarray(positions, np.float32)
    if pos.ndim != 4 or pos.shape[1:] != topology.positions.shape:
        raise GenmolError(f"{path}: positions have shape {pos.shape}, expected [F, {topology.num_residues}, 14, 3]")
    xyz = pos[:, topology.atom_mask] * np.float32(ANGSTROM_TO_NM)  # [F, N, 3], residue-major like to_atom_array
    if not np.all(np.isfinite(xyz)):
        raise GenmolError(f"{path}: a frame has a non-finite coordinate")
    time = np.arange(len(pos), dtype=np.float32) if time_ps is None else np.asarray(time_ps, np.float32)
    if time.shape != (len(pos),):
        raise GenmolError(f"{path}: {time.shape[0] if time.ndim else 1} times for {len(pos)} frames")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".xtc", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with mdtraj.formats.XTCTrajectoryFile(tmp, "w", force_overwrite=True) as f:
                f.write(xyz, time=time)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as e:
        raise GenmolError(f"cannot write {path} ({e.strerror or e})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
