"""``genmol sample molecules``, ``genmol evaluate molecules`` and ``genmol view``: small molecules in 3D."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from genmol.cli.common import console, out_console
from genmol.errors import GenmolError

__all__ = ["sample", "evaluate", "view"]


def sample(
    num: int = typer.Option(100, "--num", "-n", help="How many molecules."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file: .sdf, .xyz, .extxyz or .npz."),
    checkpoint: Optional[Path] = typer.Option(
        None, "--checkpoint", help="Model directory written by 'genmol export' (default: the shipped QM9 model)."),
    seed: int = typer.Option(0, "--seed"),
    max_atoms: int = typer.Option(35, "--max-atoms", help="Largest molecule (atoms, seed included; at most 64)."),
    init: str = typer.Option("H", "--init", help="Element of the single seed atom."),
    from_fragment: Optional[Path] = typer.Option(None, "--from-fragment", help="Complete this fragment (.xyz/.sdf)."),
    batch: int = typer.Option(10, "--batch", help="Molecules grown in parallel: memory grows with it (the shipped "
                                                  "model peaks at about 1.7 GB with 10, 2.2 GB with 20); the "
                                                  "molecules of a seed do not depend on it."),
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
    min_atoms: Optional[int] = typer.Option(
        None, "--min-atoms", help="No STOP before a molecule has this many atoms, seed included, unless no atom can "
                                  "be placed (default: the model's recorded setting, else 0: off)."),
):
    """Sample 3D molecules (with hydrogens) from a Symphony-style model."""
    from genmol.data.molecules.species import QM9_ELEMENTS
    from genmol.io.molecules import molecule_format, write_molecules
    from genmol.models.store import check_model_dir, load_model, read_metadata
    from genmol.models.symphony.generate import generate_molecules, sampling_request_problem
    from genmol.models.symphony.settings import SamplingSettings
    from genmol.pretrained import pretrained_path

    # everything a user can get wrong is checked before the (slow) model loading
    molecule_format(out)
    problem = sampling_request_problem(num, batch, max_atoms, seed)
    if problem:
        name, text = problem
        raise GenmolError(f"--{name.replace('_', '-')} {text}")
    if grid is not None:
        from genmol.models.symphony.settings import parse_grid

        grid = parse_grid(grid)
    model_dir = check_model_dir(checkpoint if checkpoint is not None else pretrained_path("symphony_qm9"))
    meta = read_metadata(model_dir)
    settings = SamplingSettings.from_record(meta.get("sampling", {})).override(
        focus_temperature=focus_temperature, position_temperature=position_temperature, refine=refine, grid=grid,
        min_distance=min_distance, even_electrons=even_electrons, valence_guard=valence_guard, min_atoms=min_atoms)
    if settings.min_atoms > max_atoms:
        raise GenmolError(f"--min-atoms {settings.min_atoms} is more than --max-atoms {max_atoms}")
    with console.status(f"loading the model in {model_dir}", spinner="dots"):
        model, cfg, meta = load_model(model_dir, expect="symphony")
    elements = tuple(meta.get("elements", QM9_ELEMENTS))
    if len(elements) != model.num_species:
        raise GenmolError(f"{model_dir}/metadata.json lists {len(elements)} elements for a model of "
                          f"{model.num_species} species")
    mols, stats = generate_molecules(model, num, settings=settings, seed=seed, max_atoms=max_atoms, init=init,
                                     fragment_path=str(from_fragment) if from_fragment else None, batch=batch,
                                     elements=elements)
    write_molecules(out, mols)
    rate = stats["molecules_per_s"]
    console.print(f"wrote {num} molecules to {out} from {model_dir} ({settings.describe()}); "
                  f"{rate:.3g} molecules/s including compilation ({stats['seconds']:.1f} s); "
                  f"{stats['stopped_fraction']:.0%} emitted STOP", highlight=False, markup=False)


def evaluate(
    file: Path = typer.Argument(..., help="Molecules to score (.sdf, .xyz, .extxyz or .npz)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the metrics as JSON here."),
    reference: str = typer.Option("qm9", "--reference", help="Training set for novelty and the JSDs: qm9 or none."),
    posebusters: bool = typer.Option(False, "--posebusters", help="Run PoseBusters mol_fast checks (extra)."),
    xyz2mol: bool = typer.Option(True, "--xyz2mol/--no-xyz2mol", help="RDKit DetermineBonds validity."),
):
    """EDM stability, validity, uniqueness, novelty; xyz2mol validity; environment JSDs; optional PoseBusters."""
    from rich.table import Table

    from genmol.eval.molecules import METRIC_KEYS, evaluate_molecules
    from genmol.io.atomic import atomic_write_text
    from genmol.io.molecules import read_molecules

    if reference not in ("qm9", "none"):
        raise GenmolError(f"--reference {reference!r}: choose qm9 or none")
    if posebusters:
        import importlib.util

        if importlib.util.find_spec("posebusters") is None:  # before reading and scoring everything else
            raise GenmolError("PoseBusters checks need the posebusters package: pip install 'genmol[posebusters]'")
    ms, errors = read_molecules(file, lenient=True)
    ref, ref_env, ref_desc = (None, None, "none")
    if reference != "none":
        from genmol.eval.reference import reference_environments, reference_smiles

        ref, ref_desc = reference_smiles(reference)
        ref_env = reference_environments(reference)[0] if xyz2mol else None  # same set, same description
    res = evaluate_molecules(ms, reference_smiles=ref, xyz2mol_metrics=xyz2mol, posebusters=posebusters,
                             record_errors=errors, reference_environments=ref_env)
    out = out_console()
    out.print(f"{file}: {res.summary['n']} molecules", markup=False, highlight=False)
    t = Table()
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k in METRIC_KEYS:
        v = res.summary[k]
        t.add_row(k, str(v) if k == "n" else f"{v:.4f}")
    out.print(t)
    out.print(f"novelty and JSD reference: {ref_desc}", markup=False, highlight=False)
    if res.environment_terms:
        out.print("local environments adding most to its JSD (generated / reference frequency): " + "; ".join(
            f"{t['key']} {t['p']:.4f} / {t['q']:.4f}" for t in res.environment_terms[:5]), markup=False,
            highlight=False)
    if res.reasons:
        out.print("invalid or unscorable: " + "; ".join(f"{k}: {v}" for k, v in sorted(res.reasons.items())),
                  markup=False, highlight=False)
    if res.posebusters:
        pb = res.posebusters
        out.print(f"PoseBusters ({pb['n']} xyz2mol-valid): all checks {pb['all_pass']:.4f}; "
                  + ", ".join(f"{k} {v:.3f}" for k, v in pb["checks"].items()), markup=False, highlight=False)
    if json_out is not None:
        payload = {k: (None if k != "n" and res.summary[k] != res.summary[k] else res.summary[k])
                   for k in METRIC_KEYS}  # NaN (undefined) -> null
        payload.update(reference=ref_desc, invalid_reasons=res.reasons, file=str(file))
        if res.posebusters:
            payload["posebusters"] = res.posebusters
        if res.environment_terms:  # the ten largest shares of local_env_jsd (nats; p generated, q reference)
            payload["local_env_jsd_terms"] = res.environment_terms[:10]
        atomic_write_text(json_out, json.dumps(payload, indent=2) + "\n")


def view(
    file: Path = typer.Argument(..., help="Molecules to show (.sdf, .xyz, .extxyz or .npz)."),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to write (self-contained, works offline)."),
    limit: int = typer.Option(60, "--max", help="Show at most this many molecules (the first ones)."),
):
    """Write an HTML page showing molecules in 3D with SMILES and validity."""
    from genmol.eval.molecules import evaluate_molecules
    from genmol.io.molecules import read_molecules
    from genmol.viz.molecules_html import write_molecules_html

    if limit < 1:
        raise GenmolError(f"--max {limit}: show at least 1 molecule")
    ms, errors = read_molecules(file, lenient=True)
    total = len(ms)
    ms = ms.subset(range(min(limit, total)))
    errors = errors[: len(ms)]
    res = evaluate_molecules(ms, record_errors=errors)
    captions = []
    for i in range(len(ms)):
        smi = res.xyz2mol_smiles[i]
        state = "xyz2mol-valid" if smi else "invalid"
        edm = "EDM-stable" if res.mol_stable[i] else "not EDM-stable"
        captions.append(f"#{i}: {smi or errors[i] or '—'} · {ms.num_atoms[i]} atoms · {state} · {edm}")
    shown = f"{len(ms)} molecules" if len(ms) == total else f"the first {len(ms)} of {total} molecules"
    write_molecules_html(out, list(ms), captions, title=f"{file.name}: {shown}")
    more = "" if len(ms) == total else f"; --max {total} shows all"
    console.print(f"wrote {out} ({shown}{more})", highlight=False, markup=False)
