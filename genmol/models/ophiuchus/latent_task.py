"""Training task of the latent diffusion model: generate the autoencoder's latents of real chains.

Data: the training split of ``data.path`` (a :class:`~genmol.data.proteins.dataset.ProteinSet`), encoded once
by the autoencoder ``data.autoencoder`` (a model directory; ``"pretrained"`` = the shipped one): every chain of
``data.min_length … data.max_length`` residues whole, and ``data.windows_per_chain`` windows of a length drawn
uniformly from that range for every longer chain (deterministic, seed ``seed``). The decoder's config and
weights go into the diffusion model (:class:`~genmol.models.ophiuchus.latent_diffusion.LatentDiffusion`) and the
normalisation statistics of the latents into ``config.model`` before the run's config is saved.

Per example (all drawn in numpy from ``(seed, step, slot)``, so batches do not depend on sharding): a latent
chain ``x₁`` (features normalised, positions centred and divided by ``model.position_scale``), Gaussian noise
``x₀`` (positions centred), a time ``t`` and, for the stochastic path, the interpolant noise ``z``. Loss: mean
squared error of ``x̂₁`` (positions + ``loss.features`` × features) against the target ``x₁`` rotated into
``x_t``'s frame by ``model.target_alignment`` (:func:`genmol.losses.alignment.target_rotation`: ``none``,
``kabsch`` or the exact matrix-Fisher mean ``fisher``; the rotation also turns the ``1o`` feature channels),
weighted by ``1 / c_out(t)²`` with EDM preconditioning (the denoiser's unit-variance target), plus ``‖ẑ − z‖²``
for the stochastic path. ``position_mse`` and ``feature_mse`` are logged unweighted.
"""

from __future__ import annotations

import dataclasses

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx
from tqdm import tqdm

from genmol.data.proteins.batch import crop_window, pad_proteins, slot_rng
from genmol.data.proteins.dataset import ProteinSet
from genmol.errors import ConfigError, GenmolError
from genmol.losses.alignment import target_rotation
from genmol.losses.interpolants import alignment_scales, interpolate
from genmol.models.ophiuchus.latent_diffusion import LatentDiffusion, normalise
from genmol.nn.sequence import coarse_length

__all__ = ["LatentDiffusionTask", "LatentBatch", "latent_chains", "pretrained_autoencoder"]


def pretrained_autoencoder() -> str:
    """The shipped autoencoder's model directory."""
    from genmol.models.store import family
    from genmol.pretrained import pretrained_path

    return str(pretrained_path(family("ophiuchus").pretrained))


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class LatentBatch:
    """``B`` latent chains of at most ``N`` nodes (normalised units). ``features [B, N, D]``, ``positions
    [B, N, 3]``, ``mask [B, N]``, noise ``noise_features [B, N, D]``, ``noise_positions [B, N, 3]``, interpolant
    noise ``z_features``/``z_positions`` (zeros for flow matching), ``t [B]``, ``example_mask [B]``."""

    features: jax.Array
    positions: jax.Array
    mask: jax.Array
    noise_features: jax.Array
    noise_positions: jax.Array
    z_features: jax.Array
    z_positions: jax.Array
    t: jax.Array
    example_mask: jax.Array


def latent_chains(model, proteins, batch_size: int = 16, progress: bool = False):
    """Encodes chains with the autoencoder ``model``: ``features [M, N, D]``, ``positions [M, N, 3]`` Å (centred on
    each chain's present latent nodes), ``mask [M, N]``, ``lengths [M]`` residues; ``N`` from the longest chain."""
    longest = max(p.num_residues for p in proteins)
    r = model.residues_per_node
    length = coarse_length(longest, r) * r
    encode = nnx.jit(lambda m, b: m.encode(b.aatype, b.positions, b.atom_mask, b.residue_mask))
    feats, pos, masks = [], [], []
    for i in tqdm(range(0, len(proteins), batch_size), desc="encode", disable=not progress, leave=False):
        chunk = proteins[i:i + batch_size]
        batch = pad_proteins(chunk, length, batch_size)
        lat = encode(model, jax.tree.map(jnp.asarray, batch))
        feats.append(np.asarray(lat.features)[:len(chunk)])
        pos.append(np.asarray(lat.positions)[:len(chunk)])
        masks.append(np.asarray(lat.mask)[:len(chunk)])
    feats, pos, mask = np.concatenate(feats), np.concatenate(pos), np.concatenate(masks)
    centre = np.sum(pos * mask[..., None], 1) / np.maximum(mask.sum(1), 1)[:, None]
    pos = np.where(mask[..., None], pos - centre[:, None], 0.0)
    return feats, pos.astype(np.float32), mask, np.array([p.num_residues for p in proteins])


def _feature_stats(features: np.ndarray, mask: np.ndarray, irreps: e3nn.Irreps) -> tuple[list, list]:
    """Per channel: the mean of scalar channels (0 for the others) and the RMS after centring."""
    x = features[mask]  # [M, D]
    shift, scale, i = [], [], 0
    for mul, ir in irreps:
        block = x[:, i:i + mul * ir.dim].reshape(-1, mul, ir.dim)
        mean = block.mean(0)[:, 0] if ir.l == 0 else np.zeros(mul)
        rms = np.sqrt(np.mean((block - mean[None, :, None] * (ir.l == 0)) ** 2, axis=(0, 2)))
        shift += mean.tolist()
        scale += np.maximum(rms, 1e-3).tolist()
        i += mul * ir.dim
    return [round(float(v), 6) for v in shift], [round(float(v), 6) for v in scale]


class LatentDiffusionTask:
    """Implements :class:`genmol.train.task.Task` for :class:`LatentDiffusion` (see module docstring)."""

    def __init__(self, config: ml_collections.ConfigDict):
        from genmol.models.store import load_model

        self.config = config
        dc, mc = config.data, config.model
        path = pretrained_autoencoder() if dc.autoencoder == "pretrained" else str(dc.autoencoder)
        ae, ae_config, _ = load_model(path, expect="ophiuchus")
        self._ae_params = nnx.state(ae, nnx.Param)
        with config.unlocked():
            mc.autoencoder = ml_collections.ConfigDict(ae_config.model.to_dict())
            mc.latent_irreps = str(ae_config.model.latent_irreps)
            mc.residues_per_node = int(ae.residues_per_node)
        lo, hi = int(dc.min_length), int(dc.max_length)
        if not 1 <= lo <= hi:
            raise ConfigError(f"data.min_length {lo} and data.max_length {hi} must satisfy 1 <= min <= max")
        train = ProteinSet.load(dc.path).split("train").filter(min_length=lo)
        if len(train) == 0:
            raise GenmolError(f"{dc.path} has no training chains of at least {lo} residues")
        rng = np.random.default_rng([int(config.seed), 7])
        chains = []
        for p in train:
            if p.num_residues <= hi:
                chains.append(p)
                continue
            for _ in range(int(dc.windows_per_chain)):
                chains.append(crop_window(p, int(rng.integers(lo, hi + 1)), rng))
        self.features, self.positions, self.mask, self.lengths = latent_chains(ae, chains, progress=True)
        self.nodes = coarse_length(hi, ae.residues_per_node)
        pad = self.nodes - self.mask.shape[1]
        if pad > 0:
            self.features = np.pad(self.features, ((0, 0), (0, pad), (0, 0)))
            self.positions = np.pad(self.positions, ((0, 0), (0, pad), (0, 0)))
            self.mask = np.pad(self.mask, ((0, 0), (0, pad)))
        irreps = e3nn.Irreps(mc.latent_irreps)
        if not mc.feature_scale:
            shift, scale = _feature_stats(self.features, self.mask, irreps)
            mc.feature_shift, mc.feature_scale = tuple(shift), tuple(scale)
        self.features = np.asarray(normalise(jnp.asarray(self.features), irreps, mc.feature_shift,
                                             mc.feature_scale)) * self.mask[..., None]
        self.positions = self.positions / float(mc.position_scale)
        self.summary = (f"{len(chains)} latent chains ({len(train)} training proteins; {lo}-{hi} residues, "
                        f"{self.nodes} nodes max) encoded by {path}")

    def create_model(self, rngs: nnx.Rngs) -> LatentDiffusion:
        model = LatentDiffusion(self.config.model, rngs=rngs)
        nnx.update(model.autoencoder, self._ae_params)
        return model

    def _example(self, g: np.random.Generator, index: int):
        d = self.features.shape[-1]
        mask = self.mask[index]
        x0f = g.normal(size=(self.nodes, d)).astype(np.float32) * mask[:, None]
        x0p = g.normal(size=(self.nodes, 3)).astype(np.float32)
        x0p = np.where(mask[:, None], x0p - x0p[mask].mean(0), 0.0)
        zf = g.normal(size=(self.nodes, d)).astype(np.float32) * mask[:, None]
        zp = g.normal(size=(self.nodes, 3)).astype(np.float32)
        zp = np.where(mask[:, None], zp - zp[mask].mean(0), 0.0)
        if self.config.model.path == "flow":
            zf, zp = np.zeros_like(zf), np.zeros_like(zp)
        t = np.float32(g.uniform(1e-3, 1 - 1e-3))
        return self.features[index], self.positions[index], mask, x0f, x0p, zf, zp, t

    def _batch(self, examples: list, size: int) -> LatentBatch:
        n, d = self.nodes, self.features.shape[-1]
        empty = (np.zeros((n, d), np.float32), np.zeros((n, 3), np.float32), np.zeros(n, bool),
                 np.zeros((n, d), np.float32), np.zeros((n, 3), np.float32), np.zeros((n, d), np.float32),
                 np.zeros((n, 3), np.float32), np.float32(0.5))
        rows = list(examples) + [empty] * (size - len(examples))
        cols = [np.stack(c) for c in zip(*rows)]
        return LatentBatch(*cols, example_mask=np.arange(size) < len(examples))

    def train_batch(self, step: int, slots: range) -> LatentBatch:
        seed = int(self.config.seed)
        examples = []
        for j in slots:
            g = slot_rng(seed, step, j)
            examples.append(self._example(g, int(g.integers(len(self.mask)))))
        return self._batch(examples, len(slots))

    def eval_size(self) -> int:
        return 0

    def eval_batch(self, examples: range, size: int) -> LatentBatch:
        raise NotImplementedError("the latent diffusion task has no evaluation set (sample and evaluate instead)")

    def loss(self, model: LatentDiffusion, batch: LatentBatch, rng: jax.Array) -> dict[str, jax.Array]:
        mc = self.config.model
        path = str(mc.path)
        mask = batch.mask
        ft = interpolate(batch.noise_features, batch.features, batch.t, path, batch.z_features)
        pt = interpolate(batch.noise_positions, batch.positions, batch.t, path, batch.z_positions)
        f_hat, p_hat, zf_hat, zp_hat = model.denoiser(ft, pt, mask, batch.t)
        sigma, alpha = alignment_scales(batch.t, path)
        rot = target_rotation(batch.positions, pt, sigma, mask=mask, method=str(mc.target_alignment), alpha=alpha)
        rot = jax.lax.stop_gradient(rot)
        p1 = jnp.einsum("bij,bnj->bni", rot, batch.positions) * mask[..., None]
        f1 = _rotate_vectors(batch.features, e3nn.Irreps(mc.latent_irreps), rot)
        n = jnp.maximum(jnp.sum(mask, -1), 1)
        pos = jnp.sum(jnp.where(mask[..., None], (p_hat - p1) ** 2, 0.0), (-2, -1)) / n
        feat = jnp.sum(jnp.where(mask[..., None], (f_hat - f1) ** 2, 0.0), (-2, -1)) / n
        out = {"position_mse": pos, "feature_mse": feat}
        weight = 1.0 / model.denoiser.scalings(batch.t)[1] ** 2
        out["loss"] = weight * (pos + float(self.config.loss.features) * feat)
        if zf_hat is not None:
            z = jnp.sum(jnp.where(mask[..., None], (zf_hat - batch.z_features) ** 2, 0.0), (-2, -1)) / n
            z = z + jnp.sum(jnp.where(mask[..., None], (zp_hat - batch.z_positions) ** 2, 0.0), (-2, -1)) / n
            out["noise_mse"] = z
            out["loss"] = out["loss"] + float(self.config.loss.noise) * z
        return out


def _rotate_vectors(features: jax.Array, irreps: e3nn.Irreps, rot: jax.Array) -> jax.Array:
    """Applies ``rot [B, 3, 3]`` to the ``1o`` channels of ``features [B, N, D]`` (scalars unchanged)."""
    x = e3nn.IrrepsArray(irreps, features)
    chunks = []
    for (mul, ir), c in zip(x.irreps, x.chunks):
        if ir.l == 1:
            c = jnp.einsum("bij,bnuj->bnui", rot, c)
        elif ir.l > 1:
            raise ConfigError(f"latent irreps {irreps} hold l > 1; rotating them into the noisy frame is not "
                              "implemented (use target_alignment=none or l <= 1 latents)")
        chunks.append(c)
    return e3nn.from_chunks(x.irreps, chunks, x.shape[:-1], x.dtype).array

