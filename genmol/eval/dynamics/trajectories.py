"""Trajectories to evaluate: files (with their frame interval) and the embedded reference MD.

A :class:`Trajectory` is one continuous run: a topology, frames ``[F, R, 14, 3]`` Å in the slot layout and the
time between frames in ps. Walkers are separate trajectories (never concatenated: transitions and lags are counted
within each).

**Frame interval** (:func:`load_trajectory`): from the file's time stamps when they are meaningful — XTC and mdtraj
HDF5 store a time per frame (ps); they count when there are at least two frames, strictly increasing and evenly
spaced (within float32 rounding) — else the ``frame_interval_ps`` given. DCD and multi-model PDB/mmCIF carry no
time (mdtraj numbers their frames 0, 1, 2, ...), so they always need it. Time stamps and a given interval that
disagree are an error (one of them is wrong, and a silently wrong interval rescales every rate). Neither: an error
when a rate is asked for (the interval stays ``None`` until then).

**Embedded reference** (:func:`embedded_reference`): ``"ala2:300"`` is the held-out tail of the embedded
alanine-dipeptide MD at 300 K (the last 20 %, frames 59,904–74,879, 1 ps apart; never trained on, see
``data/md/README.md``). The 400 K run has no held-out part: ``"ala2:400"`` is its last 20 % the same way
(frames 61,520–76,899), which the jump models *do* train on — the reference then measures fit to training data,
and the result says so. Trp-cage likewise: ``"trpcage:320"`` is the held-out tail of the 320 K run (frames
560–699), ``"trpcage:400"`` the last 20 % of the 400 K run (in the training data).
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError

__all__ = ["Trajectory", "load_trajectory", "interval_from_times", "embedded_reference", "EMBEDDED_REFERENCES",
           "split_halves", "TRAJECTORY_SUFFIXES"]

_MODEL_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".bcif")
TRAJECTORY_SUFFIXES = (".xtc", ".dcd", ".h5", ".hdf5") + _MODEL_SUFFIXES
EMBEDDED_REFERENCES = {"ala2:300": ("ala2", 300.0), "ala2:400": ("ala2", 400.0),
                       "trpcage:320": ("trpcage", 320.0), "trpcage:400": ("trpcage", 400.0)}
"""``--reference`` names of the embedded MD: (:data:`genmol.data.mdcath.EMBEDDED_MD` name, temperature in K)."""


@dataclasses.dataclass
class Trajectory:
    """One continuous trajectory.

    Attributes:
        topology: the residues (positions: the first frame).
        positions: ``[F, R, 14, 3]`` float32 Å (0 in empty slots; mask ``topology.atom_mask``).
        interval_ps: the time between frames, ps (``None``: unknown).
        name: for messages and reports (the file, or e.g. ``"ala2:300"``).
        interval_source: ``"time stamps"``, ``"given"``, ``"embedded"`` or ``"unknown"``.
        note: anything a report should say about it (e.g. "in the training data").
    """

    topology: Protein
    positions: np.ndarray
    interval_ps: float | None
    name: str = ""
    interval_source: str = "unknown"
    note: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def duration_ps(self) -> float | None:
        """``(F − 1) · interval`` (``None`` without an interval)."""
        return None if self.interval_ps is None else (self.num_frames - 1) * self.interval_ps

    def require_interval(self) -> float:
        """The interval, or one sentence saying how to give it."""
        if self.interval_ps is None:
            raise GenmolError(f"{self.name}: no meaningful time stamps and no frame interval given; pass the time "
                              "between frames in ps (--frame-interval)")
        return self.interval_ps

    def slice(self, start: int, stop: int, suffix: str = "") -> Trajectory:
        """Frames ``start:stop`` as a new trajectory."""
        return dataclasses.replace(self, positions=self.positions[start:stop], name=self.name + suffix)


def interval_from_times(times_ps) -> float | None:
    """The frame interval (ps) of time stamps ``[F]`` if they are meaningful — at least two, finite, strictly
    increasing and evenly spaced (each step within ``max(1e-3 · step, float32 rounding of the largest time)`` of
    the mean step) — else ``None``. Returned as ``(t_last − t_first) / (F − 1)`` rounded to 6 significant digits.

    >>> interval_from_times([500.00003, 501.00003, 502.00003]), interval_from_times([0.0, 0.0, 0.0])
    (1.0, None)
    """
    t = np.asarray(times_ps, np.float64).reshape(-1)
    if t.size < 2 or not np.all(np.isfinite(t)):
        return None
    steps = np.diff(t)
    mean = (t[-1] - t[0]) / (t.size - 1)
    if not mean > 0 or np.any(steps <= 0):
        return None
    slack = max(1e-3 * mean, 4 * float(np.finfo(np.float32).eps) * float(np.abs(t).max()))
    if np.any(np.abs(steps - mean) > slack):
        return None
    return float(f"{mean:.6g}")


def _times(path: Path) -> np.ndarray | None:
    """The stored time stamps (ps) of an XTC or mdtraj HDF5 file; ``None`` for formats without them."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".xtc":
            import mdtraj

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with mdtraj.formats.XTCTrajectoryFile(str(path)) as f:
                    return np.asarray(f.read()[1], np.float64)
        if suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                if "time" not in f:
                    return None
                units = f["time"].attrs.get("units", b"picoseconds")
                units = units.decode() if isinstance(units, bytes) else str(units)
                scale = {"picoseconds": 1.0, "ps": 1.0, "nanoseconds": 1000.0, "ns": 1000.0}.get(units)
                return None if scale is None else np.asarray(f["time"][...], np.float64) * scale
    except Exception:  # the coordinates were readable (read first); unreadable times mean no time stamps
        return None
    return None


def _read_models(path: Path, top) -> tuple[Protein, np.ndarray]:
    """Every model of a PDB/mmCIF/BinaryCIF file as frames (the models must share their atoms)."""
    import biotite.structure.io as strucio

    from genmol.data.proteins.assign import assign_slots
    from genmol.io.files import check_input_file
    from genmol.io.structures import _reason

    check_input_file(path, "trajectory file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stack = strucio.load_structure(str(path), model=None, altloc="first")
    except Exception as e:
        raise GenmolError(f"{path} is not a readable multi-model structure file ({_reason(e)})") from None
    if stack.stack_depth() == 0 or stack.array_length() == 0:
        raise GenmolError(f"{path} holds no models")
    if top is not None:
        n_top = _topology_atoms(Path(top))
        if n_top != stack.array_length():
            raise GenmolError(f"{path} holds {stack.array_length()} atoms per model but its topology {top} has "
                              f"{n_top}")
    slots = assign_slots(stack[0], str(path))
    positions = slots.positions(stack.coord)
    return slots.protein(stack.coord[0]), positions


def _topology_atoms(top: Path) -> int:
    import mdtraj

    from genmol.io.files import check_input_file
    from genmol.io.structures import _reason

    check_input_file(top, "topology file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(mdtraj.load_topology(str(top)).n_atoms)
    except Exception as e:
        raise GenmolError(f"{top} is not a readable topology ({_reason(e)})") from None


def load_trajectory(path: str | os.PathLike, top: str | os.PathLike | None = None, *,
                    frame_interval_ps: float | None = None) -> Trajectory:
    """A trajectory file in the slot layout with its frame interval (module docstring).

    Args:
        path: XTC, DCD, mdtraj HDF5 (read with :func:`genmol.io.structures.read_trajectory`), or a multi-model
            PDB/mmCIF/BinaryCIF (every model a frame).
        top: the topology (required for XTC and DCD; for a structure file, only checked for its atom count).
        frame_interval_ps: the time between frames when the file has no meaningful time stamps.

    Raises:
        GenmolError: one sentence naming the file: unreadable, no topology, atom counts that differ, a bad
            interval, or time stamps that contradict ``frame_interval_ps``.
    """
    from genmol.io.structures import read_trajectory

    path = Path(path)
    if frame_interval_ps is not None and not (math.isfinite(frame_interval_ps) and frame_interval_ps > 0):
        raise GenmolError(f"the frame interval must be a positive number of ps, got {frame_interval_ps}")
    if path.suffix.lower() in _MODEL_SUFFIXES:
        topology, positions = _read_models(path, top)
    else:
        topology, positions = read_trajectory(path, top)
    stamped = _times(path)
    from_times = None if stamped is None else interval_from_times(stamped)
    if from_times is not None and frame_interval_ps is not None \
            and abs(from_times - frame_interval_ps) > 1e-4 * frame_interval_ps:
        raise GenmolError(f"{path}: its time stamps say {from_times:g} ps between frames but the frame interval "
                          f"given is {frame_interval_ps:g} ps; drop the given interval or fix the file")
    if from_times is not None:
        interval, source = from_times, "time stamps"
    elif frame_interval_ps is not None:
        interval, source = float(frame_interval_ps), "given"
    else:
        interval, source = None, "unknown"
    return Trajectory(topology, positions, interval, str(path), source)


def embedded_reference(spec: str) -> Trajectory:
    """The embedded MD as a reference: ``"ala2:300"`` / ``"trpcage:320"`` (held-out tails) or ``"ala2:400"`` /
    ``"trpcage:400"`` (last 20 %, in the training data); see the module docstring. Case and a trailing ``K`` are
    ignored.

    Raises:
        GenmolError: an unknown name.
    """
    from genmol.data.mdcath import TrajectoryKey, embedded_md

    key = spec.strip().lower().rstrip("k")
    if key not in EMBEDDED_REFERENCES:
        raise GenmolError(f"unknown reference {spec!r}; use a trajectory file or one of "
                          f"{', '.join(EMBEDDED_REFERENCES)}")
    name, temperature = EMBEDDED_REFERENCES[key]
    data = embedded_md(name)
    (domain,) = data.view("all").domains()
    held_out = data.held_out_tail
    traj = TrajectoryKey(domain, temperature, 0)
    f = data.file(domain)
    n = f.num_frames(traj)
    if held_out.applies(traj):
        start, _ = data.view("tail").window(traj)
        note = f"held-out tail of the {temperature:g} K run (frames {start:,}–{n - 1:,}), never trained on"
    else:
        start = held_out.cut(n)
        note = (f"last {held_out.fraction:.0%} of the {temperature:g} K run (frames {start:,}–{n - 1:,}); this "
                "run has no held-out part, so these frames are in the jump models' training data")
    return Trajectory(data.topology(domain), f.frames(traj, start, n), data.frame_interval_ps(traj), key,
                      "embedded", note)


def split_halves(trajectories: Sequence) -> tuple[list, list]:
    """Every trajectory (a :class:`Trajectory` or an array of frames) cut at its middle frame (``F // 2``):
    ``(first halves, second halves)``. The two sets give the finite-sample noise floor of a metric (its value
    between the halves of the reference)."""
    first, second = [], []
    for t in trajectories:
        if isinstance(t, Trajectory):
            m = t.num_frames // 2
            first.append(t.slice(0, m, " (first half)"))
            second.append(t.slice(m, t.num_frames, " (second half)"))
        else:
            m = len(t) // 2
            first.append(t[:m])
            second.append(t[m:])
    return first, second
