"""Model families. ``TASKS`` maps the name used by ``genmol train NAME`` to its task class."""

from __future__ import annotations

import importlib

__all__ = ["TASKS", "MODELS", "get_task", "get_model_class"]

TASKS = {
    "property": "genmol.models.property.task:PropertyTask",
    "denoiser": "genmol.models.denoiser.task:DenoiserTask",
    "symphony": "genmol.models.symphony.task:SymphonyTask",
}

MODELS = {
    "property": "genmol.models.property.model:PropertyModel",
    "denoiser": "genmol.models.denoiser.model:PointCloudDenoiser",
    "symphony": "genmol.models.symphony.model:SymphonyModel",
}


def _resolve(table: dict, name: str, what: str):
    from genmol.errors import GenmolError

    if name not in table:
        raise GenmolError(f"unknown {what} {name!r}; choose one of {sorted(table)}")
    module, attr = table[name].split(":")
    return getattr(importlib.import_module(module), attr)


def get_model_class(name: str):
    """The nnx model class registered as ``name`` (built as ``cls(config.model, rngs=...)``)."""
    return _resolve(MODELS, name, "model")


def get_task(name: str):
    """The task class registered as ``name``."""
    return _resolve(TASKS, name, "model")
