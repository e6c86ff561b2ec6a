"""Sampling molecules from a trained Symphony model: seeds, batching, progress, output records."""

from __future__ import annotations

import time

import jax
import numpy as np
from tqdm.auto import tqdm

from genmol.data.molecules.species import QM9_ELEMENTS, species_index
from genmol.errors import GenmolError
from genmol.data.elements import atomic_number
from genmol.data.molecules.molecule import Molecule
from genmol.models.symphony.model import SymphonyModel
from genmol.models.symphony.sampler import SamplerConfig, make_sampler

__all__ = ["seed_fragment", "sampling_settings", "parse_grid", "generate_molecules"]


def parse_grid(text: str) -> tuple[int, int]:
    """``"60x119"`` -> ``(60, 119)``: an S² grid of ``res_beta`` latitudes by ``res_alpha`` longitudes.

    Raises:
        GenmolError: not two positive integers joined by ``x``.
    """
    parts = str(text).lower().split("x")
    try:
        b, a = (int(p) for p in parts)
    except ValueError:
        raise GenmolError(f"grid {text!r} is not RES_BETAxRES_ALPHA, e.g. 60x119") from None
    if b < 2 or a < 2:
        raise GenmolError(f"grid {text!r}: both resolutions must be at least 2")
    return b, a


def sampling_settings(recorded: dict, *, focus_temperature: float | None = None,
                      position_temperature: float | None = None, refine: bool | None = None,
                      grid: str | None = None, min_distance: float | None = None,
                      even_electrons: bool | None = None, valence_guard: bool | None = None) -> dict:
    """Keyword arguments of :func:`generate_molecules` (``focus_beta, position_beta, refine, grid,
    min_distance, even_electrons, valence_guard``).

    Each setting given here wins; otherwise the one ``recorded`` with the model (its
    ``metadata.json`` ``"sampling"`` entry, see ``genmol export --sampling``); otherwise
    temperature 1, refinement on, the training grid (``grid=None``), no steric exclusion
    (``min_distance`` 0 Å), STOP at any electron count (``even_electrons`` False) and no valence
    guard.

    Raises:
        GenmolError: a temperature is not positive, the minimum distance is negative, or the grid
            is malformed.
    """
    ft = focus_temperature if focus_temperature is not None else recorded.get("focus_temperature", 1.0)
    pt = position_temperature if position_temperature is not None else recorded.get("position_temperature", 1.0)
    if ft <= 0 or pt <= 0:
        raise GenmolError("temperatures must be positive")
    refine = refine if refine is not None else bool(recorded.get("refine", True))
    grid = grid if grid is not None else recorded.get("grid")
    md = float(min_distance if min_distance is not None else recorded.get("min_distance", 0.0))
    if md < 0:
        raise GenmolError("the minimum distance must not be negative")
    even = bool(even_electrons if even_electrons is not None else recorded.get("even_electrons", False))
    return {"focus_beta": 1.0 / ft, "position_beta": 1.0 / pt, "refine": refine,
            "grid": parse_grid(grid) if grid is not None else None, "min_distance": md, "even_electrons": even,
            "valence_guard": bool(valence_guard if valence_guard is not None else recorded.get("valence_guard", False))}


def seed_fragment(init: str = "H", fragment_path: str | None = None, max_atoms: int = 35,
                  elements=QM9_ELEMENTS) -> tuple[np.ndarray, np.ndarray]:
    """Seed atoms ``(positions [k, 3] Å, species [k])``: one atom of element ``init`` at the origin, or the
    first molecule of ``fragment_path`` (.xyz/.extxyz/.sdf) for completion."""
    if fragment_path is None:
        try:
            z = atomic_number(init)
        except KeyError:
            raise GenmolError(f"--init {init!r} is not an element symbol") from None
        return np.zeros((1, 3)), species_index(np.array([z]), elements)
    from genmol.io.molecules import read_molecules

    ms, _ = read_molecules(fragment_path)
    if len(ms) == 0 or ms.num_atoms[0] == 0:
        raise GenmolError(f"{fragment_path} holds no atoms to start from")
    mol = ms.molecule(0)
    if mol.num_atoms >= max_atoms:
        raise GenmolError(f"{fragment_path}: the fragment has {mol.num_atoms} atoms, not fewer than "
                          f"--max-atoms {max_atoms}")
    try:
        sp = species_index(mol.atomic_numbers, elements)
    except GenmolError as e:
        raise GenmolError(f"{fragment_path}: {e}") from None
    return mol.positions - mol.positions.mean(0), sp


def generate_molecules(model: SymphonyModel, cutoff: float, num: int, *, seed: int = 0, max_atoms: int = 35,
                       init: str = "H", fragment_path: str | None = None, batch: int = 64,
                       focus_beta: float = 1.0, position_beta: float = 1.0, refine: bool = True,
                       grid: tuple[int, int] | None = None, min_distance: float = 0.0,
                       even_electrons: bool = False, valence_guard: bool = False, progress: bool = True,
                       elements=QM9_ELEMENTS) -> tuple[list[Molecule], dict]:
    """Samples ``num`` molecules; deterministic for ``seed`` (and ``batch``).

    ``grid = (res_beta, res_alpha)`` evaluates the position density on another S² grid than the
    training one (the density is band-limited to ``position_lmax``, so any grid resolves it;
    a finer one places atoms in finer directions). ``min_distance`` (Å), ``even_electrons`` and
    ``valence_guard``: see :mod:`genmol.models.symphony.sampler`.

    Returns:
        molecules (``info``: ``sample`` index, ``stopped`` — False if ``max_atoms`` was reached
        without STOP) and stats (``seconds``, ``molecules_per_s``, ``stopped_fraction``).
    """
    if num < 1:
        raise GenmolError("--num must be at least 1")
    pos0, sp0 = seed_fragment(init, fragment_path, max_atoms, elements)
    k = len(sp0)
    sampler = make_sampler(model, cutoff, SamplerConfig(max_atoms=max_atoms, focus_beta=focus_beta,
                                                        position_beta=position_beta, refine=refine,
                                                        res_beta=grid[0] if grid else None,
                                                        res_alpha=grid[1] if grid else None,
                                                        min_distance=min_distance,
                                                        even_electrons=even_electrons,
                                                        valence_guard=valence_guard), elements)
    batch = max(1, min(batch, num))
    init_pos = np.zeros((batch, max_atoms, 3), np.float32)
    init_pos[:, :k] = pos0
    init_sp = np.zeros((batch, max_atoms), np.int32)
    init_sp[:, :k] = sp0
    z_of = np.asarray(elements)
    out: list[Molecule] = []
    t0 = time.perf_counter()
    base = jax.random.key(seed)
    with tqdm(total=num, desc="sampling", unit="mol", disable=not progress) as bar:
        for chunk in range(0, num, batch):
            keys = jax.random.split(jax.random.fold_in(base, chunk // batch), batch)
            pos, sp, n, stopped = sampler(keys, init_pos, init_sp, k)
            for i in range(min(batch, num - chunk)):
                m = int(n[i])
                out.append(Molecule(z_of[sp[i, :m]], pos[i, :m].astype(np.float64),
                                    {"sample": chunk + i, "stopped": bool(stopped[i])}))
            bar.update(min(batch, num - chunk))
    dt = time.perf_counter() - t0
    stats = {"seconds": dt, "molecules_per_s": num / dt,
             "stopped_fraction": float(np.mean([m.info["stopped"] for m in out]))}
    return out, stats
