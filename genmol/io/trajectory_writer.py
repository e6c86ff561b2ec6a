"""Chunked, crash-safe trajectory output (XTC, DCD, multi-model PDB, mdtraj HDF5) for ``genmol simulate``.

Frames are slot positions ``[F, R, 14, 3]`` float32 Å of one :class:`~genmol.data.proteins.structure.Protein`
topology; the present heavy atoms (``atom_mask``) are written in the order of :meth:`Protein.to_atom_array` and
:func:`~genmol.io.structures.write_pdb`, with the same names, numbering and chains, so that
:func:`~genmol.io.structures.read_trajectory` gives back the same residues. The format follows the suffix:

* ``.xtc``: GROMACS XTC (nm, 0.001 nm precision), frame times in ps (float32), the frame index as MD step.
* ``.dcd``: CHARMM DCD (Å, float32); the format holds no per-frame times (mdtraj reports frame indices).
* ``.pdb``: multi-model PDB (Å, 0.001 Å), models numbered on from 1 across chunks; no times.
* ``.h5`` / ``.hdf5``: mdtraj's HDF5 layout (nm; ``time`` float64 ps; the topology embedded as JSON), written
  with h5py, so PyTables is needed only by ``mdtraj.load``, not here.

No file holds a unit cell. XTC and DCD carry no topology: the heavy-atom topology is written as a PDB beside
them, ``<stem>_topology.pdb`` (one for all walkers), so ``mdtraj.load(traj, top=...)`` and
``read_trajectory(traj, ...)`` work.

Chunks: every :meth:`TrajectoryWriter.append` is one chunk, flushed and fsynced before it returns. The first chunk
creates the files (in hidden temporary siblings renamed into place, together with any missing output folder and
the topology PDB); a later chunk appends in place. An exception, SIGINT or SIGTERM during a chunk rolls every
file back to its last complete chunk (see :class:`TrajectoryWriter` for how, per format) and then lets the signal
act as it would have; so a stopped run leaves whole chunks only, and nothing at all before the first chunk.
A SIGKILL or power loss in the middle of a chunk cannot be rolled back. Signals are caught only when
:meth:`TrajectoryWriter.append` runs in the main thread (Python delivers them there): call it from the host loop
with fetched arrays, not from inside a jax callback.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError, Interrupted
from genmol.io.rollback import AppendBytes, MakeFolders, NewFile, SignalStop, apply_all, fsync_file

__all__ = ["OUTPUT_FORMATS", "walker_paths", "topology_path", "check_output", "TrajectoryWriter"]

OUTPUT_FORMATS = {".xtc": "XTC", ".dcd": "DCD", ".pdb": "PDB", ".h5": "HDF5", ".hdf5": "HDF5"}
_NEEDS_TOPOLOGY = ("XTC", "DCD")
_ANGSTROM_TO_NM = np.float32(0.1)
_PDB_END = b"END\n"
# PDB's fixed coordinate columns (8.3f): -999.999 .. 9999.999 Å
_PDB_MIN, _PDB_MAX = -999.999, 9999.999


def _format(path: Path) -> str:
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise GenmolError(f"{path}: unsupported trajectory type {path.suffix or '(none)'!r}; use one of "
                          f"{', '.join(OUTPUT_FORMATS)}")
    return fmt


def walker_paths(out: str | os.PathLike, walkers: int) -> list[Path]:
    """The trajectory file of each walker: ``out`` itself for one walker; for several, ``<stem>_w000<suffix>``,
    ``<stem>_w001<suffix>``, ... beside it (at least three digits)."""
    out = Path(out)
    if walkers < 1:
        raise ValueError(f"walkers must be at least 1, got {walkers}")
    if walkers == 1:
        return [out]
    width = max(3, len(str(walkers - 1)))
    return [out.with_name(f"{out.stem}_w{i:0{width}d}{out.suffix}") for i in range(walkers)]


def topology_path(out: str | os.PathLike) -> Path | None:
    """The topology PDB written beside an XTC or DCD output (``<stem>_topology.pdb``, the stem without a walker
    suffix ``_wNNN``, so all walkers share it); ``None`` for PDB and HDF5, which hold their topology."""
    out = Path(out)
    if OUTPUT_FORMATS.get(out.suffix.lower()) not in _NEEDS_TOPOLOGY:
        return None
    return out.with_name(re.sub(r"_w\d+$", "", out.stem) + "_topology.pdb")


def _reason(e: BaseException) -> str:
    text = e.strerror if isinstance(e, OSError) and e.strerror else " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 100 else text[:97] + "..."


def _check_writable(path: Path) -> None:
    """Raises unless files can be created at ``path`` (creating nothing that stays: the nearest existing folder is
    probed with an anonymous temporary file)."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        if ancestor.is_symlink():  # a dangling link: mkdir would fail on it
            raise GenmolError(f"cannot write {path}: {ancestor} is a broken symbolic link")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise GenmolError(f"cannot write {path}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise GenmolError(f"cannot write {path}: the folder {ancestor} is not writable")
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as e:
        raise GenmolError(f"cannot write {path}: the folder {ancestor} is not writable ({_reason(e)})") from None


def check_output(path: str | os.PathLike, walkers: int = 1, *, overwrite: bool = False,
                 topology: Protein | None = None) -> Path:
    """Checks a trajectory output before any simulation work; leaves nothing behind.

    Args:
        path: the output (``.xtc``, ``.dcd``, ``.pdb``, ``.h5``/``.hdf5``); its folder may not exist yet.
        walkers: the number of walkers (files, see :func:`walker_paths`).
        overwrite: allow replacing existing files (the CLI's ``--force``).
        topology: if given, also checked to fit the format (PDB's one-character chain ids and fixed columns, for a
            PDB output or the topology PDB of XTC and DCD).

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        GenmolError: one sentence naming the path: an unknown suffix, an existing file (without ``overwrite``), a
            folder in the way, an unwritable folder, a topology the format cannot hold.
    """
    path = Path(path)
    fmt = _format(path)
    targets = walker_paths(path, walkers)
    top_path = topology_path(path)
    for target in targets + ([top_path] if top_path else []):
        if target.is_dir():
            raise GenmolError(f"{target} is a folder; give a trajectory file name")
        if target.exists() and not overwrite:
            raise GenmolError(f"{target} already exists; choose another output or overwrite it (--force)")
    _check_writable(path)
    if topology is not None and fmt in ("PDB", *_NEEDS_TOPOLOGY):
        _pdb_text(top_path or path, _template(topology), None, 1)
    return path


# ---------------------------------------------------------------------------------------------- encoders


def _template(topology: Protein):
    """The biotite AtomArray of the present heavy atoms (the written atom order)."""
    return topology.to_atom_array()


def _pdb_text(path: Path, template, coords: np.ndarray | None, first_model: int | None) -> str:
    """PDB records of ``template`` (one structure) or of the models ``coords [F, N, 3]`` Å numbered from
    ``first_model``; raises GenmolError naming ``path`` if PDB cannot hold them."""
    import io

    import biotite.structure as struc
    import biotite.structure.io.pdb as pdb

    long_chains = sorted({str(c) for c in np.unique(template.chain_id) if len(c) > 1})
    if long_chains:
        raise GenmolError(f"{path}: chain id {long_chains[0]!r} does not fit PDB's one-character column; "
                          "write XTC with a shorter chain id or HDF5 instead")
    atoms = template if coords is None else struc.from_template(template, coords)
    file = pdb.PDBFile()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            file.set_structure(atoms)
    except Exception as e:
        raise GenmolError(f"{path}: the protein cannot be written as PDB ({_reason(e)})") from None
    buffer = io.StringIO()
    file.write(buffer)
    text = buffer.getvalue()
    if coords is None:
        return text
    if coords.shape[0] == 1:  # biotite writes a one-model stack without MODEL records
        return f"MODEL     {first_model:4d}\n{text}ENDMDL\n"
    models = iter(range(first_model, first_model + coords.shape[0]))
    return re.sub(r"^MODEL .*$", lambda _: f"MODEL     {next(models):4d}", text, flags=re.M)


def _mdtraj_bytes(write: Callable[[str], None]) -> bytes:
    """The bytes of a file that mdtraj writes (to a private temporary folder, removed again)."""
    with tempfile.TemporaryDirectory(prefix="genmol-traj-") as tmp:
        name = os.path.join(tmp, "chunk")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            write(name)
        return Path(name).read_bytes()


def _xtc_bytes(xyz: np.ndarray, times: np.ndarray, first: int) -> bytes:
    from mdtraj.formats import XTCTrajectoryFile

    def write(name):
        with XTCTrajectoryFile(name, "w") as f:
            f.write(xyz * _ANGSTROM_TO_NM, time=times.astype(np.float32),
                    step=np.arange(first, first + len(xyz), dtype=np.int32),
                    box=np.zeros((len(xyz), 3, 3), np.float32))  # zero box: mdtraj reads "no unit cell"

    return _mdtraj_bytes(write)


def _dcd_file(xyz: np.ndarray) -> bytes:
    from mdtraj.formats import DCDTrajectoryFile

    def write(name):
        with DCDTrajectoryFile(name, "w") as f:
            f.write(xyz)

    return _mdtraj_bytes(write)


def _dcd_header(head: bytes) -> tuple[int, int, int, int, int]:
    """``(header length, frames, first step, steps per frame, atoms)`` of a little-endian CHARMM DCD header."""
    (first_len,) = struct.unpack_from("<i", head, 0)
    if first_len != 84 or head[4:8] != b"CORD":
        raise ValueError("not a little-endian CHARMM DCD header")
    frames, istart, nsavc = struct.unpack_from("<3i", head, 8)
    (title_len,) = struct.unpack_from("<i", head, 92)
    length = 92 + 8 + title_len + 12
    (atoms,) = struct.unpack_from("<i", head, length - 8)
    return length, frames, istart, nsavc, atoms


def _dcd_frames(xyz: np.ndarray) -> bytes:
    """DCD frame records: per frame, three Fortran records (X, Y, Z) of ``N`` float32 (Å) framed by ``4N``."""
    f, n, _ = xyz.shape
    marker = np.full((f, 3, 1), 4 * n, dtype="<i4").view("<f4")
    records = np.concatenate([marker, np.ascontiguousarray(xyz.transpose(0, 2, 1), dtype="<f4"), marker], axis=2)
    return records.tobytes()


def _h5_topology(template) -> bytes:
    """mdtraj's HDF5 topology JSON (chains, residues, atoms; no bonds) of the written atoms, with each residue's
    insertion code as an extra ``insertionCode`` key (mdtraj ignores it; :func:`read_trajectory` reads it)."""
    import biotite.structure as struc

    chains: list[dict] = []
    starts = struc.get_residue_starts(template, add_exclusive_stop=True).tolist()
    atom = 0
    for a, b in zip(starts[:-1], starts[1:]):
        chain_id = str(template.chain_id[a])
        if not chains or chains[-1]["chain_id"] != chain_id:
            chains.append({"index": len(chains), "chain_id": chain_id, "residues": []})
        residues = chains[-1]["residues"]
        residues.append({"index": sum(len(c["residues"]) for c in chains[:-1]) + len(residues),
                         "name": str(template.res_name[a]), "resSeq": int(template.res_id[a]), "segmentID": "",
                         "insertionCode": str(template.ins_code[a]),
                         "atoms": [{"index": atom + k, "name": str(template.atom_name[i]),
                                    "element": str(template.element[i]).capitalize()}
                                   for k, i in enumerate(range(a, b))]})
        atom += int(b - a)
    return json.dumps({"chains": chains, "bonds": []}).encode("ascii")


# ---------------------------------------------------------------------------------------------- HDF5


class _AppendH5:
    """Grows the ``coordinates`` and ``time`` datasets of an mdtraj HDF5 file by one chunk; undo shrinks them back
    (the file itself does not shrink: HDF5 keeps the freed space; truncating the bytes would break its index)."""

    def __init__(self, path: Path, xyz_nm: np.ndarray, times: np.ndarray, frames: int):
        self.path, self.xyz, self.times, self.frames = path, xyz_nm, times, frames
        self.started = False

    def commit(self) -> None:
        import h5py

        self.started = True
        with h5py.File(self.path, "r+") as h:
            n = self.frames + len(self.xyz)
            for name, values in (("coordinates", self.xyz), ("time", self.times)):
                h[name].resize(n, axis=0)
                h[name][self.frames:n] = values
            h.flush()
        fsync_file(self.path)

    def undo(self) -> None:
        import h5py

        if not self.started:
            return
        with h5py.File(self.path, "r+") as h:
            for name in ("coordinates", "time"):
                if h[name].shape[0] > self.frames:
                    h[name].resize(self.frames, axis=0)
            h.flush()
        fsync_file(self.path)


def _h5_writer(template, xyz_nm: np.ndarray, times: np.ndarray) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        import h5py

        from genmol import __version__

        n = xyz_nm.shape[1]
        per_chunk = int(np.clip(2 ** 20 // (12 * max(n, 1)), 1, 4096))  # ~1 MB chunks of frames
        with h5py.File(tmp, "w") as h:
            h.attrs.update(conventions="Pande", conventionVersion="1.1", program="genmol",
                           programVersion=__version__, application="genmol", title="genmol simulate")
            h.create_dataset("topology", data=np.array([_h5_topology(template)]))
            coords = h.create_dataset("coordinates", data=xyz_nm, maxshape=(None, n, 3), chunks=(per_chunk, n, 3),
                                      compression="gzip", compression_opts=1, shuffle=True)
            coords.attrs["units"] = "nanometers"
            time = h.create_dataset("time", data=times, maxshape=(None,), chunks=(4096,), compression="gzip",
                                    compression_opts=1, shuffle=True)
            time.attrs["units"] = "picoseconds"
    return write


# ---------------------------------------------------------------------------------------------- the writer


class TrajectoryWriter:
    """Writes the frames of one or more walkers in chunks (see the module docstring).

    Args:
        path: the output; its suffix picks the format (:data:`OUTPUT_FORMATS`); several walkers write
            :func:`walker_paths` beside it.
        topology: the residues the frames belong to (its positions go into the topology PDB of XTC/DCD).
        walkers: the number of walkers ``W``.
        overwrite: replace existing files (otherwise refused, before anything is written).

    Example::

        with TrajectoryWriter("out/traj.xtc", protein, walkers=4) as w:
            for positions, times in chunks:  # [4, F, R, 14, 3] Å, [F] ps
                w.append(positions, times)

    Rollback per format (an exception, SIGINT or SIGTERM during :meth:`append`): the first chunk of every file is
    written to a hidden sibling and renamed into place, and a rollback deletes it (and the topology PDB and the
    folders it created). Later chunks: XTC frames are self-contained, so the chunk is appended and a rollback
    truncates to the old size; DCD appends the frame records and patches the frame count and last step in its
    header, and a rollback truncates and writes the old header fields back; PDB replaces the final ``END`` by the
    chunk's models and a new ``END``, and a rollback truncates and restores the old ``END``; HDF5 resizes the
    ``coordinates`` and ``time`` datasets, and a rollback resizes them back. All walkers roll back together, so
    their files always hold the same number of frames.

    Raises:
        GenmolError: from :func:`check_output` in the constructor.
    """

    def __init__(self, path: str | os.PathLike, topology: Protein, walkers: int = 1, *, overwrite: bool = False):
        self.path = check_output(path, walkers, overwrite=overwrite, topology=topology)
        self.format = _format(self.path)
        self.paths = walker_paths(self.path, walkers)
        self.topology_path = topology_path(self.path)
        self.topology = topology
        self.walkers = walkers
        self.overwrite = overwrite
        self._template = _template(topology)
        self._atoms = np.nonzero(topology.atom_mask)
        self._frames = 0
        self._sizes: dict[Path, int] = {}
        self._closed = False

    @property
    def frames_written(self) -> int:
        """Frames per walker in complete chunks on disk."""
        return self._frames

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Ends writing (every chunk is already on disk; no file is open between chunks)."""
        self._closed = True

    def _frames_of(self, positions, times_ps) -> tuple[np.ndarray, np.ndarray]:
        """``xyz [W, F, N, 3]`` float32 Å of the present atoms and ``times [F]`` float64 ps."""
        positions = np.asarray(positions, dtype=np.float32)
        r = self.topology.num_residues
        if positions.ndim == 4 and self.walkers == 1:
            positions = positions[None]
        if positions.ndim != 5 or positions.shape[0] != self.walkers or positions.shape[2:] != (r, 14, 3):
            raise ValueError(f"positions must have shape [{self.walkers}, F, {r}, 14, 3]"
                             f"{f' or [F, {r}, 14, 3]' if self.walkers == 1 else ''}, got {positions.shape}")
        times = np.asarray(times_ps, dtype=np.float64).reshape(-1)
        if times.shape != (positions.shape[1],):
            raise ValueError(f"times_ps must have one time per frame ({positions.shape[1]}), got {times.shape}")
        xyz = positions[:, :, self._atoms[0], self._atoms[1]]
        finite = np.isfinite(xyz).all(axis=(2, 3))
        if not finite.all():
            w, f = (int(i[0]) for i in np.nonzero(~finite))
            raise GenmolError(f"{self.paths[w]}: frame {self._frames + f} has a non-finite coordinate; the chunk "
                              f"was not written (the file keeps {self._frames} frames)")
        if not np.isfinite(times).all():
            raise GenmolError(f"{self.path}: a frame time is not finite; the chunk was not written")
        if self.format == "PDB" and (xyz.min() < _PDB_MIN or xyz.max() > _PDB_MAX):
            raise GenmolError(f"{self.path}: a coordinate lies outside PDB's range ({_PDB_MIN} to {_PDB_MAX} Å); "
                              "the chunk was not written; use XTC, DCD or HDF5")
        return xyz, times

    def _operations(self, xyz: np.ndarray, times: np.ndarray) -> list:
        """The disk operations of one chunk (prepared in memory; nothing touched yet)."""
        first = self._frames == 0
        ops: list = [MakeFolders(self.path.parent)] if first else []
        if first and self.topology_path is not None:
            text = _pdb_text(self.topology_path, self._template, None, None)
            ops.append(NewFile(self.topology_path, text.encode(), self.overwrite))
        for path, walker in zip(self.paths, xyz):
            ops.append(self._file_operation(path, walker, times, first))
        return ops

    def _file_operation(self, path: Path, xyz: np.ndarray, times: np.ndarray, first: bool):
        n = self._frames
        if self.format == "XTC":
            data = _xtc_bytes(xyz, times, n)
            return NewFile(path, data, self.overwrite) if first else AppendBytes(path, self._checked_size(path), data)
        if self.format == "DCD":
            if first:
                return NewFile(path, _dcd_file(xyz), self.overwrite)
            size = self._checked_size(path)
            with open(path, "rb") as f:
                _, frames, istart, nsavc, atoms = _dcd_header(f.read(4096))
            if frames != n or atoms != xyz.shape[1]:
                raise GenmolError(f"{path} changed on disk since the last chunk (its header has {frames} frames "
                                  f"of {atoms} atoms, expected {n} of {xyz.shape[1]})")
            total = n + len(xyz)
            return AppendBytes(path, size, _dcd_frames(xyz),
                               [(8, struct.pack("<i", total)), (20, struct.pack("<i", istart + total * nsavc))])
        if self.format == "PDB":
            text = _pdb_text(path, self._template, xyz, n + 1).encode() + _PDB_END
            if first:
                return NewFile(path, text, self.overwrite)
            size = self._checked_size(path)
            with open(path, "rb") as f:
                f.seek(size - len(_PDB_END))
                if f.read() != _PDB_END:
                    raise GenmolError(f"{path} changed on disk since the last chunk (it no longer ends with END)")
            return AppendBytes(path, size - len(_PDB_END), text)
        xyz_nm = xyz * _ANGSTROM_TO_NM
        if first:
            return NewFile(path, _h5_writer(self._template, xyz_nm, times), self.overwrite)
        return _AppendH5(path, xyz_nm, times, n)

    def _checked_size(self, path: Path) -> int:
        try:
            size = path.stat().st_size
        except OSError as e:
            raise GenmolError(f"{path} cannot be appended to ({_reason(e)})") from None
        if size != self._sizes.get(path):
            raise GenmolError(f"{path} changed on disk since the last chunk ({size} bytes, expected "
                              f"{self._sizes.get(path)})")
        return size

    def append(self, positions, times_ps) -> None:
        """Writes one chunk of frames to every walker's file, durably (fsync), or not at all.

        Args:
            positions: ``[W, F, R, 14, 3]`` (or ``[F, R, 14, 3]`` for one walker) Å; empty slots are ignored.
            times_ps: ``[F]`` the frame times in ps (shared by the walkers).

        Raises:
            GenmolError: a non-finite coordinate or time (nothing written), a file changed on disk by someone else,
                a coordinate PDB cannot hold, a disk error (the chunk is rolled back).
            Interrupted: SIGINT/SIGTERM stopped the chunk and the caller's handler for it did not raise; the chunk
                was rolled back.
            ValueError: positions or times of the wrong shape.
        """
        if self._closed:
            raise ValueError("append() on a closed TrajectoryWriter")
        xyz, times = self._frames_of(positions, times_ps)
        if xyz.shape[1] == 0:
            return
        frames = xyz.shape[1]

        def on_commit():
            self._frames += frames
            self._sizes = {p: p.stat().st_size for p in self.paths}

        try:
            apply_all(lambda: self._operations(xyz, times), on_commit)
        except OSError as e:
            where = f"{e.filename}: " if e.filename else ""
            raise GenmolError(f"{self.path}: writing a chunk failed ({where}{_reason(e)}); the files keep the "
                              f"{self._frames} frames of the complete chunks") from None
        except SignalStop as e:
            raise Interrupted(f"{self.path}: writing was interrupted ({e.name}); the files keep the {self._frames} "
                              "frames of the complete chunks") from None

