"""mdCATH-layout molecular dynamics in the shared residue slot table: reader, frame validation, training pairs.

The data layer of the jump simulator (EquiJump/DeepJump-style models that jump MD forward by Δ). It reads the
published mdCATH HDF5 layout (one ``mdcath_dataset_{domain}.h5`` per CATH domain) and files written the same way
(``data/md/ala2_mdcath.h5`` and ``data/md/trpcage_mdcath.h5``, from the shared OpenMM references)::

    /{domain}/                       element, z, resid, resname, chain (N,), pdbProteinAtoms (PDB text of the N atoms)
    /{domain}/{T}/{replica}/coords   (F, N, 3) float, Å       T = "320" or "sims320K" (older releases)
    /{domain}/{T}/{replica}/forces   (F, N, 3) kcal/mol/Å (optional)

Temperatures and replicas are whatever groups a file holds (mdCATH: 320, 348, 379, 413, 450 K × replicas 0-4;
our references: 300 and 400 K for alanine dipeptide, 320 and 400 K for Trp-cage). Atom names come from
``pdbProteinAtoms`` (parsed with biotite) and atoms go to residue slots with
:func:`genmol.data.proteins.assign.assign_slots`, as for every other protein file: hydrogens are ignored, caps
``ACE``/``NME`` kept (NME methyl ``C`` or ``CH3``), CHARMM/Amber names mapped.

**Frame interval.** Never assumed: mdCATH writes 1 frame per ns, our OpenMM references 1 frame per ps. It is read
from a ``timestep_ps`` attribute (replica, temperature, domain or file group, nearest first); trajectories without
one take ``frame_interval_ps`` (the published mdCATH files have none: pass :data:`MDCATH_FRAME_INTERVAL_PS`); if
neither, asking for it is an error. ``summary()`` says which interval each trajectory got and from where.

**Frame validation.** Published mdCATH has corrupted tail frames (int32-overflow coordinates ≈ 2.1e7 Å and an
all-zero frame; compsciencelab/mdCATH#7). A frame is invalid if any stored coordinate (hydrogens included) is
non-finite, any ``|x| > 1e4`` Å, or all are zero. Status codes per frame are computed in chunks the first time a
trajectory is needed, kept in memory and, with ``cache_dir``, on disk (keyed by path, size and mtime). Invalid
frames are never silently dropped: pairs exclude them, :meth:`MdcathFile.frames` refuses them unless asked, and
``summary()`` reports them per domain, temperature and replica (print it in the training log).

**Training pairs.** :meth:`MdcathSet.sample_pair` draws Δ uniformly from the given jump sizes (ps; each must be a
whole number of frame intervals), a domain uniformly, one of its trajectories uniformly, and a start frame uniformly
among those where the start and the frame Δ later are both valid and inside the split's window of that trajectory
(a pair never crosses a replica). Draws depend only on the ``rng`` passed in and the data (caches only save time),
so batches stay pure functions of ``(step, slot)`` (:mod:`genmol.train.task`).

**Splits.** Domains are split into train/valid by a seeded hash of their names (:func:`split_domains`,
deterministic and stable when domains are added). :class:`HeldOutTail` keeps the last fraction of selected
trajectories out of training (e.g. the last 20 % of the 300 K alanine-dipeptide run); those frames form the
``"tail"`` split.

Every problem with a file is one :class:`GenmolError` sentence naming the file and the group or dataset.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import io
import math
import os
import re
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from genmol.data.proteins.assign import SlotAssignment, assign_slots
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.io.files import check_input_file
from genmol.io.structures import _reason

__all__ = [
    "MAX_ABS_COORD", "VALID", "NON_FINITE", "OUT_OF_RANGE", "ALL_ZERO", "STATUS_NAMES", "MDCATH_FRAME_INTERVAL_PS",
    "TrajectoryKey", "HeldOutTail", "Pair", "TrajectoryReport", "DataSummary", "MdcathFile", "MdcathSet",
    "frame_status", "split_domains", "parse_temperature", "align_target", "ALA2_HELD_OUT", "embedded_ala2",
    "TRPCAGE_HELD_OUT", "embedded_trpcage", "EMBEDDED_MD", "embedded_md",
]

MAX_ABS_COORD = 1e4
"""Å: a frame with any ``|x|`` above this is invalid (mdCATH's corrupted frames sit at ≈ 2.1e7 Å)."""
VALID, NON_FINITE, OUT_OF_RANGE, ALL_ZERO = 0, 1, 2, 3
STATUS_NAMES = {NON_FINITE: "non-finite", OUT_OF_RANGE: f"beyond {MAX_ABS_COORD:g} Å", ALL_ZERO: "all-zero"}
MDCATH_FRAME_INTERVAL_PS = 1000.0
"""The published mdCATH files store one frame per ns and carry no interval attribute: pass this explicitly."""
SPLITS = ("train", "valid", "tail", "all")

_TEMPERATURE = re.compile(r"^(?:sims)?(\d+(?:\.\d+)?)K?$")
_CACHE_VERSION = "mdcath-validity-1"
_SCAN_VALUES = 1 << 22  # coordinates per chunk when scanning a trajectory (16 MB of float32)
_OPEN_DATASETS = 4  # datasets kept open per file, each with its own chunk cache


def parse_temperature(name: str) -> float | None:
    """The temperature in K of a group name in either mdCATH style (``"320"``, ``"sims320K"``), else ``None``."""
    m = _TEMPERATURE.match(name)
    return float(m.group(1)) if m else None


def frame_status(coords: np.ndarray) -> np.ndarray:
    """``[F]`` uint8 status of frames ``[F, N, 3]``: :data:`VALID`, :data:`NON_FINITE`, :data:`OUT_OF_RANGE`
    (any ``|x| >`` :data:`MAX_ABS_COORD`) or :data:`ALL_ZERO` (checked in that order)."""
    flat = np.asarray(coords).reshape(len(coords), -1)
    with np.errstate(invalid="ignore"):
        non_finite = ~np.isfinite(flat).all(axis=1)
        big = (np.abs(flat) > MAX_ABS_COORD).any(axis=1)
    zero = ~(flat != 0).any(axis=1)
    status = np.zeros(len(flat), np.uint8)
    status[zero] = ALL_ZERO
    status[big] = OUT_OF_RANGE
    status[non_finite] = NON_FINITE
    return status


@dataclasses.dataclass(frozen=True, order=True)
class TrajectoryKey:
    """One trajectory: a domain at one temperature (K), one replica."""

    domain: str
    temperature_K: float
    replica: int

    def __str__(self) -> str:
        return f"{self.domain} {self.temperature_K:g} K replica {self.replica}"


@dataclasses.dataclass(frozen=True)
class HeldOutTail:
    """Keep the last ``fraction`` of the frames of some trajectories out of training.

    Attributes:
        fraction: in (0, 1); the last ``ceil(fraction * F)`` frames of each selected trajectory are held out.
        temperatures: the temperatures (K) it applies to (``None``: all).
        domains: the domains it applies to (``None``: all).
    """

    fraction: float
    temperatures: tuple[float, ...] | None = None
    domains: tuple[str, ...] | None = None

    def __post_init__(self):
        if not 0 < self.fraction < 1:
            raise GenmolError(f"held-out tail fraction must lie in (0, 1), got {self.fraction}")
        if self.temperatures is not None:
            object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        if self.domains is not None:
            object.__setattr__(self, "domains", tuple(str(d) for d in self.domains))

    def applies(self, key: TrajectoryKey) -> bool:
        if self.domains is not None and key.domain not in self.domains:
            return False
        return self.temperatures is None or any(abs(key.temperature_K - t) < 1e-6 for t in self.temperatures)

    def cut(self, num_frames: int) -> int:
        """The first held-out frame of a trajectory of ``num_frames`` frames."""
        return num_frames - math.ceil(self.fraction * num_frames - 1e-9)

    def __str__(self) -> str:
        temps = "all temperatures" if self.temperatures is None else "/".join(f"{t:g}" for t in self.temperatures)
        temps += " K" if self.temperatures is not None else ""
        doms = "all domains" if self.domains is None else ", ".join(self.domains)
        return f"last {self.fraction:.0%} of the frames at {temps} ({doms})"


@dataclasses.dataclass
class Pair:
    """A training pair: a frame and the frame Δ later in the same trajectory (``R`` residues after cropping).

    Attributes:
        source, target: ``[R, 14, 3]`` float32 Å in the slot layout (0 in empty slots), as stored (not aligned;
            see :func:`align_target`).
        atom_mask: ``[R, 14]`` bool. aatype: ``[R]`` int32. residue_index: ``[R]`` int32 author numbers.
        temperature_K, delta_ps: the trajectory's temperature and the jump.
        key: the trajectory. source_frame, target_frame: frame indices in it. residue_start: the crop offset.
    """

    source: np.ndarray
    target: np.ndarray
    atom_mask: np.ndarray
    aatype: np.ndarray
    residue_index: np.ndarray
    temperature_K: float
    delta_ps: float
    key: TrajectoryKey
    source_frame: int
    target_frame: int
    residue_start: int = 0


@dataclasses.dataclass(frozen=True)
class TrajectoryReport:
    """Validation counts of one trajectory (``held_out``: frames of a held-out tail)."""

    key: TrajectoryKey
    file: str
    group: str
    num_frames: int
    invalid: dict[str, int]
    invalid_frames: tuple[int, ...]
    held_out: int = 0
    split: str = ""
    interval_ps: float | None = None
    interval_source: str = "none"

    @property
    def num_invalid(self) -> int:
        return sum(self.invalid.values())


@dataclasses.dataclass
class DataSummary:
    """What a reader found: every trajectory with its invalid-frame counts; ``str()`` is the log text."""

    trajectories: list[TrajectoryReport]
    domains: dict[str, str]  # domain -> split ("train"/"valid"; "all" for a single file)
    held_out_rule: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return sum(t.num_frames for t in self.trajectories)

    @property
    def num_invalid(self) -> int:
        return sum(t.num_invalid for t in self.trajectories)

    def invalid_counts(self) -> dict[TrajectoryKey, int]:
        """Invalid frames per trajectory (every trajectory, zeros included)."""
        return {t.key: t.num_invalid for t in self.trajectories}

    def __str__(self) -> str:
        by_split = collections.Counter(self.domains.values())
        split = ", ".join(f"{s} {n}" for s, n in sorted(by_split.items()))
        reasons = collections.Counter()
        for t in self.trajectories:
            reasons.update(t.invalid)
        why = ", ".join(f"{n:,} {r}" for r, n in reasons.items() if n)
        lines = [f"MD data: {len(self.domains)} domains ({split}), {len(self.trajectories)} trajectories, "
                 f"{self.num_frames:,} frames; {self.num_invalid:,} invalid frames" + (f" ({why})" if why else "")
                 + " excluded from pairs"]
        intervals = collections.Counter((t.interval_ps, t.interval_source) for t in self.trajectories)
        parts = [f"{'unknown' if v is None else f'{v:g} ps'} ({_INTERVAL_SOURCES[src]}) for {n} trajectories"
                 for (v, src), n in sorted(intervals.items(), key=lambda x: (x[0][0] is None, x[0][0] or 0, x[0][1]))]
        lines.append("  frame interval: " + "; ".join(parts))
        held = sum(t.held_out for t in self.trajectories)
        if self.held_out_rule:
            lines.append(f"  held out of training: {self.held_out_rule}: {held:,} frames")
        for t in self.trajectories:
            if t.num_invalid:
                what = ", ".join(f"{n} {r}" for r, n in t.invalid.items() if n)
                lines.append(f"  {t.key} ({t.file}:{t.group}): {t.num_invalid} of {t.num_frames} frames invalid "
                             f"({what}) at frame{'s' if t.num_invalid > 1 else ''} {_ranges(t.invalid_frames)}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


_INTERVAL_SOURCES = {"timestep_ps": "timestep_ps attribute", "given": "given", "none": "no timestep_ps, none given"}


def _ranges(frames: Sequence[int], limit: int = 6) -> str:
    runs: list[list[int]] = []
    for f in frames:
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:limit]]
    return ", ".join(text) + (f", ... ({len(runs) - limit} more runs)" if len(runs) > limit else "")


@dataclasses.dataclass
class _Trajectory:
    key: TrajectoryKey
    group: str
    num_frames: int
    num_atoms: int
    interval_attr: float | None
    num_frames_attr: int | None


@contextlib.contextmanager
def _reading(path: Path, what: str):
    """Any failure inside (h5py raises OSError, KeyError, ValueError, ...) becomes one GenmolError sentence."""
    try:
        yield
    except GenmolError:
        raise
    except Exception as e:  # h5py and HDF5 raise many types on damaged files
        raise GenmolError(f"{path}: cannot read {what} ({_reason(e)})") from None


def _text(value) -> str:
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size == 1 else b"".join(
            v if isinstance(v, bytes) else str(v).encode() for v in value.reshape(-1))
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _strings(values) -> np.ndarray:
    return np.char.strip(np.asarray([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=str))


class MdcathFile:
    """One HDF5 file in the mdCATH layout, read lazily with h5py (nothing is loaded until asked for). The group
    layout is indexed when it is opened; the handle is then closed and reopened on the first read.

    Args:
        path: the file.
        frame_interval_ps: the time between frames in ps for trajectories without a ``timestep_ps`` attribute
            (published mdCATH: :data:`MDCATH_FRAME_INTERVAL_PS`); an attribute, where present, takes precedence.
        cache_dir: where to keep frame-status caches on disk (``None``: memory only).
        chunk_cache_mb: HDF5's chunk cache per open dataset (at most 4 per file stay open). h5py's 1 MB default
            decompresses a chunk for nearly every random pair; 16 MB holds a whole 75,000-frame trajectory of the
            embedded alanine dipeptide (0.25 ms per pair instead of 1.4 ms).

    Raises:
        GenmolError: the file is missing or not HDF5, a replica group has no ``coords`` or a bad shape, a replica
            name is not an integer, a domain holds the same temperature twice (``"320"`` and ``"sims320K"``), a
            ``temperature`` attribute contradicts its group name.
    """

    def __init__(self, path: str | os.PathLike, *, frame_interval_ps: float | None = None,
                 cache_dir: str | os.PathLike | None = None, chunk_cache_mb: float = 16.0):
        self.path = check_input_file(path, "mdCATH HDF5 file")
        if frame_interval_ps is not None and not (math.isfinite(frame_interval_ps) and frame_interval_ps > 0):
            raise GenmolError(f"frame_interval_ps must be a positive number of ps, got {frame_interval_ps}")
        self._interval_arg = None if frame_interval_ps is None else float(frame_interval_ps)
        self._cache_dir = None if cache_dir is None else Path(cache_dir)
        self._h5 = None
        self._chunk_cache = max(1 << 20, int(chunk_cache_mb * (1 << 20)))
        self._datasets: collections.OrderedDict[tuple[str, str], object] = collections.OrderedDict()
        self._slots: dict[str, SlotAssignment] = {}
        self._pdb_coords: dict[str, np.ndarray] = {}
        self._status: dict[TrajectoryKey, np.ndarray] | None = None
        self._dirty = False  # statuses scanned but not yet in the disk cache
        self.notes: list[str] = []
        try:
            self._domains, self._trajectories = self._index()
        finally:
            self.close()  # reopened on the first read: a set of thousands of files holds few handles

    # ------------------------------------------------------------------------------------------ file handle

    def _file(self):
        import h5py

        if self._h5 is None:
            try:
                self._h5 = h5py.File(self.path, "r", rdcc_nbytes=self._chunk_cache, rdcc_nslots=10007)
            except Exception as e:
                raise GenmolError(f"{self.path} is not a readable HDF5 file ({_reason(e)})") from None
        return self._h5

    def close(self) -> None:
        """Closes the HDF5 handle (reopened on the next read) and writes newly scanned frame statuses to the cache."""
        if self._dirty:
            self._save_cache()
        self._datasets.clear()
        if self._h5 is not None:
            with contextlib.suppress(Exception):
                self._h5.close()
            self._h5 = None

    @property
    def is_open(self) -> bool:
        return self._h5 is not None

    def __enter__(self) -> MdcathFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _group(self, name: str):
        import h5py

        h = self._file()
        with _reading(self.path, f"group {name}"):
            obj = h.get(name)
        if not isinstance(obj, h5py.Group):
            raise GenmolError(f"{self.path} has no group {name}")
        return obj

    def _dataset(self, group: str, name: str):
        import h5py

        if (group, name) in self._datasets:
            self._datasets.move_to_end((group, name))
            return self._datasets[group, name]
        grp = self._group(group)
        with _reading(self.path, f"dataset {group}/{name}"):
            obj = grp.get(name)
        if not isinstance(obj, h5py.Dataset):
            raise GenmolError(f"{self.path}: group {group} has no dataset {name!r}")
        self._datasets[group, name] = obj  # kept open: its chunk cache lives with it
        while len(self._datasets) > _OPEN_DATASETS:
            self._datasets.popitem(last=False)
        return obj

    # ------------------------------------------------------------------------------------------ index

    def _index(self) -> tuple[list[str], dict[TrajectoryKey, _Trajectory]]:
        import h5py

        h = self._file()
        domains, trajs = [], {}
        with _reading(self.path, "its group layout"):
            root_interval = _interval_attr(h, self.path, "/")
            for dname in sorted(h.keys()):
                dgrp = h[dname]
                if not isinstance(dgrp, h5py.Group):
                    continue
                domains.append(dname)
                d_interval = _interval_attr(dgrp, self.path, f"/{dname}")
                seen: dict[float, str] = {}
                for tname in sorted(dgrp.keys()):
                    tgrp = dgrp[tname]
                    if not isinstance(tgrp, h5py.Group):
                        continue
                    temp = parse_temperature(tname)
                    if temp is None:
                        self.notes.append(f"{self.path}: group /{dname}/{tname} is not a temperature; ignored")
                        continue
                    if temp in seen:
                        raise GenmolError(f"{self.path}: domain {dname} holds {temp:g} K twice (groups "
                                          f"/{dname}/{seen[temp]} and /{dname}/{tname})")
                    seen[temp] = tname
                    t_interval = _interval_attr(tgrp, self.path, f"/{dname}/{tname}")
                    for rname in sorted(tgrp.keys()):
                        rgrp = tgrp[rname]
                        if not isinstance(rgrp, h5py.Group):
                            continue
                        traj = self._replica(rgrp, f"/{dname}/{tname}/{rname}", dname, temp, rname)
                        traj.interval_attr = next((v for v in (traj.interval_attr, t_interval, d_interval,
                                                               root_interval) if v is not None), None)
                        trajs[traj.key] = traj
        return domains, dict(sorted(trajs.items()))

    def _replica(self, grp, group: str, domain: str, temp: float, rname: str) -> _Trajectory:
        import h5py

        if not rname.isdigit():
            raise GenmolError(f"{self.path}: group {group} is not a replica (replica groups have integer names)")
        coords = grp.get("coords")
        if not isinstance(coords, h5py.Dataset):
            raise GenmolError(f"{self.path}: group {group} has no dataset 'coords'")
        if coords.ndim != 3 or coords.shape[2] != 3 or coords.shape[1] == 0:
            raise GenmolError(f"{self.path}: {group}/coords has shape {coords.shape}, expected (frames, atoms, 3)")
        attr_t = grp.attrs.get("temperature")
        attr_t = None if attr_t is None else float(np.asarray(attr_t).reshape(-1)[0])
        if attr_t is not None and abs(attr_t - temp) > 1e-6:
            raise GenmolError(f"{self.path}: group {group} has temperature attribute {attr_t:g} K but its name "
                              f"says {temp:g} K")
        n_attr = grp.attrs.get("numFrames")
        n_attr = None if n_attr is None else int(np.asarray(n_attr).reshape(-1)[0])
        if n_attr is not None and n_attr != coords.shape[0]:
            self.notes.append(f"{self.path}: {group} has numFrames {n_attr} but coords holds {coords.shape[0]} "
                              "frames; all stored frames are read (and validated)")
        return _Trajectory(TrajectoryKey(domain, temp, int(rname)), group, int(coords.shape[0]),
                           int(coords.shape[1]), _interval_attr(grp, self.path, group), n_attr)

    # ------------------------------------------------------------------------------------------ metadata

    def domains(self) -> list[str]:
        """The domain groups of the file (sorted)."""
        return list(self._domains)

    def trajectories(self, domain: str | None = None) -> list[TrajectoryKey]:
        """The trajectories of one domain (or all), sorted by domain, temperature and replica."""
        if domain is not None:
            self._check_domain(domain)
        return [k for k in self._trajectories if domain is None or k.domain == domain]

    def _check_domain(self, domain: str) -> None:
        if domain not in self._domains:
            raise GenmolError(f"{self.path} has no group /{domain} (domains: {', '.join(self._domains) or 'none'})")

    def _traj(self, key: TrajectoryKey) -> _Trajectory:
        traj = self._trajectories.get(key)
        if traj is None:
            self._check_domain(key.domain)
            raise GenmolError(f"{self.path} has no trajectory {key} (no group /{key.domain}/{key.temperature_K:g}"
                              f"/{key.replica} or /{key.domain}/sims{key.temperature_K:g}K/{key.replica})")
        return traj

    def group(self, key: TrajectoryKey) -> str:
        """The HDF5 group of a trajectory, e.g. ``/1r9lA02/sims320K/0``."""
        return self._traj(key).group

    def num_frames(self, key: TrajectoryKey) -> int:
        return self._traj(key).num_frames

    def frame_interval_ps(self, key: TrajectoryKey) -> float:
        """The time between stored frames in ps (attribute ``timestep_ps``, else the ``frame_interval_ps`` argument).

        Raises:
            GenmolError: neither is there.
        """
        traj = self._traj(key)
        if traj.interval_attr is None and self._interval_arg is None:
            raise GenmolError(f"{self.path}: {traj.group} has no timestep_ps attribute and no frame interval was "
                              f"given; pass frame_interval_ps (published mdCATH: {MDCATH_FRAME_INTERVAL_PS:g} ps, "
                              "1 ns per frame)")
        return traj.interval_attr if traj.interval_attr is not None else self._interval_arg

    def frame_interval_source(self, key: TrajectoryKey) -> str:
        """Where :meth:`frame_interval_ps` comes from: ``"timestep_ps"`` (attribute), ``"given"`` or ``"none"``."""
        traj = self._traj(key)
        return "timestep_ps" if traj.interval_attr is not None else "given" if self._interval_arg else "none"

    # ------------------------------------------------------------------------------------------ topology

    def slots(self, domain: str) -> SlotAssignment:
        """Which stored atom fills each residue slot (parsed from ``pdbProteinAtoms``; cached)."""
        if domain not in self._slots:
            self._check_domain(domain)
            self._slots[domain] = self._assign(domain)
        return self._slots[domain]

    def _assign(self, domain: str) -> SlotAssignment:
        import biotite.structure.io.pdb as pdb

        group = f"/{domain}"
        ds = self._dataset(group, "pdbProteinAtoms")
        with _reading(self.path, f"dataset {group}/pdbProteinAtoms"):
            text = _text(ds[()])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                atoms = pdb.PDBFile.read(io.StringIO(text)).get_structure(model=1, altloc="first")
        except Exception as e:
            raise GenmolError(f"{self.path}: {group}/pdbProteinAtoms is not readable PDB text ({_reason(e)})"
                              ) from None
        for t in self._trajectories.values():
            if t.key.domain == domain and t.num_atoms != atoms.array_length():
                raise GenmolError(f"{self.path}: {group}/pdbProteinAtoms holds {atoms.array_length()} atoms but "
                                  f"{t.group}/coords holds {t.num_atoms}")
        grp = self._group(group)
        for name, field in (("element", "element"), ("chain", "chain_id")):
            if name in grp:
                with _reading(self.path, f"dataset {group}/{name}"):
                    values = _strings(grp[name][()])
                if values.shape != (atoms.array_length(),):
                    raise GenmolError(f"{self.path}: {group}/{name} has {values.size} entries but pdbProteinAtoms "
                                      f"holds {atoms.array_length()} atoms")
                if field == "element" or not np.char.strip(atoms.chain_id.astype(str)).astype(bool).any():
                    setattr(atoms, field, values)
        self._pdb_coords[domain] = np.asarray(atoms.coord, np.float32)
        return assign_slots(atoms, f"{self.path}:{group}")

    def topology(self, domain: str) -> Protein:
        """The residues of a domain with the positions of the first valid first frame of its trajectories (in key
        order), or the coordinates of ``pdbProteinAtoms`` if no trajectory starts with a valid frame."""
        sa = self.slots(domain)
        for key in self.trajectories(domain):
            raw = self._read(key, "coords", slice(0, 1))
            if len(raw) and frame_status(raw)[0] == VALID:
                return sa.protein(raw[0])
        return sa.protein(self._pdb_coords[domain])

    # ------------------------------------------------------------------------------------------ frames

    def _read(self, key: TrajectoryKey, name: str, index) -> np.ndarray:
        traj = self._traj(key)
        ds = self._dataset(traj.group, name)
        with _reading(self.path, f"dataset {traj.group}/{name}"):
            return np.asarray(ds[index], dtype=np.float32)

    def _to_slots(self, domain: str, raw: np.ndarray) -> np.ndarray:
        sa = self.slots(domain)
        mask = sa.atom_index >= 0
        pos = raw[..., np.where(mask, sa.atom_index, 0), :]
        return np.where(mask[..., None], pos, np.float32(0)).astype(np.float32)

    def frames(self, key: TrajectoryKey, start: int = 0, stop: int | None = None, step: int = 1, *,
               allow_invalid: bool = False) -> np.ndarray:
        """Frames ``start:stop:step`` of a trajectory as ``[F, R, 14, 3]`` float32 Å in the slot layout (0 in empty
        slots; the mask is ``slots(domain).atom_index >= 0``). Only these frames are read from disk.

        Raises:
            GenmolError: a frame in the range is invalid (naming it and why), unless ``allow_invalid``; the
                dataset cannot be read.
        """
        traj = self._traj(key)
        if step < 1:
            raise GenmolError(f"frames: step must be >= 1, got {step}")
        sl = slice(*slice(start, stop, step).indices(traj.num_frames))
        raw = self._read(key, "coords", sl)
        if not allow_invalid:
            status = frame_status(raw)
            bad = np.flatnonzero(status)
            if bad.size:
                frame = sl.start + int(bad[0]) * sl.step
                raise GenmolError(f"{self.path}: frame {frame} of {traj.group}/coords is invalid "
                                  f"({STATUS_NAMES[int(status[bad[0]])]}); {bad.size} invalid frame(s) in "
                                  f"{sl.start}:{sl.stop}:{sl.step}")
        return self._to_slots(key.domain, raw)

    def forces(self, key: TrajectoryKey, start: int = 0, stop: int | None = None, step: int = 1) -> np.ndarray:
        """Forces ``[F, R, 14, 3]`` float32 kcal/mol/Å in the slot layout (as stored; no validation)."""
        if step < 1:
            raise GenmolError(f"forces: step must be >= 1, got {step}")
        return self._to_slots(key.domain, self._read(key, "forces", slice(start, stop, step)))

    def pair_frames(self, key: TrajectoryKey, first: int, offset: int) -> np.ndarray:
        """Frames ``first`` and ``first + offset`` (``offset >= 1``) as ``[2, R, 14, 3]`` (one strided read)."""
        raw = self._read(key, "coords", slice(first, first + offset + 1, offset))
        if raw.shape[0] != 2:
            raise GenmolError(f"{self.path}: frames {first} and {first + offset} of {self.group(key)} do not exist")
        return self._to_slots(key.domain, raw)

    # ------------------------------------------------------------------------------------------ validation

    def status(self, key: TrajectoryKey) -> np.ndarray:
        """``[F]`` uint8 frame status (:data:`VALID` = 0, else the reason), scanned in chunks once and cached."""
        traj = self._traj(key)
        if self._status is None:
            self._status = self._load_cache()
        if key not in self._status:
            self._status[key] = self._scan(traj)
            self._dirty = True
            if len(self._status) == len(self._trajectories):  # written once per file (and on close)
                self._save_cache()
        return self._status[key]

    def valid(self, key: TrajectoryKey) -> np.ndarray:
        """``[F]`` bool: the frame is valid."""
        return self.status(key) == VALID

    def _scan(self, traj: _Trajectory) -> np.ndarray:
        ds = self._dataset(traj.group, "coords")
        step = max(1, _SCAN_VALUES // (traj.num_atoms * 3))
        if ds.chunks:
            step = max(ds.chunks[0], step // ds.chunks[0] * ds.chunks[0])
        out = np.empty(traj.num_frames, np.uint8)
        with _reading(self.path, f"dataset {traj.group}/coords"):
            for a in range(0, traj.num_frames, step):
                out[a:a + step] = frame_status(ds[a:a + step])
        return out

    def _cache_path(self) -> Path | None:
        if self._cache_dir is None:
            return None
        st = self.path.stat()
        ident = f"{_CACHE_VERSION}|{MAX_ABS_COORD}|{self.path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        return self._cache_dir / "mdcath" / f"{self.path.stem}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}.npz"

    def _load_cache(self) -> dict[TrajectoryKey, np.ndarray]:
        path = self._cache_path()
        if path is None or not path.is_file():
            return {}
        try:
            with np.load(path) as z:
                groups = [str(g) for g in z["groups"]]
                by_group = {t.group: t for t in self._trajectories.values()}
                out = {}
                for i, g in enumerate(groups):
                    arr = z[f"s{i}"]
                    if g in by_group and arr.shape == (by_group[g].num_frames,):
                        out[by_group[g].key] = arr.astype(np.uint8)
                return out
        except Exception:  # a damaged cache is recomputed, never trusted
            return {}

    def _save_cache(self) -> None:
        path = self._cache_path()
        self._dirty = False
        if path is None:
            return
        from genmol.io.atomic import atomic_open

        status = self._status or {}
        arrays = {f"s{i}": v for i, v in enumerate(status.values())}
        groups = np.array([self._trajectories[k].group for k in status], dtype=str)
        try:
            with atomic_open(path, "wb") as f:
                np.savez(f, groups=groups, **arrays)
        except OSError as e:
            raise GenmolError(f"cannot write the frame-status cache {path} ({e.strerror or e})") from None

    def report(self, key: TrajectoryKey, held_out: int = 0, split: str = "") -> TrajectoryReport:
        """The validation counts of one trajectory (scans it if needed)."""
        status = self.status(key)
        counts = np.bincount(status, minlength=4)
        source = self.frame_interval_source(key)
        return TrajectoryReport(key, str(self.path), self.group(key), len(status),
                                {STATUS_NAMES[c]: int(counts[c]) for c in (NON_FINITE, OUT_OF_RANGE, ALL_ZERO)},
                                tuple(int(i) for i in np.flatnonzero(status)), held_out, split,
                                None if source == "none" else self.frame_interval_ps(key), source)

    def summary(self) -> DataSummary:
        """Invalid-frame counts of every trajectory in the file (scans what is not cached yet); also parses every
        domain's topology, so a bad ``pdbProteinAtoms`` shows up here."""
        for d in self._domains:
            self.slots(d)
        return DataSummary([self.report(k) for k in self._trajectories], {d: "all" for d in self._domains},
                           notes=list(self.notes))


def _interval_attr(obj, path: Path, group: str) -> float | None:
    value = obj.attrs.get("timestep_ps")
    if value is None:
        return None
    try:
        v = float(np.asarray(value).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        v = float("nan")
    if not (math.isfinite(v) and v > 0):
        shown = value.tolist() if isinstance(value, np.generic | np.ndarray) else value
        raise GenmolError(f"{path}: group {group} has timestep_ps {shown!r}; expected a positive number of ps")
    return v


# ---------------------------------------------------------------------------------------------- many files


def split_domains(domains: Iterable[str], valid_fraction: float, seed: int = 0) -> dict[str, list[str]]:
    """Train/valid split of domain names: the ``round(valid_fraction * n)`` domains (at least one if the fraction is
    positive) with the smallest ``sha256(f"{seed}:{domain}")`` are valid. Deterministic, independent of order, and
    stable when domains are added (a domain changes side only at the margin).

    Raises:
        GenmolError: ``valid_fraction`` outside [0, 1), or a positive fraction with fewer than two domains.
    """
    names = sorted(set(domains))
    if not 0 <= valid_fraction < 1:
        raise GenmolError(f"valid_fraction must lie in [0, 1), got {valid_fraction}")
    n_valid = 0 if valid_fraction == 0 else max(1, round(valid_fraction * len(names)))
    if n_valid and len(names) < 2:
        raise GenmolError(f"cannot hold out {valid_fraction:.0%} of {len(names)} domain(s) for validation; "
                          "set valid_fraction to 0")
    ranked = sorted(names, key=lambda d: hashlib.sha256(f"{seed}:{d}".encode()).digest())
    valid = set(ranked[:n_valid])
    return {"train": [d for d in names if d not in valid], "valid": [d for d in names if d in valid]}


def _sources(sources, pattern: str | None) -> list[Path]:
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    files: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            found = (sorted(p.glob(pattern)) if pattern else
                     sorted(p.glob("mdcath_dataset_*.h5")) or sorted(p.glob("*.h5")))
            if not found:
                raise GenmolError(f"{p} holds no {pattern or '.h5'} files")
            files += found
        else:
            files.append(check_input_file(p, "mdCATH HDF5 file"))
    if not files:
        raise GenmolError("no mdCATH files given")
    return files


class MdcathSet:
    """Trajectories of many mdCATH-layout files with a domain-level train/valid split and held-out tails.

    Args:
        sources: files and directories (a directory contributes its files matching ``pattern``; by default its
            ``mdcath_dataset_*.h5`` files, or every ``*.h5`` if there are none: mdCATH's ``mdcath_source.h5`` index
            is not a data file).
        valid_fraction, seed: the domain split (:func:`split_domains`).
        held_out_tail: frames kept out of training (:class:`HeldOutTail`), or ``None``.
        frame_interval_ps: for trajectories without a ``timestep_ps`` attribute (published mdCATH: 1000.0).
        cache_dir: on-disk frame-status caches (``None``: memory only).
        max_open_files: HDF5 handles kept open at once (least recently used closed first).
        chunk_cache_mb: per open dataset (see :class:`MdcathFile`); memory is bounded by
            ``max_open_files * 4 * chunk_cache_mb`` (512 MB with the defaults).
        split: which part :meth:`sample_pair` and :meth:`trajectories` use: ``"train"`` (train domains without
            held-out tails), ``"valid"`` (valid domains, every frame), ``"tail"`` (the held-out tails of train
            domains) or ``"all"``. :meth:`view` gives another split over the same open files.

    Raises:
        GenmolError: a file is unreadable (see :class:`MdcathFile`), a domain appears in two files, a bad split, or
            a trajectory without a frame interval (checked for every trajectory up front).
    """

    def __init__(self, sources, *, valid_fraction: float = 0.0, seed: int = 0,
                 held_out_tail: HeldOutTail | None = None, frame_interval_ps: float | None = None,
                 cache_dir: str | os.PathLike | None = None, max_open_files: int = 8, split: str = "train",
                 pattern: str | None = None, chunk_cache_mb: float = 16.0):
        if split not in SPLITS:
            raise GenmolError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        self.files = [MdcathFile(p, frame_interval_ps=frame_interval_ps, cache_dir=cache_dir,
                                 chunk_cache_mb=chunk_cache_mb)
                      for p in _sources(sources, pattern)]
        self._lru: collections.OrderedDict[int, MdcathFile] = collections.OrderedDict()
        self._max_open = max(1, int(max_open_files))
        self._where: dict[str, MdcathFile] = {}
        for f in self.files:
            for d in f.domains():
                if d in self._where:
                    raise GenmolError(f"domain {d} is in both {self._where[d].path} and {f.path}")
                self._where[d] = f
        self._interval = {k: f.frame_interval_ps(k) for f in self.files for k in f.trajectories()}
        self.domain_split = split_domains(self._where, valid_fraction, seed)
        self.held_out_tail = held_out_tail
        self.split = split
        self._steps_checked: dict[float, dict[TrajectoryKey, int]] = {}
        self._candidates: dict[float, list[list[TrajectoryKey]]] = {}

    def view(self, split: str) -> MdcathSet:
        """The same files and caches under another split."""
        if split not in SPLITS:
            raise GenmolError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        other = object.__new__(MdcathSet)
        other.__dict__.update(self.__dict__)
        other.split = split
        other._steps_checked, other._candidates = {}, {}
        return other

    def _touch(self, f: MdcathFile) -> MdcathFile:
        self._lru[id(f)] = f
        self._lru.move_to_end(id(f))
        while len(self._lru) > self._max_open:
            _, old = self._lru.popitem(last=False)
            old.close()
        return f

    def close(self) -> None:
        for f in self.files:
            f.close()
        self._lru.clear()

    def file(self, domain: str) -> MdcathFile:
        """The file holding a domain (marked as recently used: its handle stays open)."""
        return self._touch(self._meta(domain))

    def _meta(self, domain: str) -> MdcathFile:
        """The file holding a domain, for metadata only (no reads, so the open-handle order is left alone)."""
        f = self._where.get(domain)
        if f is None:
            raise GenmolError(f"no file holds domain {domain}")
        return f

    # ------------------------------------------------------------------------------------------ splits

    def domains(self) -> list[str]:
        """The domains of this split (sorted)."""
        if self.split == "all":
            return sorted(self._where)
        return list(self.domain_split["valid" if self.split == "valid" else "train"])

    def window(self, key: TrajectoryKey) -> tuple[int, int]:
        """The frames ``[lo, hi)`` of a trajectory that belong to this split (``lo == hi``: none)."""
        n = self._meta(key.domain).num_frames(key)
        tail = self.held_out_tail
        if self.split in ("all", "valid") or tail is None or not tail.applies(key):
            return (0, n) if self.split != "tail" else (n, n)
        cut = tail.cut(n)
        return (0, cut) if self.split == "train" else (cut, n)

    def trajectories(self) -> list[TrajectoryKey]:
        """The trajectories of this split with at least one frame in its window."""
        keys = [k for d in self.domains() for k in self._meta(d).trajectories(d)]
        return [k for k in keys if self.window(k)[0] < self.window(k)[1]]

    def frame_interval_ps(self, key: TrajectoryKey) -> float:
        return self._interval[key]

    def topology(self, domain: str) -> Protein:
        return self.file(domain).topology(domain)

    # ------------------------------------------------------------------------------------------ pairs

    def _steps(self, delta_ps: float) -> dict[TrajectoryKey, int]:
        """Δ in frames for every trajectory of the split (checked once per Δ)."""
        if delta_ps not in self._steps_checked:
            if not (math.isfinite(delta_ps) and delta_ps > 0):
                raise GenmolError(f"jump sizes must be positive numbers of ps, got {delta_ps}")
            steps = {}
            for key in self.trajectories():
                interval = self._interval[key]
                k = delta_ps / interval
                if abs(k - round(k)) > 1e-6 * max(1.0, k) or round(k) < 1:
                    raise GenmolError(f"jump {delta_ps:g} ps is not a whole number of frames of {key} (one frame "
                                      f"every {interval:g} ps, in {self._meta(key.domain).path})")
                steps[key] = int(round(k))
            self._steps_checked[delta_ps] = steps
        return self._steps_checked[delta_ps]

    def _starts(self, key: TrajectoryKey, k: int) -> np.ndarray:
        """Frames ``i`` in the window with ``i`` and ``i + k`` both valid and in the window."""
        lo, hi = self.window(key)
        if hi - lo <= k:
            return np.zeros(0, np.int64)
        valid = self.file(key.domain).valid(key)[lo:hi]
        return lo + np.flatnonzero(valid[:-k] & valid[k:])

    def pair_starts(self, key: TrajectoryKey, delta_ps: float) -> np.ndarray:
        """The source frames of every pair Δ apart in a trajectory of this split (both ends valid, in the window)."""
        steps = self._steps(float(delta_ps))
        if key not in steps:
            return np.zeros(0, np.int64)
        return self._starts(key, steps[key])

    def num_pairs(self, delta_ps: float) -> int:
        """How many (source, target) pairs Δ apart the split holds (scans every trajectory)."""
        return sum(len(self._starts(key, k)) for key, k in self._steps(float(delta_ps)).items())

    def _domain_candidates(self, delta_ps: float) -> list[list[TrajectoryKey]]:
        """Per domain, the trajectories whose window is longer than Δ (from metadata only)."""
        if delta_ps not in self._candidates:
            steps = self._steps(delta_ps)
            by_domain: dict[str, list[TrajectoryKey]] = {}
            for key, k in steps.items():
                lo, hi = self.window(key)
                if hi - lo > k:
                    by_domain.setdefault(key.domain, []).append(key)
            self._candidates[delta_ps] = [by_domain[d] for d in sorted(by_domain)]
        return self._candidates[delta_ps]

    def sample_pair(self, rng: np.random.Generator, jumps_ps: Sequence[float], crop: int | None = None) -> Pair:
        """A random pair of this split (see the module docstring for the distribution).

        Args:
            rng: the only source of randomness (derive it from ``(seed, step, slot)`` for pure batches).
            jumps_ps: the jump sizes Δ in ps to draw from uniformly.
            crop: a residue budget: a longer protein is cut to a uniformly placed contiguous window of ``crop``
                residues (caps count as residues); ``None``: no crop.

        Raises:
            GenmolError: an empty ``jumps_ps``, a Δ that is not a whole number of frames of some trajectory, or no
                pair with the drawn Δ in the split.
        """
        if len(jumps_ps) == 0:
            raise GenmolError("sample_pair needs at least one jump size (jumps_ps)")
        if crop is not None and crop < 1:
            raise GenmolError(f"crop must be a positive number of residues, got {crop}")
        delta = float(jumps_ps[int(rng.integers(len(jumps_ps)))])
        steps = self._steps(delta)
        domains = self._domain_candidates(delta)
        key, start = None, None
        for _ in range(64):  # rejection: uniform domain, uniform trajectory, then a valid start if there is one
            if not domains:
                break
            trajs = domains[int(rng.integers(len(domains)))]
            cand = trajs[int(rng.integers(len(trajs)))]
            starts = self._starts(cand, steps[cand])
            if len(starts):
                key, start = cand, int(starts[int(rng.integers(len(starts)))])
                break
        if key is None:  # the same distribution, drawn exactly (rare: most candidates have no valid pair)
            keys, weights, counts = [], [], []
            for trajs in domains:
                for cand in trajs:
                    n = len(self._starts(cand, steps[cand]))
                    if n:
                        keys.append(cand)
                        weights.append(1.0 / (len(domains) * len(trajs)))
                        counts.append(n)
            if not keys:
                raise GenmolError(f"no pair of valid frames {delta:g} ps apart in the {self.split} split "
                                  f"({len(self.trajectories())} trajectories)")
            i = int(rng.choice(len(keys), p=np.asarray(weights) / np.sum(weights)))
            key = keys[i]
            start = int(self._starts(key, steps[key])[int(rng.integers(counts[i]))])
        k = steps[key]
        f = self.file(key.domain)
        both = f.pair_frames(key, start, k)
        if (frame_status(both) != VALID).any():  # the status cache says valid: the file changed under us
            raise GenmolError(f"{f.path}: frames {start} and {start + k} of {f.group(key)} are invalid but were "
                              "cached as valid; the file changed (delete the frame-status cache)")
        sa = f.slots(key.domain)
        mask, aatype, resid = sa.atom_index >= 0, sa.aatype, sa.residue_index
        r0 = 0
        if crop is not None and len(aatype) > crop:
            r0 = int(rng.integers(len(aatype) - crop + 1))
            both, mask = both[:, r0:r0 + crop], mask[r0:r0 + crop]
            aatype, resid = aatype[r0:r0 + crop], resid[r0:r0 + crop]
        return Pair(both[0], both[1], mask.copy(), aatype.copy(), resid.copy(), key.temperature_K, delta, key,
                    start, start + k, r0)

    # ------------------------------------------------------------------------------------------ reporting

    def summary(self) -> DataSummary:
        """Invalid-frame counts of every trajectory of every domain (all splits), the domain split and the held-out
        tail: what the training log prints. Scans what is not cached yet and parses every topology."""
        side = {d: s for s, ds in self.domain_split.items() for d in ds}
        reports, notes = [], []
        train_view = self if self.split == "tail" else self.view("tail")
        for f in self.files:
            notes += f.notes
            for d in f.domains():
                self.file(d).slots(d)
                for key in f.trajectories(d):
                    lo, hi = train_view.window(key) if side[d] == "train" else (0, 0)
                    reports.append(f.report(key, held_out=hi - lo, split=side[d]))
        return DataSummary(reports, {d: side[d] for d in sorted(side)},
                           str(self.held_out_tail) if self.held_out_tail else "", notes)


ALA2_HELD_OUT = HeldOutTail(0.2, temperatures=(300.0,), domains=("ala2",))
"""The held-out rule of the embedded alanine-dipeptide data: the last 20 % of the 300 K run (data/md/README.md)."""


def embedded_ala2() -> Path:
    """``data/md/ala2_mdcath.h5``: alanine dipeptide, 10 heavy atoms, 1 ps per frame at 300 and 400 K (use it with
    ``held_out_tail=ALA2_HELD_OUT``)."""
    from genmol.data.paths import embedded_file

    return embedded_file("md", "ala2_mdcath.h5")


TRPCAGE_HELD_OUT = HeldOutTail(0.2, temperatures=(320.0,), domains=("1l2y",))
"""The held-out rule of the embedded Trp-cage data: the last 20 % of the 320 K run (data/md/README.md)."""


def embedded_trpcage() -> Path:
    """``data/md/trpcage_mdcath.h5``: Trp-cage (domain ``1l2y``, 20 residues, 154 heavy atoms), 1 ps per frame, 700
    frames at 320 and at 400 K (use it with ``held_out_tail=TRPCAGE_HELD_OUT``)."""
    from genmol.data.paths import embedded_file

    return embedded_file("md", "trpcage_mdcath.h5")


EMBEDDED_MD = {"ala2": (embedded_ala2, ALA2_HELD_OUT), "trpcage": (embedded_trpcage, TRPCAGE_HELD_OUT)}
"""The MD shipped in ``data/md/``: name -> (its file, its held-out rule)."""


def embedded_md(name: str) -> MdcathSet:
    """The embedded MD ``name`` (``"ala2"`` or ``"trpcage"``, :data:`EMBEDDED_MD`) with its held-out tail.

    Raises:
        GenmolError: an unknown name (the sentence names the choices).
    """
    if name not in EMBEDDED_MD:
        raise GenmolError(f"unknown embedded MD {name!r}; choose one of {', '.join(EMBEDDED_MD)}")
    path, held_out = EMBEDDED_MD[name]
    return MdcathSet(path(), held_out_tail=held_out)


def align_target(source: np.ndarray, target: np.ndarray, atom_mask: np.ndarray, method: str = "kabsch") -> np.ndarray:
    """``target [R, 14, 3]`` superimposed onto ``source`` over the present atoms (``atom_mask [R, 14]``) by
    :func:`genmol.losses.alignment.denoising_target`; 0 in empty slots.

    ``method``: ``"kabsch"`` (σ = 0: the least-squares superposition, DeepJump's), ``"fisher"`` (the exact
    matrix-Fisher posterior mean of the rotation, reading the source as the target plus isotropic noise of
    σ = (Kabsch RMSD)/√3 Å per coordinate: a large jump is aligned less confidently) or ``"none"`` (centroids
    matched only, as every method does).
    """
    from genmol.losses.alignment import denoising_target

    shape = np.shape(target)
    x0, y, m = np.reshape(target, (-1, 3)), np.reshape(source, (-1, 3)), np.reshape(atom_mask, (-1,))
    sigma = 0.0
    if method == "fisher":
        k = np.asarray(denoising_target(x0, y, 0.0, mask=m, method="kabsch"))
        sigma = float(np.sqrt(np.sum((k - y)[m] ** 2) / max(int(m.sum()), 1) / 3.0))
    out = denoising_target(x0, y, sigma, mask=m, method="kabsch" if method == "kabsch" else method)
    return np.asarray(out, np.float32).reshape(shape)
