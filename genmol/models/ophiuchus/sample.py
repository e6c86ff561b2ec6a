"""Sampling new proteins: integrate the latent interpolant from noise, then decode all heavy atoms.

``sample_proteins(model, lengths, seed)`` draws one protein per requested length: ``ceil(L / r)`` latent nodes
(``r`` residues per node) from Gaussian noise, integrated with ``model.config.num_steps`` Euler (flow) or
Euler–Maruyama (stochastic) steps of :func:`genmol.losses.interpolants.integrate` (positions re-centred and
padding re-masked after every step), then decoded by the model's autoencoder for ``L`` residues; residue types
are the decoder's most likely ones. Chains of similar length share one jitted batch (lengths are padded to a
multiple of ``bucket`` residues). Proteins come back as :class:`~genmol.data.proteins.structure.Protein` records
(chain ``A``, residues numbered from 1), in the order of ``lengths``; the result depends only on ``seed`` and the
index of each request (per-protein keys ``fold_in(key(seed), i)``), not on the batching — for the flow path's
ODE; SDE noise (the stochastic path, or the flow path with ``churn > 0``: the same-marginal SDE around the
standard Gaussian source of :mod:`genmol.losses.interpolants`) is drawn per batch.
"""

from __future__ import annotations

from typing import Callable, Sequence

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.losses.interpolants import check_churn, integrate
from genmol.models.ophiuchus.latent_diffusion import LatentDiffusion, denormalise
from genmol.models.ophiuchus.autoencoder import Latent
from genmol.nn.sequence import coarse_length

__all__ = ["sample_proteins", "MAX_LENGTH"]

MAX_LENGTH = 1024
"""Residues: the longest chain sampled (the models were trained on 32–128)."""


def _centre(p: jax.Array, mask: jax.Array) -> jax.Array:
    c = jnp.sum(p * mask[..., None], -2) / jnp.maximum(jnp.sum(mask, -1), 1)[..., None]
    return jnp.where(mask[..., None], p - c[..., None, :], 0.0)


def _sample_batch(model: LatentDiffusion, keys: jax.Array, mask: jax.Array, residue_mask: jax.Array,
                  churn: float = 0.0):
    """``keys [B]``, latent ``mask [B, N]``, ``residue_mask [B, L]`` -> ``(aatype [B, L], positions [B, L, 14, 3])``."""
    c = model.config
    d = model.denoiser.latent_irreps.dim

    def draw(k, m):
        kf, kp, ks = jax.random.split(k, 3)
        f = jax.random.normal(kf, (m.shape[0], d)) * m[:, None]
        p = _centre(jax.random.normal(kp, (m.shape[0], 3)), m)
        return f, p, ks

    f0, p0, ks = jax.vmap(draw)(keys, mask)

    def predict(x, t):
        f, p = x
        tb = jnp.full((f.shape[0],), t)
        f1, p1, zf, zp = model.denoiser(f, p, mask, tb)
        z = None if zf is None else (zf, zp)
        return (f1, p1), z

    def project(x):
        f, p = x
        return f * mask[..., None], _centre(p, mask)

    f, p = integrate(predict, (f0, p0), int(c.num_steps), path=str(c.path), key=ks[0], project=project,
                     churn=churn, source_scale=1.0)
    feats = denormalise(f, e3nn.Irreps(c.latent_irreps), c.feature_shift, c.feature_scale) * mask[..., None]
    latent = Latent(feats, p * float(c.position_scale), mask)
    _, positions, aatype = model.autoencoder.decode(latent, residue_mask)
    return aatype, positions


_run = nnx.jit(_sample_batch, static_argnames="churn")


def sample_proteins(model: LatentDiffusion, lengths: Sequence[int], seed: int = 0, batch_size: int = 8,
                    bucket: int = 16, on_batch: Callable[[int], None] | None = None,
                    churn: float = 0.0) -> list[Protein]:
    """One sampled protein per entry of ``lengths`` (residues). See the module docstring.

    Raises:
        GenmolError: a length below 2 or above :data:`MAX_LENGTH`; ``churn`` below 0 or with the stochastic path.
    """
    check_churn(float(churn), str(model.config.path), 1.0, name="--churn")  # the source is standard Gaussian
    lengths = [int(n) for n in lengths]
    for n in lengths:
        if not 2 <= n <= MAX_LENGTH:
            raise GenmolError(f"cannot sample a protein of {n} residues: lengths must lie in 2..{MAX_LENGTH}")
    r = int(model.config.residues_per_node)
    base = jax.random.key(int(seed))
    out: list[Protein | None] = [None] * len(lengths)
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        longest = -(-max(lengths[i] for i in idx) // bucket) * bucket
        nodes = coarse_length(longest, r)
        rows = idx + [idx[-1]] * (batch_size - len(idx))
        res_mask = np.arange(longest)[None, :] < np.array([lengths[i] for i in rows])[:, None]
        lat_mask = np.arange(nodes)[None, :] < np.array([coarse_length(lengths[i], r) for i in rows])[:, None]
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.asarray(rows))
        aatype, positions = _run(model, keys, jnp.asarray(lat_mask), jnp.asarray(res_mask), churn=float(churn))
        aatype, positions = np.asarray(aatype), np.asarray(positions)
        for row, i in enumerate(idx):
            n = lengths[i]
            atom_mask = rc.ATOM_MASK[aatype[row, :n]]
            out[i] = Protein(aatype=aatype[row, :n], positions=positions[row, :n], atom_mask=atom_mask,
                             residue_index=np.arange(1, n + 1), insertion_code=np.full(n, ""),
                             chain_id=np.full(n, "A"), source=f"sample {i} (seed {seed})")
        if on_batch is not None:
            on_batch(len(idx))
    return out
