"""Model families. ``TASKS`` maps the name used by ``genmol train NAME`` to its task class."""

from __future__ import annotations

import importlib

__all__ = ["TASKS", "get_task"]

TASKS = {
    "property": "genmol.models.property.task:PropertyTask",
    "denoiser": "genmol.models.denoiser.task:DenoiserTask",
    "symphony": "genmol.models.symphony.task:SymphonyTask",
}


def get_task(name: str):
    """The task class registered as ``name``."""
    from genmol.errors import GenmolError

    if name not in TASKS:
        raise GenmolError(f"unknown model {name!r}; choose one of {sorted(TASKS)}")
    module, attr = TASKS[name].split(":")
    return getattr(importlib.import_module(module), attr)
