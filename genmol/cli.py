"""The ``genmol`` command line: parse, load config, call a library function.

User errors (:class:`genmol.errors.GenmolError`) print one sentence and exit with
status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from genmol.errors import GenmolError

app = typer.Typer(
    name="genmol",
    help="Generative models of molecules and proteins on shared E(3)-equivariant encoders (JAX).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
_state = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors.")):
    _state["debug"] = debug


@app.command()
def train(
    model: str = typer.Argument(..., help="Model family to train, e.g. 'property'."),
    config: Path = typer.Option(..., "--config", "-c", help="Config file (configs/<model>/<dataset>.py)."),
    workdir: Path = typer.Option(..., "--workdir", "-w", help="Run directory for checkpoints and metrics."),
    set_: List[str] = typer.Option([], "--set", help="Config override key=value (repeatable)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint in --workdir."),
    devices: Optional[int] = typer.Option(None, "--devices", help="Devices in the data-parallel mesh (default all)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
):
    """Train a model: genmol train property --config configs/property/qm9.py --workdir runs/gap"""
    from genmol.config import load_config
    from genmol.models import get_task
    from genmol.train.sharding import maybe_initialize_distributed
    from genmol.train.trainer import train_and_evaluate

    maybe_initialize_distributed()
    task_cls = get_task(model)
    cfg = load_config(config, set_)
    if cfg.get("model_name", model) != model:
        raise GenmolError(f"config {config} is for model {cfg.model_name!r}, not {model!r}")
    task = task_cls(cfg)
    result = train_and_evaluate(task, cfg, workdir, resume=resume, num_devices=devices, progress=not no_progress)
    last = result.losses[max(result.losses)] if result.losses else float("nan")
    msg = f"trained to step {result.step}; last loss {last:.4g}"
    if result.eval_metrics:
        msg += "; " + ", ".join(f"{k} {v:.4g}" for k, v in result.eval_metrics.items())
    console.print(msg + f"; run in {workdir}")


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        app(args=argv, prog_name="genmol")  # standalone: usage errors print usage and exit 2
    except GenmolError as e:
        if debug:
            raise
        console.print(f"[red]error:[/red] {e}", highlight=False)
        return 2
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
