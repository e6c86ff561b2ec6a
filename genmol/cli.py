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
console = Console(stderr=True, soft_wrap=True)  # never hard-wrap a message inside a sentence
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
    init_from: Optional[Path] = typer.Option(None, "--init-from",
                                             help="Start from the weights of an exported model (same architecture)."),
    init_fresh: Optional[str] = typer.Option(
        None, "--init-fresh", help="With --init-from: comma-separated model parts that start from a fresh "
        "initialisation instead (their config may differ), e.g. focus_encoder,focus_hidden,focus_out."),
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
    if init_from is not None:
        cfg.train.init_from = str(init_from)  # recorded in the run's config.json
    if init_fresh is not None:
        if not cfg.train.get("init_from"):
            raise GenmolError("--init-fresh only applies with --init-from")
        cfg.train.init_fresh = init_fresh
    if cfg.train.get("init_from") and not resume:
        from genmol.train.export import check_init_from

        check_init_from(cfg.train.init_from, cfg)  # a wrong --init-from fails before the data are loaded
    task = task_cls(cfg)
    if hasattr(task, "describe"):
        console.print(task.describe())
    result = train_and_evaluate(task, cfg, workdir, resume=resume, num_devices=devices, progress=not no_progress)
    last = result.losses[max(result.losses)] if result.losses else float("nan")
    msg = f"trained to step {result.step}; last loss {last:.4g}"
    if result.eval_metrics:
        msg += "; " + ", ".join(f"{k} {v:.4g}" for k, v in result.eval_metrics.items())
    console.print(msg + f"; run in {workdir}")


data_app = typer.Typer(help="Inspect the data sets genmol can load.", no_args_is_help=True)
evaluate_app = typer.Typer(help="Score generated structures with the field's metrics.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(evaluate_app, name="evaluate")


@data_app.command("qm9")
def data_qm9(
    source: str = typer.Option("auto", "--source", help="auto | qm9pack | embedded | a path (tarball, dir, gdb9.sdf, xyz)."),
    stats: bool = typer.Option(True, "--stats/--no-stats", help="Print molecule/atom counts and elements."),
    split: bool = typer.Option(False, "--split", help="Also print EDM's train/valid/test sizes (full QM9 only)."),
):
    """Load QM9 from SOURCE and print what it holds."""
    from rich.table import Table

    from genmol.data.molecules.qm9 import describe, edm_split, load_qm9, qm9pack_dir

    resolved = ("qm9pack" if qm9pack_dir() is not None else "embedded") if source == "auto" else source
    ms = load_qm9(resolved)
    out = Console(soft_wrap=True)
    out.print(f"QM9 source: [bold]{resolved}[/bold]")
    if stats:
        d = describe(ms)
        t = Table(show_header=False)
        t.add_row("molecules", f"{d['molecules']:,}")
        t.add_row("atoms", f"{d['atoms']:,}")
        t.add_row("atoms per molecule", f"{d['atoms_per_molecule_min']}–{d['atoms_per_molecule_max']} "
                  f"(mean {d['atoms_per_molecule_mean']:.2f})")
        for el, c in sorted(d["elements"].items(), key=lambda kv: -kv[1]):
            t.add_row(f"  {el}", f"{c:,}")
        out.print(t)
    if split:
        sp = edm_split(ms.properties["qm9_index"])
        out.print("EDM split: " + ", ".join(f"{k} {len(v):,}" for k, v in sp.items()))


@evaluate_app.command("molecules")
def evaluate_molecules_cmd(
    file: Path = typer.Argument(..., help="Molecules to score (.sdf, .xyz, .extxyz or .npz)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the metrics as JSON here."),
    reference: str = typer.Option("qm9", "--reference", help="Training SMILES for novelty: qm9 or none."),
    posebusters: bool = typer.Option(False, "--posebusters", help="Run PoseBusters mol_fast checks (extra)."),
    xyz2mol: bool = typer.Option(True, "--xyz2mol/--no-xyz2mol", help="RDKit DetermineBonds validity."),
):
    """EDM stability, validity, uniqueness, novelty; xyz2mol validity; optional PoseBusters."""
    import json

    from rich.table import Table

    from genmol.eval.molecules import METRIC_KEYS, evaluate_molecules
    from genmol.io.atomic import atomic_write_text
    from genmol.io.molecules import read_molecules

    ms, errors = read_molecules(file, lenient=True)
    ref, ref_desc = (None, "none")
    if reference != "none":
        from genmol.eval.reference import reference_smiles

        ref, ref_desc = reference_smiles(reference)
    res = evaluate_molecules(ms, reference_smiles=ref, xyz2mol_metrics=xyz2mol, posebusters=posebusters,
                             record_errors=errors)
    out = Console(soft_wrap=True)
    out.print(f"{file}: {res.summary['n']} molecules")
    t = Table()
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k in METRIC_KEYS:
        v = res.summary[k]
        t.add_row(k, str(v) if k == "n" else f"{v:.4f}")
    out.print(t)
    out.print(f"novelty reference: {ref_desc}")
    if res.reasons:
        out.print("invalid or unscorable: " + "; ".join(f"{k}: {v}" for k, v in sorted(res.reasons.items())))
    if res.posebusters:
        pb = res.posebusters
        out.print(f"PoseBusters ({pb['n']} xyz2mol-valid): all checks {pb['all_pass']:.4f}; "
                  + ", ".join(f"{k} {v:.3f}" for k, v in pb["checks"].items()))
    if json_out is not None:
        payload = {k: (None if k != "n" and res.summary[k] != res.summary[k] else res.summary[k])
                   for k in METRIC_KEYS}  # NaN (undefined) -> null
        payload.update(reference=ref_desc, invalid_reasons=res.reasons, file=str(file))
        if res.posebusters:
            payload["posebusters"] = res.posebusters
        atomic_write_text(json_out, json.dumps(payload, indent=2) + "\n")


sample_app = typer.Typer(help="Generate structures with a trained model.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")


@app.command("export")
def export_cmd(
    workdir: Path = typer.Argument(..., help="Training run directory (config.json + checkpoints)."),
    out: Path = typer.Option(..., "--out", help="Model directory to write (config.json, params.npz, metadata.json)."),
    ema: bool = typer.Option(True, "--ema/--no-ema", help="Export the EMA weights when the run kept them."),
    sampling: List[str] = typer.Option([], "--sampling", help="Recommended sampling setting stored with the model, "
                                                              "e.g. position_temperature=0.5 (repeatable)."),
):
    """Turn the latest checkpoint of a training run into a self-contained model directory."""
    from genmol.config import parse_value, read_config_json
    from genmol.train.export import export_model, steps_before_run
    from genmol.train.trainer import load_params

    settings = {}
    for item in sampling:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise GenmolError(f"--sampling {item!r} is not KEY=VALUE")
        settings[key] = parse_value(value)

    cfg = read_config_json(Path(workdir) / "config.json")
    model = load_params(cfg, workdir, use_ema=ema)  # builds the model only: no data is loaded
    from flax import nnx

    from genmol.train.checkpoint import Checkpointer

    ck = Checkpointer(workdir)
    step = ck.latest_step()
    ck.close()
    before = steps_before_run(workdir, cfg)
    meta = {"source_workdir": str(workdir), "step": step, "steps_total": step + before, "ema": ema,
            "sampling": settings}
    if before:
        meta["init_from"] = cfg.train.init_from
    export_model(cfg, nnx.to_pure_dict(nnx.state(model, nnx.Param)), out, meta)
    console.print(f"exported step {step} of {workdir} to {out}"
                  + (f" ({step + before} steps in all, {before} before this run)" if before else ""))


@sample_app.command("molecules")
def sample_molecules_cmd(
    num: int = typer.Option(100, "--num", "-n", help="How many molecules."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file: .sdf, .xyz, .extxyz or .npz."),
    checkpoint: Optional[Path] = typer.Option(
        None, "--checkpoint", help="Model directory written by 'genmol export' (default: the shipped QM9 model)."),
    seed: int = typer.Option(0, "--seed"),
    max_atoms: int = typer.Option(35, "--max-atoms", help="Largest molecule (atoms, seed included)."),
    init: str = typer.Option("H", "--init", help="Element of the single seed atom."),
    from_fragment: Optional[Path] = typer.Option(None, "--from-fragment", help="Complete this fragment (.xyz/.sdf)."),
    batch: int = typer.Option(100, "--batch", help="Molecules sampled in parallel."),
    focus_temperature: Optional[float] = typer.Option(
        None, "--focus-temperature", help="Focus/species temperature (default: the model's recorded setting, else 1)."),
    position_temperature: Optional[float] = typer.Option(
        None, "--position-temperature", help="Position temperature (default: the model's recorded setting, else 1)."),
    refine: Optional[bool] = typer.Option(
        None, "--refine/--no-refine", help="Place atoms continuously within the sampled radial bin and grid cell "
                                           "(default: the model's recorded setting, else refine)."),
    grid: Optional[str] = typer.Option(
        None, "--grid", help="S² grid for positions, RES_BETAxRES_ALPHA, e.g. 60x119 (default: the model's "
                             "recorded setting, else its training grid)."),
    min_distance: Optional[float] = typer.Option(
        None, "--min-distance", help="Steric exclusion (Å): never place an atom closer than this to an atom other "
                                     "than its focus; 0 turns it off (default: the model's recorded setting, else 0)."),
    even_electrons: Optional[bool] = typer.Option(
        None, "--even-electrons/--any-electrons", help="Allow STOP only at an even electron count (no radicals; "
                                                       "default: the model's recorded setting, else any count)."),
    valence_guard: Optional[bool] = typer.Option(
        None, "--valence-guard/--no-valence-guard",
        help="Never bond a new atom to an atom that already has its neutral valence's number of neighbours "
             "(H 1, C 4, N 3, O 2, F 1; default: the model's recorded setting, else off)."),
):
    """Sample 3D molecules (with hydrogens) from a Symphony-style model."""
    from genmol.io.molecules import molecule_format, write_molecules
    from genmol.models.symphony.generate import generate_molecules, sampling_settings
    from genmol.pretrained import pretrained_path
    from genmol.train.export import load_model

    molecule_format(out)  # a wrong output type fails now, not after sampling

    model_dir = checkpoint if checkpoint is not None else pretrained_path("symphony_qm9")
    model, cfg, meta = load_model(model_dir)
    if cfg.model_name != "symphony":
        raise GenmolError(f"{model_dir} holds a {cfg.model_name!r} model, not a molecule generator")
    settings = sampling_settings(meta.get("sampling", {}), focus_temperature=focus_temperature,
                                 position_temperature=position_temperature, refine=refine, grid=grid,
                                 min_distance=min_distance, even_electrons=even_electrons,
                                 valence_guard=valence_guard)
    mols, stats = generate_molecules(
        model, float(cfg.model.focus_encoder.cutoff), num, seed=seed, max_atoms=max_atoms, init=init,
        fragment_path=str(from_fragment) if from_fragment else None, batch=batch, **settings)
    write_molecules(out, mols)
    md = settings["min_distance"]
    exclusion = f"; no atom within {md:g} Å of a non-focus atom" if md else ""
    exclusion += "; STOP only at even electron counts" if settings["even_electrons"] else ""
    exclusion += "; valence guard" if settings["valence_guard"] else ""
    console.print(f"wrote {num} molecules to {out} from {model_dir} (temperatures: focus "
                  f"{1 / settings['focus_beta']:g}, position {1 / settings['position_beta']:g}; "
                  f"{'refined' if settings['refine'] else 'grid'} positions"
                  f"{'' if settings['grid'] is None else ' on a %dx%d grid' % settings['grid']}"
                  f"{exclusion}); "
                  f"{stats['molecules_per_s']:.1f} molecules/s including compilation; "
                  f"{stats['stopped_fraction']:.0%} emitted STOP")


@app.command("plot")
def plot_cmd(
    workdirs: List[Path] = typer.Argument(..., help="Training run directories (with metrics.jsonl); "
                                                    "several runs are overlaid."),
    out: Path = typer.Option(..., "--out", "-o", help="PNG file to write."),
    smooth: int = typer.Option(1, "--smooth", help="Moving-average window over logged points."),
):
    """Plot learning curves (train/* and eval/* metrics) of one or more runs to a PNG."""
    from genmol.viz.curves import plot_learning_curves

    keys = plot_learning_curves(list(workdirs), out, smooth=smooth)
    console.print(f"wrote {out} ({', '.join(keys)})")


@app.command("view")
def view_cmd(
    file: Path = typer.Argument(..., help="Molecules to show (.sdf, .xyz, .extxyz or .npz)."),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to write (self-contained, works offline)."),
    limit: int = typer.Option(60, "--max", help="Show at most this many molecules."),
):
    """Write an HTML page showing molecules in 3D with SMILES and validity."""
    from genmol.eval.molecules import evaluate_molecules
    from genmol.io.molecules import read_molecules
    from genmol.viz.molecules_html import write_molecules_html

    ms, errors = read_molecules(file, lenient=True)
    ms = ms.subset(range(min(limit, len(ms))))
    errors = errors[: len(ms)]
    res = evaluate_molecules(ms, record_errors=errors)
    captions = []
    for i in range(len(ms)):
        smi = res.xyz2mol_smiles[i]
        state = "xyz2mol-valid" if smi else "invalid"
        edm = "EDM-stable" if res.mol_stable[i] else "not EDM-stable"
        captions.append(f"#{i}: {smi or errors[i] or '—'} · {ms.num_atoms[i]} atoms · {state} · {edm}")
    write_molecules_html(out, list(ms), captions, title=f"{file.name}: {len(ms)} molecules")
    console.print(f"wrote {out} ({len(ms)} molecules)")


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
