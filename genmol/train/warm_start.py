"""Warm starts: training a model from the weights of an exported one (``train.init_from``).

The exported model must be the same architecture, except for the top-level parts named in
``train.init_fresh``, which start from a fresh initialisation (and may differ in config). A run
records the export it started from in ``init_from.json`` so that ``genmol export`` can count the
steps behind the model (``steps_total``) even after that export is gone or re-exported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flax import nnx

from genmol.config import read_config_json
from genmol.errors import GenmolError
from genmol.models.store import (
    build_model, check_model_dir, family, flatten_params, param_part, read_metadata, read_params,
)

__all__ = ["INIT_FROM_FILE", "init_fresh", "check_init_from", "initial_params", "prior_steps", "steps_before_run"]

INIT_FROM_FILE = "init_from.json"  # in a run directory: the export it started from and that export's metadata


def init_fresh(config) -> tuple[str, ...]:
    """``train.init_fresh`` as a tuple of top-level model parts (config: a comma-separated string)."""
    value = config.train.get("init_fresh") if "train" in config else None
    if not value:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    return tuple(p.strip() for p in parts if p.strip())


def _differences(stored: dict, current: dict, prefix: str = "") -> list[str]:
    """Dotted keys recorded in ``stored`` whose value differs in ``current``."""
    out = []
    for k, v in stored.items():
        if isinstance(v, dict) and isinstance(current.get(k), dict):
            out += _differences(v, current[k], f"{prefix}{k}.")
        elif k not in current or current[k] != v:
            out.append(f"{prefix}{k} ({v!r} there, {current.get(k)!r} here)")
    return out


def check_init_from(path: str | os.PathLike, config, like: dict | None = None) -> dict:
    """Checks that training ``config``'s model can start from the export at ``path``; its metadata.

    Every field of the ``model`` recorded in ``path/config.json`` has to equal ``config.model``'s
    (fields an older export does not record are taken at their current defaults; data, loss,
    optimizer and schedule may differ; the family's ``derived`` fields, filled in from the data, are
    not compared), except the parts named in ``train.init_fresh`` (and the fields that configure only those
    parts, the family's ``head_fields``), which are
    checked against the model's top-level parts (those of ``like``, the model's parameter dict, or
    of a freshly built model). Reads only the two JSON files otherwise, so the command line calls
    it before any training data is loaded.

    Raises:
        GenmolError: ``path`` is not a model directory, or its model differs from ``config.model``.
    """
    path = check_model_dir(path)
    stored = read_config_json(path / "config.json")
    if stored.get("model_name") != config.get("model_name"):
        raise GenmolError(f"train.init_from={path} holds a {stored.get('model_name')!r} model, "
                          f"not {config.get('model_name')!r}")
    fresh = init_fresh(config)
    if fresh:
        if like is None:
            like = nnx.to_pure_dict(nnx.state(build_model(config), nnx.Param))
        parts = {param_part(k) for k in flatten_params(like)}
        unknown = [f for f in fresh if f not in parts]
        if unknown:
            raise GenmolError(f"train.init_fresh={list(fresh)}: {unknown} names no part of the model "
                              f"(its parts: {sorted(parts)})")
    a, b = json.loads(stored.model.to_json()), json.loads(config.model.to_json())  # tuples read back as lists
    fam = family(config.get("model_name"))
    free = set(fresh) | set(fam.derived) | {k for k, parts in fam.head_fields.items() if set(parts) <= set(fresh)}
    diff = _differences({k: v for k, v in a.items() if k not in free}, b)
    if diff:
        raise GenmolError(f"train.init_from={path}: its model differs from config.model in {', '.join(diff)}")
    return read_metadata(path)


def initial_params(path: str | os.PathLike, config, like: dict) -> tuple[dict, dict]:
    """Weights of the export at ``path`` to start training ``config``'s model from, and its metadata.

    Checks the architecture with :func:`check_init_from`, then every parameter's name and shape
    against ``like`` (the freshly initialised parameter dict; its parts in ``train.init_fresh``
    are kept).

    Raises:
        GenmolError: ``path`` is not a model directory, or its model differs from ``config.model``.
    """
    metadata = check_init_from(path, config, like)
    return read_params(path, like, init_fresh(config)), metadata


def prior_steps(metadata: dict) -> int:
    """Optimizer steps behind an exported model: ``steps_total`` if recorded, else ``step`` (0 if neither)."""
    return int(metadata.get("steps_total", metadata.get("step") or 0))


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
    if not source or not Path(source).is_dir():
        return 0
    return prior_steps(read_metadata(source))
