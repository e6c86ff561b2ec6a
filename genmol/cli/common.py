"""What every command module shares: the error console and how an error is printed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.markup import escape

from genmol.errors import GenmolError

__all__ = ["console", "print_error", "out_console", "ModelSource", "model_source", "load_model_source"]

console = Console(stderr=True, soft_wrap=True)  # never hard-wrap a message inside a sentence


def print_error(message: str) -> None:
    """``error: <message>`` on stderr; the message is printed literally (``genmol[qm9]`` stays intact)."""
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)


def out_console() -> Console:
    """A console on stdout for a command's results."""
    return Console(soft_wrap=True)


_NOUNS = {"ophiuchus": "protein autoencoder", "protein_diffusion": "protein diffusion model",
          "jump": "jump simulator"}


@dataclasses.dataclass
class ModelSource:
    """A model to load: a model directory (``genmol export``, a shipped model) or a training run directory."""

    path: Path
    run: bool  # a training run directory, not a model directory
    family: str


def model_source(checkpoint: Optional[Path], family: str) -> ModelSource:
    """The model to load for a command of ``family``, checked without loading it: ``checkpoint`` (a model or run
    directory) or, without one, the family's shipped model (a family that ships none is one sentence)."""
    from genmol.models.store import check_model_dir
    from genmol.models.store import family as family_of
    from genmol.pretrained import PRETRAINED, pretrained_path

    if checkpoint is None:
        fam = family_of(family)
        if fam.pretrained not in PRETRAINED:
            noun = _NOUNS.get(family, f"{family} model")
            raise GenmolError(f"genmol ships no trained {noun} yet; train one with 'genmol train "
                              f"{family}', export it and pass --checkpoint DIR")
        return ModelSource(pretrained_path(fam.pretrained), False, family)
    if (checkpoint / "config.json").is_file() and (checkpoint / "checkpoints").is_dir() \
            and not (checkpoint / "params.npz").is_file():
        return ModelSource(checkpoint, True, family)
    return ModelSource(check_model_dir(checkpoint), False, family)


def load_model_source(source: ModelSource):
    """The model of a :class:`ModelSource` (the EMA weights of a run's latest checkpoint for a run directory)."""
    from genmol.config import read_config_json
    from genmol.models.store import load_model

    with console.status(f"loading the model in {source.path}", spinner="dots"):
        if not source.run:
            return load_model(source.path, expect=source.family)[0]
        from genmol.train.export import load_run_model

        cfg = read_config_json(source.path / "config.json")
        if cfg.get("model_name") != source.family:
            raise GenmolError(f"{source.path} is a run of a {cfg.get('model_name')!r} model, not a "
                              f"{source.family!r} model")
        return load_run_model(cfg, source.path)
