"""``genmol train``, ``genmol export`` and ``genmol plot``: training runs and their products."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from genmol.cli.common import console
from genmol.errors import GenmolError
from genmol.models.store import FAMILIES

__all__ = ["train", "export", "plot"]

_MODELS = "; ".join(f"{name}: {f.description}" for name, f in FAMILIES.items())


def train(
    model: str = typer.Argument(..., help=f"Model family to train ({_MODELS})."),
    config: Path = typer.Option(..., "--config", "-c",
                                help="Config file (configs/<model>/<dataset>.py), or FILE.py:ARG for get_config(ARG)."),
    workdir: Path = typer.Option(..., "--workdir", "-w", help="Run directory for checkpoints and metrics."),
    set_: List[str] = typer.Option([], "--set", help="Config override key=value (repeatable)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint in --workdir."),
    devices: Optional[int] = typer.Option(None, "--devices", help="Devices in the data-parallel mesh (default all)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
    init_from: Optional[Path] = typer.Option(None, "--init-from",
                                             help="Start from the weights of an exported model (same architecture)."),
    init_fresh: Optional[str] = typer.Option(
        None, "--init-fresh", help="With --init-from: comma-separated model parts that start from a fresh "
        "initialisation instead (their config may differ), e.g. focus_encoder,focus_hidden,focus_out."),
):
    """Train a model: genmol train property --config configs/property/qm9.py --workdir runs/gap"""
    from genmol.config import load_config
    from genmol.models.store import task_class
    from genmol.train.sharding import maybe_initialize_distributed
    from genmol.train.trainer import train_and_evaluate
    from genmol.train.warm_start import check_init_from

    task_cls = task_class(model)
    cfg = load_config(config, set_)
    if cfg.get("model_name", model) != model:
        raise GenmolError(f"config {config} is for model {cfg.model_name!r}, not {model!r}")
    if init_from is not None:
        cfg.train.init_from = str(init_from)  # recorded in the run's config.json
    if init_fresh is not None:
        if not cfg.train.get("init_from"):
            raise GenmolError("--init-fresh only applies with --init-from")
        cfg.train.init_fresh = init_fresh
    maybe_initialize_distributed()
    import jax

    if devices is not None and not 1 <= devices <= len(jax.devices()):
        raise GenmolError(f"--devices {devices}: choose 1 … {len(jax.devices())} (the devices JAX sees here)")
    from genmol.train.checkpoint import Checkpointer

    latest = Checkpointer.latest_in(workdir)
    if latest is not None and not resume:
        raise GenmolError(f"{workdir} already holds checkpoints (latest step {latest}); pass --resume to continue it "
                          "or choose a new --workdir")
    if cfg.train.get("init_from") and not resume:
        check_init_from(cfg.train.init_from, cfg)  # a wrong --init-from fails before the data are loaded
    task = task_cls(cfg)
    if hasattr(task, "describe"):
        console.print(task.describe(), highlight=False)
    result = train_and_evaluate(task, cfg, workdir, resume=resume, num_devices=devices, progress=not no_progress,
                                log=lambda text: console.print(text, highlight=False))
    last = result.losses[max(result.losses)] if result.losses else float("nan")
    msg = f"trained to step {result.step}; last loss {last:.4g}"
    if result.eval_metrics:
        msg += "; " + ", ".join(f"{k} {v:.4g}" for k, v in result.eval_metrics.items())
    console.print(msg + f"; run in {workdir}", highlight=False)


def export(
    workdir: Path = typer.Argument(..., help="Training run directory (config.json + checkpoints)."),
    out: Path = typer.Option(..., "--out", help="Model directory to write (config.json, params.npz, metadata.json)."),
    ema: bool = typer.Option(True, "--ema/--no-ema", help="Export the EMA weights when the run kept them."),
    sampling: List[str] = typer.Option([], "--sampling", help="Recommended sampling setting stored with the model, "
                                                              "e.g. position_temperature=0.5 (repeatable)."),
    decoder: Optional[Path] = typer.Option(None, "--decoder", help="Latent diffusion runs: an autoencoder whose "
                                           "decoder (fine-tuned with the encoder frozen) replaces the stored one."),
):
    """Turn the latest checkpoint of a training run into a self-contained model directory."""
    from genmol.config import parse_value
    from genmol.train.export import export_run

    settings = {}
    for item in sampling:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise GenmolError(f"--sampling {item!r} is not KEY=VALUE")
        settings[key.strip()] = parse_value(value)
    meta = export_run(workdir, out, use_ema=ema, sampling=settings, decoder=decoder)
    step, before = meta["step"], meta["steps_total"] - meta["step"]
    console.print(f"exported step {step} of {workdir} to {out}"
                  + (f" ({step + before} steps in all, {before} before this run)" if before else ""), highlight=False)


def plot(
    workdirs: List[Path] = typer.Argument(..., help="Training run directories (with metrics.jsonl); "
                                                    "several runs are overlaid."),
    out: Path = typer.Option(..., "--out", "-o", help="PNG file to write."),
    smooth: int = typer.Option(1, "--smooth", help="Moving-average window over logged points."),
):
    """Plot learning curves (train/* and eval/* metrics) of one or more runs to a PNG."""
    from genmol.viz.curves import plot_learning_curves

    if smooth < 1:
        raise GenmolError(f"--smooth {smooth}: the window must be at least 1")
    keys = plot_learning_curves(list(workdirs), out, smooth=smooth)
    console.print(f"wrote {out} ({', '.join(keys)})", highlight=False)
