"""Config files and command-line overrides.

A config is a Python file defining ``get_config() -> ml_collections.ConfigDict``
(``configs/<model>/<dataset>.py``). ``FILE.py:ARG`` passes the string ``ARG`` to ``get_config(ARG)``, as
ml_collections' ``config_flags`` do (a family of configs in one file, e.g. ``configs/ophiuchus/proteins.py:16``).
Overrides use dotted keys, ``train.steps=100``;
values are parsed as Python literals where possible (``1e-3``, ``(64, 64)``, ``True``)
and otherwise kept as strings. Unknown keys are errors, never silently added.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
from pathlib import Path

import ml_collections

from genmol.errors import ConfigError
from genmol.io.atomic import atomic_write_text

__all__ = ["TRAIN_DEFAULTS", "load_config", "apply_overrides", "save_config", "read_config_json"]


#: trainer options a config's ``train`` section gets when it does not set them (genmol.train.trainer)
TRAIN_DEFAULTS = {"ema_warmup": False}


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> ml_collections.ConfigDict:
    """Loads ``get_config()`` (or ``get_config(ARG)`` for ``FILE.py:ARG``) from a config file and applies
    ``overrides`` (``key=value``)."""
    arg = None
    text = str(path)
    if not Path(text).is_file() and ":" in text and text.rsplit(":", 1)[0].endswith(".py"):
        text, arg = text.rsplit(":", 1)
    path = Path(text)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"_genmol_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a broken config file is a user error
        raise ConfigError(f"config file {path} failed to load: {type(e).__name__}: {e}") from e
    if not hasattr(module, "get_config"):
        raise ConfigError(f"config file {path} defines no get_config()")
    if arg is None:
        config = module.get_config()
    else:
        if not inspect.signature(module.get_config).parameters:
            raise ConfigError(f"config file {path} takes no argument; drop ':{arg}'")
        try:
            config = module.get_config(arg)
        except ConfigError:
            raise
        except Exception as e:  # a bad argument is a user error
            raise ConfigError(f"config {path}:{arg}: {type(e).__name__}: {e}") from e
    train = config.get("train") if isinstance(config, ml_collections.ConfigDict) else None
    if isinstance(train, ml_collections.ConfigDict):  # trainer options added after most configs were written
        for key, value in TRAIN_DEFAULTS.items():
            if key not in train:
                train[key] = value
    return apply_overrides(config, overrides or [])


def parse_value(text: str):
    """A Python literal if ``text`` is one (``1e-3``, ``(64, 64)``, ``True``), else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> ml_collections.ConfigDict:
    """Applies ``a.b=value`` overrides; raises :class:`ConfigError` for unknown keys or bad values."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, text = item.split("=", 1)
        key = key.strip()
        parent = config
        parts = key.split(".")
        for i, p in enumerate(parts[:-1]):
            if not isinstance(parent, ml_collections.ConfigDict) or p not in parent:
                raise ConfigError(f"unknown config key {'.'.join(parts[:i + 1])!r} in override {item!r}")
            parent = parent[p]
        if not isinstance(parent, ml_collections.ConfigDict) or parts[-1] not in parent:
            raise ConfigError(f"unknown config key {key!r} in override {item!r}")
        value = parse_value(text)
        try:
            old = parent[parts[-1]]
            if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if isinstance(old, tuple) and isinstance(value, list):
                value = tuple(value)
            parent[parts[-1]] = value
        except (TypeError, ValueError) as e:
            raise ConfigError(f"bad value for {key!r}: {text!r} ({e})") from e
    return config


def save_config(config: ml_collections.ConfigDict, path: str | os.PathLike) -> None:
    """Writes the resolved config as JSON, atomically."""
    atomic_write_text(path, config.to_json(indent=2, sort_keys=True) + "\n")


def read_config_json(path: str | os.PathLike) -> ml_collections.ConfigDict:
    """Reads a config saved by :func:`save_config`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON: {e}") from e
    return ml_collections.ConfigDict(data)
