"""Training task of the jump simulator: pairs of MD frames Δ apart, the later one generated from the earlier.

Data (``data.path``): an embedded MD with its held-out tail — ``"embedded"`` or ``"embedded:ala2"``, alanine
dipeptide (``data/md/ala2_mdcath.h5``, the last 20 % of the 300 K run held out,
:data:`~genmol.data.mdcath.ALA2_HELD_OUT`); ``"embedded:trpcage"``, Trp-cage (``data/md/trpcage_mdcath.h5``, the
last 20 % of the 320 K run held out, :data:`~genmol.data.mdcath.TRPCAGE_HELD_OUT`) — or mdCATH-layout files/directories
(:class:`~genmol.data.mdcath.MdcathSet`; ``data.frame_interval_ps`` for files without a ``timestep_ps``
attribute, 1000 for published mdCATH; ``data.valid_fraction`` of the domains held out). A training example is
:meth:`MdcathSet.sample_pair` drawn from ``slot_rng(seed, step, slot)``: Δ uniformly from ``data.jumps_ps``, a
domain, trajectory and start frame uniformly, a crop of ``data.crop`` residues; the target frame superimposed on
the source (``data.target_alignment``: kabsch | fisher | none; :func:`align_pairs`, batched inside the jitted loss),
both centred on the source's Cα mean. The interpolant's time and noise are drawn with the same generator, so batches
are pure functions of ``(step, slot)``.

Loss per example (weights ``loss.*``), on ``x̂₁`` against the target after flip relabelling::

    vector_map · VectorMap(max_radius Å) + position · Huber(|x̂₁ − x₁|) [+ noise · |ẑ − z|² (stochastic path)]
    + [t ≥ aux_min_t] · (bond · bond-length error² + angle · bond-angle error²)   (ideal geometry, Engh & Huber/CCD)

The geometry terms act only late on the path, where ``x̂₁`` is a sharp structure rather than an average of
several (an average of two conformations has no reason to have ideal bonds).

Evaluation: the same pairs from the held-out part (the valid domains, else the held-out tail), one fixed draw per
example. Logged besides: ``rmsd`` (Å, all atoms, of ``x̂₁``; no superposition needed: the target is in the
source's frame).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from genmol.data.mdcath import EMBEDDED_MD, MdcathSet, Pair, embedded_md
from genmol.data.proteins import residues as rc
from genmol.data.proteins.batch import slot_rng
from genmol.errors import ConfigError, GenmolError
from genmol.losses import structure as sl
from genmol.losses.alignment import denoising_target
from genmol.losses.interpolants import interpolate
from genmol.models.jump.model import JumpModel, centred_noise_np

__all__ = ["JumpBatch", "JumpTask", "jump_loss", "open_data"]

ALIGNMENTS = ("kabsch", "fisher", "none")
EVAL_STREAM = 2**32 - 1
"""The evaluation pairs' generator is ``default_rng([seed, EVAL_STREAM, i])`` (never a training step)."""


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class JumpBatch:
    """``B`` pairs of at most ``L`` residues (numpy arrays from :meth:`JumpTask.train_batch`).

    Attributes:
        aatype ``[B, L]`` int32; source, target ``[B, L, 14, 3]`` float32 Å (as stored, both centred on the
        source's Cα mean, 0 in empty slots; the loss superimposes the target on the source, :func:`align_pairs`);
        atom_mask ``[B, L, 14]``; residue_mask ``[B, L]``; residue_index ``[B, L]`` int32 author numbers (-1 in
        padding); temperature ``[B]`` K; delta ``[B]`` ps; noise
        ``[B, L, 14, 3]`` (centred standard Gaussian on present atoms); t ``[B]`` interpolant time;
        example_mask ``[B]``.
    """

    aatype: jax.Array
    source: jax.Array
    target: jax.Array
    atom_mask: jax.Array
    residue_mask: jax.Array
    residue_index: jax.Array
    temperature: jax.Array
    delta: jax.Array
    noise: jax.Array
    t: jax.Array
    example_mask: jax.Array


def open_data(dc: ml_collections.ConfigDict) -> MdcathSet:
    """The :class:`MdcathSet` of a data config (``path``, ``valid_fraction``, ``frame_interval_ps``, ``seed``).

    ``path``: ``"embedded"`` or ``"embedded:ala2"`` (alanine dipeptide), ``"embedded:trpcage"`` (Trp-cage), each
    with its held-out tail (:data:`~genmol.data.mdcath.EMBEDDED_MD`), or mdCATH-layout files or a directory.

    Raises:
        ConfigError: an empty path or an unknown ``"embedded:NAME"`` (the choices are named).
    """
    path = str(dc.path)
    if not path:
        raise ConfigError("data.path is empty: give the mdCATH files or directory (--set data.path=DIR)")
    if path == "embedded" or path.startswith("embedded:"):
        name = path.partition(":")[2] or "ala2"
        if name not in EMBEDDED_MD:
            raise ConfigError(f"unknown embedded MD in data.path={path!r}; choose one of "
                              f"{', '.join('embedded:' + n for n in EMBEDDED_MD)} (plain 'embedded' is "
                              "embedded:ala2) or give mdCATH files")
        return embedded_md(name)
    interval = dc.get("frame_interval_ps")
    return MdcathSet(str(dc.path), valid_fraction=float(dc.get("valid_fraction", 0.0)),
                     seed=int(dc.get("split_seed", 0)), frame_interval_ps=float(interval) if interval else None,
                     cache_dir=dc.get("cache_dir") or None)


def _example(pair: Pair, g: np.random.Generator, length: int):
    mask = pair.atom_mask
    target = pair.target
    ca = mask[:, rc.CA_SLOT]
    centre = pair.source[ca, rc.CA_SLOT].mean(0) if ca.any() else np.zeros(3, np.float32)
    r = len(pair.aatype)
    pad = lambda x, fill=0: np.concatenate([x, np.full((length - r,) + x.shape[1:], fill, x.dtype)])  # noqa: E731
    source = np.where(mask[..., None], pair.source - centre, 0.0).astype(np.float32)
    target = np.where(mask[..., None], target - centre, 0.0).astype(np.float32)
    noise = centred_noise_np(g, pad(mask))
    t = np.float32(g.uniform(1e-3, 1 - 1e-3))
    return (pad(pair.aatype.astype(np.int32)), pad(source), pad(target), pad(mask), pad(ca),
            pad(pair.residue_index.astype(np.int32), -1), np.float32(pair.temperature_K), np.float32(pair.delta_ps),
            noise, t)


def _stack(examples: list, size: int, length: int) -> JumpBatch:
    empty = (np.zeros(length, np.int32), np.zeros((length, rc.NUM_SLOTS, 3), np.float32),
             np.zeros((length, rc.NUM_SLOTS, 3), np.float32), np.zeros((length, rc.NUM_SLOTS), bool),
             np.zeros(length, bool), np.full(length, -1, np.int32), np.float32(300.0), np.float32(1.0),
             np.zeros((length, rc.NUM_SLOTS, 3), np.float32), np.float32(0.5))
    rows = list(examples) + [empty] * (size - len(examples))
    cols = [np.stack(c) for c in zip(*rows)]
    return JumpBatch(*cols, example_mask=np.arange(size) < len(examples))


def align_pairs(source: jax.Array, target: jax.Array, mask: jax.Array, method: str) -> jax.Array:
    """``target [B, L, 14, 3]`` superimposed on ``source`` over the present atoms (``mask [B, L, 14]``), batched
    and jittable, as :func:`genmol.data.mdcath.align_target` does for one pair: ``"kabsch"``, ``"fisher"`` (the
    matrix-Fisher posterior mean with σ = Kabsch RMSD/√3 per coordinate) or ``"none"`` (centroids matched)."""
    b = source.shape[0]
    x0, y, m = target.reshape(b, -1, 3), source.reshape(b, -1, 3), mask.reshape(b, -1)
    sigma = jnp.zeros(b, source.dtype)
    if method == "fisher":
        k = denoising_target(x0, y, 0.0, mask=m, method="kabsch")
        sq = jnp.sum(jnp.where(m[..., None], (k - y) ** 2, 0.0), axis=(-2, -1))
        sigma = jnp.sqrt(sq / jnp.maximum(jnp.sum(m, -1), 1) / 3.0)
    out = denoising_target(x0, y, sigma, mask=m, method=method)
    return jax.lax.stop_gradient(out.reshape(target.shape))


def jump_loss(model: JumpModel, batch: JumpBatch, weights: ml_collections.ConfigDict,
              alignment: str = "kabsch") -> dict[str, jax.Array]:
    """Per-example loss terms ``[B]`` of one interpolant time per pair (see module docstring)."""
    mask = batch.atom_mask & batch.residue_mask[..., None]
    batch = dataclasses.replace(batch, target=align_pairs(batch.source, batch.target, mask, alignment))
    path = model.path
    if path == "flow":
        x0 = batch.source + float(model.config.source_noise) * batch.noise
        xt = interpolate(x0, batch.target, batch.t, path)
    else:
        xt = interpolate(batch.source, batch.target, batch.t, path, batch.noise)
    xt = jnp.where(mask[..., None], xt, 0.0)
    x1, z = model(batch.aatype, batch.source, xt, batch.atom_mask, batch.residue_mask, batch.temperature,
                  batch.delta, batch.t)
    target, tmask = sl.flip_relabel(x1, batch.target, batch.aatype, mask)
    out = {"vector_map": sl.vector_map_loss(x1, target, tmask, max_radius=float(weights.get("max_radius", 32.0))),
           "position": sl.position_loss(x1, target, tmask)}
    out["loss"] = float(weights.vector_map) * out["vector_map"] + float(weights.position) * out["position"]
    gate = (batch.t >= float(weights.get("aux_min_t", 0.5))).astype(x1.dtype)
    for name, fn in (("bond", sl.bond_length_loss), ("angle", sl.bond_angle_loss)):
        if float(weights.get(name, 0.0)):
            out[name] = fn(x1, batch.aatype, tmask, batch.residue_mask, batch.residue_index)
            out["loss"] = out["loss"] + float(weights[name]) * gate * out[name]
    if z is not None:
        n = jnp.maximum(jnp.sum(mask, axis=(-2, -1)), 1)
        out["noise_mse"] = jnp.sum(jnp.where(mask[..., None], (z - batch.noise) ** 2, 0.0), axis=(-3, -2, -1)) / n
        out["loss"] = out["loss"] + float(weights.noise) * out["noise_mse"]
    se, n = sl.squared_error(x1, target, tmask)
    out["rmsd"] = jnp.sqrt(se / jnp.maximum(n, 1))
    return out


class JumpTask:
    """Implements :class:`genmol.train.task.Task` for :class:`~genmol.models.jump.model.JumpModel`."""

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        dc = config.data
        if str(dc.target_alignment) not in ALIGNMENTS:
            raise ConfigError(f"unknown data.target_alignment {dc.target_alignment!r}; choose one of {ALIGNMENTS}")
        self.jumps = tuple(float(j) for j in dc.jumps_ps)
        if not self.jumps:
            raise ConfigError("data.jumps_ps is empty: give the jump sizes to train on (ps)")
        self.data = open_data(dc)
        self.train = self.data.view("train")
        held = "valid" if self.data.domain_split.get("valid") else ("tail" if self.data.held_out_tail else None)
        self.held = self.data.view(held) if held else None
        self.length = int(dc.crop)
        for j in self.jumps:  # fail now, not at step 1: every jump must be a whole number of frames with pairs
            if self.train.num_pairs(j) == 0:
                raise GenmolError(f"no training pair {j:g} ps apart in {dc.path}")
        temps = sorted({k.temperature_K for k in self.train.trajectories()})
        config.model.temperatures = tuple(temps)
        config.model.jumps_ps = self.jumps
        unknown = set(config.loss) - {"vector_map", "position", "noise", "max_radius", "bond", "angle", "aux_min_t"}
        if unknown:
            raise ConfigError(f"unknown loss terms {sorted(unknown)} in config.loss")

    def summary(self) -> str:
        return str(self.data.summary())

    def create_model(self, rngs: nnx.Rngs) -> JumpModel:
        return JumpModel(self.config.model, rngs=rngs)

    def _draw(self, data: MdcathSet, g: np.random.Generator):
        pair = data.sample_pair(g, self.jumps, crop=self.length)
        return _example(pair, g, self.length)

    def train_batch(self, step: int, slots: range) -> JumpBatch:
        seed = int(self.config.seed)
        return _stack([self._draw(self.train, slot_rng(seed, step, j)) for j in slots], len(slots), self.length)

    def eval_size(self) -> int:
        return int(self.config.data.eval_examples) if self.held is not None else 0

    def eval_batch(self, examples: range, size: int) -> JumpBatch:
        seed = int(self.config.seed)
        rows = [self._draw(self.held, np.random.default_rng([seed, EVAL_STREAM, i])) for i in examples]
        return _stack(rows, size, self.length)

    def loss(self, model: JumpModel, batch: JumpBatch, rng: jax.Array) -> dict[str, jax.Array]:
        return jump_loss(model, batch, self.config.loss, str(self.config.data.target_alignment))
