"""Sampling molecules from a trained Symphony model: seeds, batching, progress, output records."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from genmol.data.elements import atomic_number
from genmol.data.molecules.molecule import Molecule
from genmol.data.molecules.species import QM9_ELEMENTS, species_index
from genmol.errors import GenmolError
from genmol.models.symphony.model import SymphonyModel
from genmol.models.symphony.sampler import SamplerConfig, make_sampler
from genmol.models.symphony.settings import SamplingSettings

__all__ = ["MAX_ATOMS_LIMIT", "sampling_request_problem", "seed_fragment", "generate_molecules"]

#: Largest ``max_atoms`` the sampler accepts. Each growth step's memory grows with the square of
#: the slots (edges of the padded graph); QM9 molecules have at most 29 atoms.
MAX_ATOMS_LIMIT = 64


def sampling_request_problem(num: int, batch: int, max_atoms: int, seed: int = 0) -> tuple[str, str] | None:
    """What is wrong with a sampling request's sizes, as ``(parameter, "value: problem")`` (``None`` if nothing):
    ``num`` or ``batch`` below 1, ``max_atoms`` outside ``[2, MAX_ATOMS_LIMIT]``, or ``seed`` outside
    ``[0, 2**32)`` (JAX keys hold 32 bits: larger seeds would repeat smaller ones). The command line
    checks this before loading a model, naming its own flags."""
    if not 0 <= seed < 2**32:
        return "seed", f"{seed} is outside 0 … {2**32 - 1}"
    if num < 1:
        return "num", f"{num}: sample at least 1 molecule"
    if batch < 1:
        return "batch", f"{batch}: sample at least 1 molecule at a time"
    if not 2 <= max_atoms <= MAX_ATOMS_LIMIT:
        return "max_atoms", (f"{max_atoms} is outside 2 … {MAX_ATOMS_LIMIT} (the seed atom and at least one more; "
                             "the sampler's memory grows with the square of the slots)")
    return None


def seed_fragment(init: str = "H", fragment_path: str | None = None, max_atoms: int = 35,
                  elements=QM9_ELEMENTS) -> tuple[np.ndarray, np.ndarray]:
    """Seed atoms ``(positions [k, 3] Å, species [k])``: one atom of element ``init`` at the origin, or the
    first molecule of ``fragment_path`` (.xyz/.extxyz/.sdf) for completion.

    Raises:
        GenmolError: an unknown element, an empty or unreadable fragment, a fragment of ``max_atoms``
            atoms or more, or elements the model does not know.
    """
    if fragment_path is None:
        try:
            z = atomic_number(init)
        except KeyError:
            raise GenmolError(f"seed atom {init!r} is not an element symbol") from None
        return np.zeros((1, 3)), species_index(np.array([z]), elements)
    from genmol.io.molecules import read_molecules

    ms, _ = read_molecules(fragment_path)
    if len(ms) == 0 or ms.num_atoms[0] == 0:
        raise GenmolError(f"{fragment_path} holds no atoms to start from")
    mol = ms.molecule(0)
    if mol.num_atoms >= max_atoms:
        raise GenmolError(f"{fragment_path}: the fragment has {mol.num_atoms} atoms, not fewer than "
                          f"max_atoms {max_atoms}")
    try:
        sp = species_index(mol.atomic_numbers, elements)
    except GenmolError as e:
        raise GenmolError(f"{fragment_path}: {e}") from None
    return mol.positions - mol.positions.mean(0), sp


def generate_molecules(model: SymphonyModel, num: int, *, settings: SamplingSettings = SamplingSettings(),
                       seed: int = 0, max_atoms: int = 35, init: str = "H", fragment_path: str | None = None,
                       batch: int = 64, elements=QM9_ELEMENTS, progress: bool = True) -> tuple[list[Molecule], dict]:
    """Samples ``num`` molecules; deterministic for ``seed``: molecule ``i`` draws from
    ``fold_in(key(seed), i)``, so it does not depend on ``batch`` or ``num``.

    ``settings``: temperatures, refinement, grid and priors (see :mod:`genmol.models.symphony.sampler`).
    Molecules are grown ``batch`` at a time, so memory is bounded by ``batch`` and ``max_atoms``
    whatever ``num`` (about 1.7 GB peak for the shipped model at ``batch`` 10 on a CPU). The
    progress bar counts finished molecules and moves after every growth step.

    Returns:
        molecules (``info``: ``sample`` index, ``stopped`` — False if ``max_atoms`` was reached
        without STOP) and stats (``seconds``, ``molecules_per_s``, ``stopped_fraction``).
    """
    problem = sampling_request_problem(num, batch, max_atoms, seed)
    if problem:
        raise GenmolError(" ".join(problem))
    pos0, sp0 = seed_fragment(init, fragment_path, max_atoms, elements)
    k = len(sp0)
    sampler = make_sampler(model, SamplerConfig(max_atoms=max_atoms, settings=settings), elements)
    batch = min(batch, num)
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
            size = min(batch, num - chunk)

            def on_step(t, total, finished, start=bar.n):
                bar.set_postfix_str(f"growth step {t}/{total}", refresh=False)
                bar.update(start + min(finished, size) - bar.n)

            keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(chunk, chunk + batch))
            pos, sp, n, stopped = sampler(keys, init_pos, init_sp, k, on_step)
            for i in range(size):
                m = int(n[i])
                out.append(Molecule(z_of[sp[i, :m]], pos[i, :m].astype(np.float64),
                                    {"sample": chunk + i, "stopped": bool(stopped[i])}))
            bar.update(chunk + size - bar.n)
    dt = time.perf_counter() - t0
    stats = {"seconds": dt, "molecules_per_s": num / dt,
             "stopped_fraction": float(np.mean([m.info["stopped"] for m in out]))}
    return out, stats
