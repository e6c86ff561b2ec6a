"""Rollouts of a jump simulator: trajectories of ``N`` jumps of Δ ps from a structure, several walkers batched.

:func:`prepare_system` checks that a structure is something the model can move (one chain, known residue types,
every residue with its Cα) and :class:`Rollout` generates the frames in chunks::

    system = prepare_system(protein)
    rollout = Rollout(model, system, walkers=100, temperature_K=300, delta_ps=10, seed=0)
    for frames in rollout.chunks(num_jumps=200, chunk=50):   # frames [n, W, L, 14, 3] Å
        writer.append(frames)

A chunk of jumps is one ``lax.scan`` in one jitted call for all walkers (compiled once per system size, walker
count and chunk; the last chunk is computed whole and cut). Jump ``i`` (counted from 0 over the whole rollout)
uses the key ``fold_in(key(seed), i)``, so a rollout depends only on the seed, the walker count and the model, not
on the chunk size. Every frame is checked finite: a non-finite coordinate stops the rollout with a
:class:`GenmolError` naming the jump (never silent NaN).
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.losses.interpolants import check_churn
from genmol.models.jump.model import JumpModel

__all__ = ["System", "prepare_system", "Rollout"]


@dataclasses.dataclass(frozen=True)
class System:
    """What a rollout moves: ``aatype [L]`` int32, ``positions [L, 14, 3]`` float32 Å, ``atom_mask [L, 14]``;
    ``protein`` the topology (residue names, numbering, chain) the frames belong to."""

    protein: Protein
    aatype: np.ndarray
    positions: np.ndarray
    atom_mask: np.ndarray

    @property
    def num_residues(self) -> int:
        return int(self.aatype.shape[0])

    @property
    def num_atoms(self) -> int:
        return int(self.atom_mask.sum())


def prepare_system(protein: Protein, source: str = "the structure") -> System:
    """The arrays of a single-chain structure for :class:`Rollout`.

    Raises:
        GenmolError: (naming ``source``) more than one chain, a residue type the model does not know (``UNK``),
            a residue without its Cα (its atoms could not move), or no residues.
    """
    aatype = np.asarray(protein.aatype, np.int32)
    if aatype.size == 0:
        raise GenmolError(f"{source} holds no protein residues to simulate")
    chains = protein.chains()
    if len(chains) > 1:
        raise GenmolError(f"{source} holds {len(chains)} chains ({', '.join(map(str, chains))}); the jump simulator "
                          "moves one chain: pick one with --chain")
    unknown = np.flatnonzero(aatype == rc.UNK)
    if unknown.size:
        i = int(unknown[0])
        raise GenmolError(f"{source}: residue {protein.residue_index[i]} is not one the model knows (non-standard "
                          f"residue read as UNK; {unknown.size} such residue(s)); replace or remove it")
    mask = np.asarray(protein.atom_mask, bool)
    no_ca = np.flatnonzero(~mask[:, rc.CA_SLOT])
    if no_ca.size:
        i = int(no_ca[0])
        atom = "methyl C" if rc.IS_CAP[aatype[i]] else "CA"
        raise GenmolError(f"{source}: residue {protein.residue_index[i]} has no {atom} atom, which the model moves "
                          f"the residue by ({no_ca.size} such residue(s))")
    positions = np.where(mask[..., None], np.asarray(protein.positions, np.float32), 0.0).astype(np.float32)
    return System(protein, aatype, positions, mask)


def _rollout_chunk(model: JumpModel, key, start, x, aatype, atom_mask, residue_mask, temperature, delta,
                   num_jumps: int, num_steps: int, churn: float = 0.0):
    """``num_jumps`` jumps of every walker from ``x [W, L, 14, 3]``: frames ``[num_jumps, W, L, 14, 3]``."""

    def one(x, i):
        k = jax.random.fold_in(key, start + i)
        y = model.jump(k, aatype, x, atom_mask, residue_mask, temperature, delta, num_steps=num_steps, churn=churn)
        return y, y

    _, frames = jax.lax.scan(one, x, jnp.arange(num_jumps))
    return frames


_run_chunk = nnx.jit(_rollout_chunk, static_argnames=("num_jumps", "num_steps", "churn"))


class Rollout:
    """Walkers of one system moved by a :class:`JumpModel` (see the module docstring).

    Args:
        model: the trained jump simulator.
        system: from :func:`prepare_system`.
        walkers: independent trajectories, batched.
        temperature_K, delta_ps: the conditions of every jump.
        seed: the rollout's randomness.
        num_steps: integration steps per jump (default: the model's ``num_steps``).
        churn: the flow path's same-marginal SDE diffusion (:meth:`JumpModel.jump`; 0: the ODE).
    """

    def __init__(self, model: JumpModel, system: System, *, walkers: int, temperature_K: float, delta_ps: float,
                 seed: int = 0, num_steps: int | None = None, churn: float = 0.0):
        if walkers < 1:
            raise GenmolError(f"--walkers {walkers}: at least one walker")
        if not (np.isfinite(delta_ps) and delta_ps > 0):
            raise GenmolError(f"the jump must be a positive time in ps, got {delta_ps}")
        if not (np.isfinite(temperature_K) and temperature_K > 0):
            raise GenmolError(f"the temperature must be positive (K), got {temperature_K}")
        self.model, self.system, self.walkers = model, system, int(walkers)
        self.temperature_K, self.delta_ps = float(temperature_K), float(delta_ps)
        self.num_steps = int(num_steps or model.config.num_steps)
        if self.num_steps < 1:
            raise GenmolError(f"--steps {self.num_steps}: at least one integration step per jump")
        self.churn = float(churn)
        check_churn(self.churn, model.path, float(model.config.source_noise), name="--churn")
        self.key = jax.random.key(int(seed))
        w = self.walkers
        self._aatype = jnp.broadcast_to(jnp.asarray(system.aatype), (w, system.num_residues))
        self._mask = jnp.broadcast_to(jnp.asarray(system.atom_mask), (w,) + system.atom_mask.shape)
        self._residue_mask = self._mask[..., rc.CA_SLOT]
        self._temperature = jnp.full((w,), self.temperature_K, jnp.float32)
        self._delta = jnp.full((w,), self.delta_ps, jnp.float32)

    def initial(self) -> np.ndarray:
        """``[W, L, 14, 3]`` Å: every walker starts from the system's structure."""
        return np.broadcast_to(self.system.positions, (self.walkers,) + self.system.positions.shape).copy()

    def chunks(self, num_jumps: int, chunk: int = 100, start: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Frames after each jump, ``[n, W, L, 14, 3]`` float32 Å per chunk of ``n ≤ chunk`` jumps.

        Raises:
            GenmolError: a non-finite coordinate (the jump and walker are named).
        """
        if num_jumps < 1:
            raise GenmolError(f"--jumps {num_jumps}: at least one jump")
        chunk = max(1, min(int(chunk), int(num_jumps)))
        x = jnp.asarray(self.initial() if start is None else start)
        done = 0
        while done < num_jumps:
            frames = _run_chunk(self.model, self.key, done, x, self._aatype, self._mask, self._residue_mask,
                                self._temperature, self._delta, num_jumps=chunk, num_steps=self.num_steps,
                                churn=self.churn)
            x = frames[-1]
            n = min(chunk, num_jumps - done)
            out = np.asarray(frames[:n])
            bad = ~np.isfinite(out).all(axis=(2, 3, 4))
            if bad.any():
                j, w = np.argwhere(bad)[0]
                raise GenmolError(f"jump {done + int(j) + 1} of walker {int(w)} produced non-finite coordinates; "
                                  f"the {done + int(j)} frames before it are kept")
            done += n
            yield out
