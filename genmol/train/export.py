"""Turning a training run into a model directory (``genmol export``).

:func:`load_run_model` rebuilds a run's model from its latest checkpoint (EMA weights by default)
without loading any data; :func:`export_run` writes it as a model directory
(:mod:`genmol.models.store`) with metadata: the run, its step, ``steps_total`` across warm starts,
the elements its species indices stand for, and the recorded sampling settings, validated by the
family's settings type so that a misspelled key fails at export, not silently at sampling time.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax.numpy as jnp
import ml_collections
from flax import nnx

from genmol.config import read_config_json
from genmol.errors import GenmolError
from genmol.models.store import build_model, family, save_model
from genmol.train.checkpoint import Checkpointer
from genmol.train.optim import create_optimizer
from genmol.train.trainer import merge_params
from genmol.train.warm_start import steps_before_run

__all__ = ["load_run_model", "export_run"]


def _restore(config: ml_collections.ConfigDict, workdir: str | os.PathLike, use_ema: bool):
    model = build_model(config, int(config.seed))
    graphdef, template, rest = nnx.split(model, nnx.Param, ...)
    params = nnx.to_pure_dict(template)
    tx = create_optimizer(config.optim, int(config.train.steps))
    state = dict(params=params, opt_state=tx.init(params), step=jnp.asarray(0, jnp.int32))
    ema_decay = float(config.train.get("ema_decay", 0.0))
    if ema_decay > 0:
        state["ema"] = params
    ckpt = Checkpointer(workdir, keep=int(config.train.keep_checkpoints), create=False)
    try:
        step = ckpt.latest_step()
        if step is None:
            raise GenmolError(f"{workdir} holds no checkpoint")
        state = ckpt.restore(state)
    finally:
        ckpt.close()
    chosen = state["ema"] if (use_ema and ema_decay > 0) else state["params"]
    return merge_params(graphdef, template, rest, chosen), int(step)


def load_run_model(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *, use_ema: bool = True):
    """The model of ``config`` with the latest checkpointed parameters of the run in ``workdir``
    (its EMA weights if ``use_ema`` and the run kept them). Needs no data.

    Raises:
        GenmolError: ``workdir`` holds no checkpoint.
    """
    return _restore(config, workdir, use_ema)[0]


def export_run(workdir: str | os.PathLike, out: str | os.PathLike, *, use_ema: bool = True,
               sampling: dict | None = None, decoder: str | os.PathLike | None = None) -> dict:
    """Writes the latest checkpoint of the run in ``workdir`` as a model directory ``out``.

    Args:
        workdir: a training run directory (``config.json`` and ``checkpoints/``).
        out: the model directory to write.
        use_ema: export the EMA weights when the run kept them.
        sampling: sampling settings to record (``metadata.json`` ``"sampling"``), checked by the
            family's settings type.
        decoder: for a latent diffusion run, an autoencoder directory whose decoder replaces the stored one
            (:func:`~genmol.models.ophiuchus.latent_diffusion.replace_decoder`; recorded as ``"decoder"``).

    Returns:
        the metadata written.

    Raises:
        GenmolError: no run or checkpoint in ``workdir``, an unknown or invalid sampling setting, or a
            decoder that cannot replace the run's.
    """
    workdir = Path(workdir)
    cfg = read_config_json(workdir / "config.json")
    fam = family(cfg.get("model_name"))
    settings = dict(sampling or {})
    if settings:
        if fam.settings is None:
            raise GenmolError(f"sampling settings given, but a {fam.name!r} model has no sampling settings")
        settings = fam.settings_class().from_record(settings).to_record()
    if decoder is not None and fam.name != "protein_diffusion":
        raise GenmolError(f"--decoder applies to latent diffusion runs, not to a {fam.name!r} run")
    model, step = _restore(cfg, workdir, use_ema)
    before = steps_before_run(workdir, cfg)
    meta = {"source_workdir": str(workdir), "step": step, "steps_total": step + before, "ema": use_ema,
            "sampling": settings}
    if decoder is not None:
        from genmol.models.ophiuchus.latent_diffusion import replace_decoder

        replace_decoder(model, cfg.model, decoder)
        meta["decoder"] = str(decoder)
    elements = cfg.get("data", {}).get("elements")
    if elements is not None:
        meta["elements"] = [int(z) for z in elements]
    if before:
        meta["init_from"] = cfg.train.init_from
    save_model(cfg, nnx.to_pure_dict(nnx.state(model, nnx.Param)), out, meta)
    return meta
