"""Model directories and the registry of model families.

A **model directory** is what ``genmol export`` writes and every sampling command reads:
``config.json`` (the resolved training config), ``params.npz`` (one array per parameter, stored
under its '/'-joined tree path) and ``metadata.json`` (how it was trained, the elements its
species indices stand for, recorded sampling settings). :func:`load_model` rebuilds the model
from the config alone, so a shipped model needs neither training code nor data.

The **registry** :data:`FAMILIES` names, for each model family, its task (what ``genmol train
NAME`` trains), its model class, its shipped model and the command that uses it. This module
imports no training code: sampling depends on it, not on :mod:`genmol.train`.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

import genmol
from genmol.config import read_config_json, save_config
from genmol.errors import GenmolError
from genmol.io.atomic import atomic_open, atomic_write_text

__all__ = ["Family", "FAMILIES", "family", "task_class", "model_class", "build_model", "save_model",
           "load_model", "read_params", "read_metadata", "check_model_dir", "flatten_params", "param_part"]


def _resolve(target: str):
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


@dataclasses.dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
        name: ``genmol train NAME`` and the ``model_name`` of its configs.
        task: ``"module:Class"`` of its training task (:class:`genmol.train.task.Task`).
        model: ``"module:Class"`` of its nnx model, built as ``Class(config.model, rngs=...)``.
        description: one line for ``genmol train --help``.
        pretrained: the shipped model (``genmol/pretrained/<name>``) its command uses by default.
        command: the CLI command that samples from it, if any.
        settings: ``"module:Class"`` of its sampling settings (``from_record(dict)``, ``to_record()``),
            which ``genmol export --sampling`` records and the sampling command reads.
        derived: fields of ``config.model`` that the task fills in from the data when training starts (not
            architecture choices; a warm start does not compare them, the task derives them again).
        head_fields: fields of ``config.model`` that configure only the named top-level parts (a warm start
            does not compare a field whose parts all start fresh, ``train.init_fresh``).
    """

    name: str
    task: str
    model: str
    description: str
    pretrained: str | None = None
    command: str | None = None
    settings: str | None = None
    derived: tuple[str, ...] = ()
    head_fields: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def settings_class(self):
        """The sampling-settings class (``None`` if the family has none)."""
        return _resolve(self.settings) if self.settings else None


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("property", "genmol.models.property.task:PropertyTask", "genmol.models.property.model:PropertyModel",
           "QM9 property regression (E3SchNet/NequIP encoder + readout)"),
    Family("denoiser", "genmol.models.denoiser.task:DenoiserTask",
           "genmol.models.denoiser.model:PointCloudDenoiser",
           "rotation-augmented point-cloud denoiser (Kabsch / matrix-Fisher targets)"),
    Family("symphony", "genmol.models.symphony.task:SymphonyTask", "genmol.models.symphony.model:SymphonyModel",
           "Symphony-style autoregressive 3D molecule generator", pretrained="symphony_qm9",
           command="genmol sample molecules", settings="genmol.models.symphony.settings:SamplingSettings",
           head_fields={k: ("coeffs",) for k in ("position_lmax", "num_channels", "num_radii", "radius_min",
                                                 "radius_max", "res_beta", "res_alpha")}),
    Family("ophiuchus", "genmol.models.ophiuchus.task:AutoencoderTask",
           "genmol.models.ophiuchus.autoencoder:Autoencoder",
           "Ophiuchus-style all-atom protein coarse-graining autoencoder", pretrained="ophiuchus_proteins",
           command="genmol reconstruct protein"),
    Family("protein_diffusion", "genmol.models.ophiuchus.latent_task:LatentDiffusionTask",
           "genmol.models.ophiuchus.latent_diffusion:LatentDiffusion",
           "latent diffusion of new proteins in the autoencoder's latent space", pretrained=None,
           command="genmol sample proteins",
           derived=("latent_irreps", "residues_per_node", "feature_shift", "feature_scale", "autoencoder")),
    Family("jump", "genmol.models.jump.task:JumpTask", "genmol.models.jump.model:JumpModel",
           "EquiJump/DeepJump-style jump simulator of molecular dynamics", pretrained="jump_ala2",
           command="genmol simulate"),
)}


def family(name: str) -> Family:
    """The registered family ``name``.

    Raises:
        GenmolError: no family of that name.
    """
    if name not in FAMILIES:
        raise GenmolError(f"unknown model {name!r}; choose one of {', '.join(sorted(FAMILIES))}")
    return FAMILIES[name]


def task_class(name: str):
    """The task class of family ``name`` (built as ``cls(config)``)."""
    return _resolve(family(name).task)


def model_class(name: str):
    """The nnx model class of family ``name`` (built as ``cls(config.model, rngs=...)``)."""
    return _resolve(family(name).model)


def build_model(config, seed: int = 0) -> nnx.Module:
    """The model of ``config.model_name``, built from ``config.model`` with parameters from ``seed``."""
    return model_class(config.model_name)(config.model, rngs=nnx.Rngs(seed))


def _path_name(path) -> str:
    return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def flatten_params(params) -> dict[str, np.ndarray]:
    """``{'a/b/c': array}`` for a pure-dict parameter tree (the names ``params.npz`` uses)."""
    flat, _ = jax.tree_util.tree_flatten_with_path(params)
    return {_path_name(path): np.asarray(v) for path, v in flat}


def param_part(name: str) -> str:
    """The top-level model part of a flattened parameter name (``focus_encoder/...`` -> ``focus_encoder``)."""
    return name.split("/", 1)[0]


def check_model_dir(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`Path` if it is a model directory.

    Raises:
        GenmolError: ``config.json`` or ``params.npz`` is missing.
    """
    path = Path(path)
    if not path.is_dir():
        what = "it is a file" if path.exists() else "it does not exist"
        raise GenmolError(f"{path} is not a genmol model directory ({what}; 'genmol export' writes one)")
    for name in ("config.json", "params.npz"):
        if not (path / name).is_file():
            raise GenmolError(f"{path} is not a genmol model directory (missing {name})")
    return path


def read_metadata(path: str | os.PathLike) -> dict:
    """``path/metadata.json`` as a dict (``{}`` when the directory has none).

    Raises:
        GenmolError: the file is not valid JSON.
    """
    meta = Path(path) / "metadata.json"
    if not meta.is_file():
        return {}
    try:
        return json.loads(meta.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GenmolError(f"{meta} is not valid JSON ({e})") from None


def save_model(config, params, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Writes a model directory from a resolved ``config`` and pure-dict ``params``; each file atomically.

    ``metadata`` is stored with ``genmol_version``, ``model_name`` and the export time.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_config(config, path / "config.json")
    with atomic_open(path / "params.npz", "wb") as f:
        np.savez_compressed(f, **flatten_params(params))
    meta = {"genmol_version": genmol.__version__, "model_name": config.model_name,
            "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(metadata or {})}
    atomic_write_text(path / "metadata.json", json.dumps(meta, indent=2) + "\n")
    return path


def read_params(path: str | os.PathLike, like: dict, fresh: tuple[str, ...] = ()) -> dict:
    """The parameters stored in ``path/params.npz``, as a pure dict with the structure of ``like``.

    Parameters under the top-level parts named in ``fresh`` are not read: they keep their values
    from ``like`` (and the file need not hold them, or may hold them in another shape).

    Raises:
        GenmolError: a parameter is missing, unexpected or of the wrong shape (the file does not
            hold weights of the model ``like`` describes), or the file is unreadable.
    """
    path = Path(path)
    try:
        with np.load(path / "params.npz", allow_pickle=False) as f:
            stored = {k: f[k] for k in f.files if param_part(k) not in fresh}
    except (OSError, ValueError) as e:
        raise GenmolError(f"{path}/params.npz cannot be read ({e})") from None
    expected = {k: v for k, v in flatten_params(like).items() if param_part(k) not in fresh}
    if set(stored) != set(expected):
        missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
        raise GenmolError(f"{path}/params.npz does not match the model in config.json "
                          f"(missing {missing[:3]}, unexpected {extra[:3]})")
    for k, v in expected.items():
        if stored[k].shape != v.shape:
            raise GenmolError(f"{path}/params.npz: {k} has shape {stored[k].shape}, the model needs {v.shape}")
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    return jax.tree_util.tree_unflatten(
        treedef, [v if param_part(_path_name(p)) in fresh else stored[_path_name(p)] for p, v in leaves])


def load_model(path: str | os.PathLike, expect: str | None = None) -> tuple[nnx.Module, object, dict]:
    """``(model, config, metadata)`` from a directory written by :func:`save_model`.

    Args:
        path: the model directory.
        expect: the family the caller needs (e.g. ``"symphony"``); another family is an error.

    Raises:
        GenmolError: not a model directory, another family than ``expect``, or weights that do
            not match the config.
    """
    path = check_model_dir(path)
    config = read_config_json(path / "config.json")
    name = config.get("model_name")
    if name not in FAMILIES:
        raise GenmolError(f"{path}/config.json names no known model family ({name!r})")
    if expect is not None and name != expect:
        raise GenmolError(f"{path} holds a {name!r} model, not a {expect!r} model")
    metadata = read_metadata(path)
    model = build_model(config)
    graphdef, template, rest = nnx.split(model, nnx.Param, ...)
    nnx.replace_by_pure_dict(template, read_params(path, nnx.to_pure_dict(template)))
    return nnx.merge(graphdef, template, rest), config, metadata
