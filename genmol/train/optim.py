"""Optimizer and learning-rate schedule from config (``config.optim``).

Fields: ``name`` (``adam`` | ``adamw`` | ``muon``), ``learning_rate``, ``schedule``
(``constant`` | ``cosine`` | ``warmup_cosine``), ``warmup_steps``, ``weight_decay``,
``grad_clip`` (global norm, 0 disables), ``muon_rms``, ``frozen``. Muon (``optax.contrib.muon``)
orthogonalises the updates of 2-D weight matrices and falls back to Adam for every other
parameter; with ``muon_rms`` > 0 its updates are rescaled to that RMS (0.2: Adam's typical
update RMS, the Moonlight recipe), so the same ``learning_rate`` serves both parts.

``frozen``: parameters that are not trained, as dotted path prefixes of the model's parameter tree (e.g.
``"token,embed,enc_mix,down,to_latent"``: the autoencoder's encoder, so that a decoder fine-tune keeps every latent
valid). Their updates are zero and they do not count in the gradient clipping norm; a prefix that matches no
parameter is a :class:`ConfigError` naming the top-level names.
"""

from __future__ import annotations

import jax
import ml_collections
import optax

from genmol.errors import ConfigError

__all__ = ["create_schedule", "create_optimizer", "optim_config"]


def optim_config(**overrides) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict(dict(name="adam", learning_rate=1e-3, schedule="constant", warmup_steps=0,
                                       weight_decay=0.0, grad_clip=0.0, muon_rms=0.2, frozen=""))
    c.update(overrides)
    return c


def create_schedule(config: ml_collections.ConfigDict, total_steps: int) -> optax.Schedule:
    lr = float(config.learning_rate)
    if config.schedule == "constant":
        return optax.constant_schedule(lr)
    if config.schedule == "cosine":
        return optax.cosine_decay_schedule(lr, max(total_steps, 1))
    if config.schedule == "warmup_cosine":
        warmup = max(int(config.warmup_steps), 1)
        return optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(total_steps, warmup + 1))
    raise ConfigError(f"unknown schedule {config.schedule!r}; choose constant, cosine or warmup_cosine")


def create_optimizer(config: ml_collections.ConfigDict, total_steps: int) -> optax.GradientTransformation:
    schedule = create_schedule(config, total_steps)
    if config.name == "adam":
        tx = optax.adam(schedule)
    elif config.name == "adamw":
        tx = optax.adamw(schedule, weight_decay=float(config.weight_decay))
    elif config.name == "muon":
        rms = float(config.get("muon_rms", 0.0))
        tx = optax.contrib.muon(schedule, weight_decay=float(config.weight_decay),
                                consistent_rms=rms if rms > 0 else None)
    else:
        raise ConfigError(f"unknown optimizer {config.name!r}; choose adam, adamw or muon")
    if float(config.grad_clip) > 0:
        tx = optax.chain(optax.clip_by_global_norm(float(config.grad_clip)), tx)
    frozen = frozen_prefixes(config.get("frozen", ""))
    if frozen:
        tx = optax.multi_transform({"train": tx, "frozen": optax.set_to_zero()},
                                   lambda params: _freeze_labels(params, frozen))
    return tx


def frozen_prefixes(value) -> tuple[str, ...]:
    """``optim.frozen`` as a tuple of dotted prefixes (a comma-separated string or a sequence of strings)."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    return tuple(str(p).strip().strip(".") for p in items if str(p).strip())


def _path_name(path) -> str:
    return ".".join(str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path)


def _freeze_labels(params, frozen: tuple[str, ...]):
    """``"frozen"`` or ``"train"`` per leaf of ``params``; every prefix must match a parameter."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    names = [_path_name(path) for path, _ in leaves]

    def hit(name: str, prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    for prefix in frozen:
        if not any(hit(n, prefix) for n in names):
            tops = sorted({n.split(".")[0] for n in names})
            raise ConfigError(f"optim.frozen: {prefix!r} matches no parameter; the model's top-level parameters are "
                              f"{', '.join(tops)}")
    return jax.tree_util.tree_unflatten(treedef, ["frozen" if any(hit(n, p) for p in frozen) else "train"
                                                  for n in names])
