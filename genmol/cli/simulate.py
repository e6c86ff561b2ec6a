"""``genmol simulate``: trajectories from a structure with a trained jump simulator, far faster than MD.

Thin over :mod:`genmol.models.jump.rollout` (the jumps) and :mod:`genmol.io.trajectory_writer` (chunked,
crash-safe XTC/DCD/PDB/HDF5 output). Everything that can be checked is checked before the model runs: the input,
the output path (nothing is left behind by a refusal), the conditions against what the model was trained on.
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Optional

import typer

from genmol.cli.common import console, load_model_source, model_source
from genmol.errors import GenmolError, Interrupted

__all__ = ["simulate", "parse_time_ps"]

_FAMILY = "jump"
_UNITS_PS = {"fs": 1e-3, "ps": 1.0, "ns": 1e3, "us": 1e6, "µs": 1e6}
_TRAJECTORY_SUFFIXES = (".xtc", ".dcd", ".h5", ".hdf5")


def parse_time_ps(text: str, what: str = "--dt") -> float:
    """``"10ps"``, ``"1 ns"``, ``"500fs"`` or a bare number (ps) -> ps.

    Raises:
        GenmolError: not a positive time.
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zµ]*)\s*", str(text))
    if not m or (m.group(2) and m.group(2) not in _UNITS_PS):
        raise GenmolError(f"{what} {text!r} is not a time; write e.g. 10ps, 1ns or 500fs")
    value = float(m.group(1)) * _UNITS_PS.get(m.group(2) or "ps")
    if not value > 0:
        raise GenmolError(f"{what} {text!r}: the time must be positive")
    return value


def _read_input(structure: Path, top: Optional[Path], chain: Optional[str]):
    from genmol.io.structures import read_structure, read_trajectory

    if structure.suffix.lower() in _TRAJECTORY_SUFFIXES:
        protein, _ = read_trajectory(structure, top)  # the topology carries the first frame
        return protein.select_chain(chain) if chain else protein
    if top is not None:
        raise GenmolError(f"--top is for trajectory inputs ({', '.join(_TRAJECTORY_SUFFIXES)}); {structure} is a "
                          "structure file")
    return read_structure(structure, chain=chain)


def simulate(
    structure: Path = typer.Argument(..., help="Starting structure: PDB/mmCIF/BinaryCIF, or a trajectory "
                                               "(XTC/DCD with --top, or mdtraj HDF5) whose first frame is used."),
    jumps: int = typer.Option(..., "--jumps", help="Jumps per walker (frames after the starting one)."),
    dt: str = typer.Option("10ps", "--dt", help="Jump size, e.g. 10ps, 1ns (a bare number is ps)."),
    temperature: float = typer.Option(300.0, "--temperature", help="Temperature in K."),
    out: Path = typer.Option(..., "--out", help="Output trajectory: .xtc, .dcd, .pdb (multi-model) or .h5; "
                                                "XTC/DCD get a <stem>_topology.pdb beside them."),
    walkers: int = typer.Option(1, "--walkers", help="Independent trajectories batched together; W > 1 writes "
                                                     "<stem>_w000<suffix>, ... beside --out."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="A jump-simulator model directory "
                                                                         "(default: the shipped one) or a run."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same trajectories)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Integration steps per jump (default: the "
                                                              "model's)."),
    churn: float = typer.Option(0.0, "--churn", help="Flow-path models: integrate the same-marginal SDE with this "
                                                      "diffusion instead of the ODE (0: the ODE)."),
    chunk: int = typer.Option(100, "--chunk", help="Jumps per written chunk (a stopped run keeps whole chunks)."),
    top: Optional[Path] = typer.Option(None, "--top", help="Topology of a trajectory input."),
    chain: Optional[str] = typer.Option(None, "--chain", help="The chain to simulate (inputs with several)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
):
    """Simulate trajectories with a jump simulator: each jump samples the frame Δ later at the temperature."""
    import numpy as np

    from genmol.io.trajectory_writer import TrajectoryWriter, check_output
    from genmol.models.jump.model import check_conditions
    from genmol.models.jump.rollout import Rollout, prepare_system

    delta = parse_time_ps(dt)
    if jumps < 1:
        raise GenmolError(f"--jumps {jumps}: at least one jump")
    if walkers < 1:
        raise GenmolError(f"--walkers {walkers}: at least one walker")
    if chunk < 1:
        raise GenmolError(f"--chunk {chunk}: at least one jump per chunk")
    if steps is not None and steps < 1:
        raise GenmolError(f"--steps {steps}: at least one integration step per jump")
    if not (temperature > 0 and temperature < 1e4):
        raise GenmolError(f"--temperature {temperature:g}: give a temperature in K")
    protein = _read_input(structure, top, chain)
    system = prepare_system(protein, str(structure))
    check_output(out, walkers, overwrite=force, topology=system.protein)
    source = model_source(checkpoint, _FAMILY)
    model = load_model_source(source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_conditions(model.config, temperature, delta)
    for w in caught:
        console.print(f"[yellow]warning:[/yellow] {w.message}", highlight=False)
    rollout = Rollout(model, system, walkers=walkers, temperature_K=temperature, delta_ps=delta, seed=seed,
                      num_steps=steps, churn=churn)
    writer = TrajectoryWriter(out, system.protein, walkers, overwrite=force)
    files = writer.paths
    where = str(files[0]) if len(files) == 1 else f"{len(files)} files {files[0].name} … {files[-1].name} in " \
                                                    f"{files[0].parent}"
    total_ns = jumps * delta / 1e3
    start = time.perf_counter()
    done = 0
    try:
        with _progress() as bar:
            task = bar.add_task("simulate", total=total_ns, rate="")
            writer.append(rollout.initial()[:, None], [0.0])
            for frames in rollout.chunks(jumps, chunk=chunk):
                times = (done + 1 + np.arange(len(frames), dtype=np.float64)) * delta
                writer.append(frames.swapaxes(0, 1), times)
                done += len(frames)
                elapsed = time.perf_counter() - start
                rate = done * delta / 1e3 * walkers / elapsed
                bar.update(task, completed=done * delta / 1e3, rate=f"{rate:.3g} ns/s")
    except (KeyboardInterrupt, Interrupted):  # Ctrl-C between chunks, or inside the writer (which rolled back the
        # chunk it was writing): one sentence either way, in jumps and frames
        kept = writer.frames_written
        raise Interrupted(f"interrupted after {max(kept - 1, 0)} of {jumps} jumps; {where} "
                          f"{'keeps' if len(files) == 1 else 'keep'} the {kept} frames of the complete chunks"
                          if kept else "interrupted before the first frame was written; nothing was written") \
            from None
    elapsed = time.perf_counter() - start
    extra = f" (topology {writer.topology_path})" if writer.topology_path else ""
    console.print(f"wrote {walkers} × {jumps + 1} frames ({walkers * total_ns:.4g} ns simulated, {delta:g} ps per "
                  f"jump, {temperature:g} K) to {where}{extra} in {elapsed:.1f} s: "
                  f"{walkers * total_ns / elapsed:.3g} ns/s", highlight=False, markup=False)


def _progress():
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed:.4g}/{task.total:.4g} ns per walker"),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, transient=True)
