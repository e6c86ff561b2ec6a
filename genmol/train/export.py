"""Self-describing model directories: ``config.json`` + ``params.npz`` + ``metadata.json``.

``export_model`` writes one from a training run (EMA weights by default); ``load_model(path)``
rebuilds the model from its config alone, so a shipped model needs no training code or data.
Parameter arrays are stored under their '/'-joined tree paths; loading checks every name and
shape against the freshly built model.
"""

from __future__ import annotations

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

INIT_FROM_FILE = "init_from.json"  # in a run directory: the export it started from and that export's metadata

__all__ = ["export_model", "load_model", "build_model", "read_params", "initial_params", "check_init_from",
           "prior_steps", "steps_before_run", "init_fresh", "INIT_FROM_FILE"]


def _flatten(params) -> dict[str, np.ndarray]:
    flat, _ = jax.tree_util.tree_flatten_with_path(params)
    return {"/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path): np.asarray(v) for path, v in flat}


def build_model(config, seed: int = 0) -> nnx.Module:
    """The model class registered for ``config.model_name``, built from ``config.model``."""
    from genmol.models import get_model_class

    return get_model_class(config.model_name)(config.model, rngs=nnx.Rngs(seed))


def export_model(config, params, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Writes a model directory from a resolved ``config`` and pure-dict ``params``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_config(config, path / "config.json")
    with atomic_open(path / "params.npz", "wb") as f:
        np.savez_compressed(f, **_flatten(params))
    meta = {"genmol_version": genmol.__version__, "model_name": config.model_name,
            "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(metadata or {})}
    atomic_write_text(path / "metadata.json", json.dumps(meta, indent=2) + "\n")
    return path


def _part(name: str) -> str:
    """The top-level model part a flattened parameter name belongs to (``focus_encoder/...`` -> ``focus_encoder``)."""
    return name.split("/", 1)[0]


def read_params(path: str | os.PathLike, like: dict, fresh: tuple[str, ...] = ()) -> dict:
    """The parameters stored in ``path/params.npz``, as a pure dict with the structure of ``like``.

    Parameters under the top-level submodules named in ``fresh`` are not read: they keep their
    values from ``like`` (and the file need not hold them, or may hold them in another shape).

    Raises:
        GenmolError: a parameter is missing, unexpected or of the wrong shape (the file does not
            hold weights of the model ``like`` describes).
    """
    path = Path(path)
    with np.load(path / "params.npz") as f:
        stored = {k: f[k] for k in f.files if _part(k) not in fresh}
    expected = {k: v for k, v in _flatten(like).items() if _part(k) not in fresh}
    if set(stored) != set(expected):
        missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
        raise GenmolError(f"{path}/params.npz does not match the model in config.json "
                          f"(missing {missing[:3]}, unexpected {extra[:3]})")
    for k, v in expected.items():
        if stored[k].shape != v.shape:
            raise GenmolError(f"{path}/params.npz: {k} has shape {stored[k].shape}, the model needs {v.shape}")
    leaves_paths, treedef = jax.tree_util.tree_flatten_with_path(like)
    names = ["/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in p) for p, _ in leaves_paths]
    return jax.tree_util.tree_unflatten(treedef, [v if _part(n) in fresh else stored[n]
                                                  for n, (_, v) in zip(names, leaves_paths)])


def _check_model_dir(path: Path) -> None:
    for name in ("config.json", "params.npz"):
        if not (path / name).is_file():
            raise GenmolError(f"{path} is not a genmol model directory (missing {name})")


def load_model(path: str | os.PathLike) -> tuple[nnx.Module, object, dict]:
    """``(model, config, metadata)`` from a directory written by :func:`export_model`."""
    path = Path(path)
    _check_model_dir(path)
    config = read_config_json(path / "config.json")
    model = build_model(config)
    graphdef, template, rest = nnx.split(model, nnx.Param, ...)
    nnx.replace_by_pure_dict(template, read_params(path, nnx.to_pure_dict(template)))
    meta_path = path / "metadata.json"
    metadata = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return nnx.merge(graphdef, template, rest), config, metadata


def _differences(stored: dict, current: dict, prefix: str = "") -> list[str]:
    """Dotted keys recorded in ``stored`` whose value differs in ``current``."""
    out = []
    for k, v in stored.items():
        if isinstance(v, dict) and isinstance(current.get(k), dict):
            out += _differences(v, current[k], f"{prefix}{k}.")
        elif k not in current or current[k] != v:
            out.append(f"{prefix}{k} ({v!r} there, {current.get(k)!r} here)")
    return out


def prior_steps(metadata: dict) -> int:
    """Optimizer steps behind an exported model: ``steps_total`` if recorded, else ``step`` (0 if neither)."""
    return int(metadata.get("steps_total", metadata.get("step") or 0))


def check_init_from(path: str | os.PathLike, config, like: dict | None = None) -> dict:
    """Checks that training ``config``'s model can start from the export at ``path``; its metadata.

    The exported model must be the same architecture: every field of the ``model`` recorded in
    ``path/config.json`` has to equal ``config.model``'s (fields an older export does not record
    are taken at their current defaults; data, loss, optimizer and schedule may differ), except the
    fields named in ``train.init_fresh``: those parts of the model start from a fresh
    initialisation (e.g. a larger focus head on a trained position head; the names are checked
    against the model's top-level parts, those of ``like`` — the model's parameter dict — if
    given). Reads only the two JSON files (and builds the model when ``init_fresh`` is set and
    ``like`` is not given), so the command line calls it before any training data is loaded.

    Raises:
        GenmolError: ``path`` is not a model directory, or its model differs from ``config.model``.
    """
    path = Path(path)
    _check_model_dir(path)
    stored = read_config_json(path / "config.json")
    if stored.get("model_name") != config.get("model_name"):
        raise GenmolError(f"train.init_from={path} holds a {stored.get('model_name')!r} model, "
                          f"not {config.get('model_name')!r}")
    fresh = init_fresh(config)
    if fresh:
        if like is None:
            like = nnx.to_pure_dict(nnx.state(build_model(config), nnx.Param))
        parts = {_part(k) for k in _flatten(like)}
        unknown = [f for f in fresh if f not in parts]
        if unknown:
            raise GenmolError(f"train.init_fresh={list(fresh)}: {unknown} names no part of the model "
                              f"(its parts: {sorted(parts)})")
    a, b = json.loads(stored.model.to_json()), json.loads(config.model.to_json())  # tuples read back as lists
    diff = _differences({k: v for k, v in a.items() if k not in fresh}, b)
    if diff:
        raise GenmolError(f"train.init_from={path}: its model differs from config.model in {', '.join(diff)}")
    meta_path = path / "metadata.json"
    return json.loads(meta_path.read_text()) if meta_path.is_file() else {}


def initial_params(path: str | os.PathLike, config, like: dict) -> tuple[dict, dict]:
    """Weights of the exported model at ``path`` to start training ``config``'s model from, and
    the export's metadata.

    Checks the architecture with :func:`check_init_from`, then every parameter's name and shape
    against ``like`` (the freshly initialised parameter dict; its entries in ``train.init_fresh``
    are kept).

    Raises:
        GenmolError: ``path`` is not a model directory, or its model differs from ``config.model``.
    """
    metadata = check_init_from(path, config, like)
    return read_params(path, like, init_fresh(config)), metadata


def init_fresh(config) -> tuple[str, ...]:
    """``train.init_fresh`` as a tuple of top-level model parts (config: a comma-separated string)."""
    value = config.train.get("init_fresh") if "train" in config else None
    if not value:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    return tuple(p.strip() for p in parts if p.strip())


def steps_before_run(workdir: str | os.PathLike, config) -> int:
    """Optimizer steps of the model a run in ``workdir`` started from (``train.init_from``); 0 if none.

    Read from the run's ``init_from.json``, written when the run started; a run older than that
    file falls back to the ``metadata.json`` now at ``train.init_from`` (right unless that
    directory has been re-exported since).
    """
    record = Path(workdir) / INIT_FROM_FILE
    if record.is_file():
        return prior_steps(json.loads(record.read_text())["metadata"])
    source = config.train.get("init_from") if "train" in config else None
    if not source or not (Path(source) / "metadata.json").is_file():
        return 0
    return prior_steps(json.loads((Path(source) / "metadata.json").read_text()))
