"""``genmol reconstruct protein``, ``genmol encode protein``, ``genmol decode``, ``genmol evaluate proteins``,
``genmol refine protein`` and protein structures in ``genmol view``: the protein autoencoder and protein metrics
on structure files.

Structure files are PDB (``.pdb``, ``.ent``), mmCIF (``.cif``, ``.mmcif``) or BinaryCIF (``.bcif``); a directory
means the structure files directly in it (by suffix, in name order). The first model of each file is used.
Outputs are written atomically and only after everything was read, checked and computed: an error leaves no file
and no empty folder behind.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer

from genmol.cli.common import console, load_model_source, model_source, out_console
from genmol.errors import GenmolError

__all__ = ["reconstruct", "encode", "decode", "evaluate", "refine", "view", "STRUCTURE_SUFFIXES"]

STRUCTURE_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".bcif")
_PDB_SUFFIXES = (".pdb", ".ent")
_CHECKPOINT_HELP = ("Model directory written by 'genmol export', or a training run directory (its latest "
                    "checkpoint, EMA weights); default: the shipped protein autoencoder.")
_FAMILY = "ophiuchus"


# ---------------------------------------------------------------------------------------------- files


def _is_structure(path: Path) -> bool:
    return path.suffix.lower() in STRUCTURE_SUFFIXES


def _structure_files(path: Path, what: str = "input") -> tuple[bool, list[Path]]:
    """``(is_directory, files)``: one structure file, or the structure files directly in a directory."""
    from genmol.io.files import check_input_file

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and _is_structure(p) and not p.name.startswith("."))
        if not files:
            raise GenmolError(f"{path} holds no structure files ({', '.join(STRUCTURE_SUFFIXES)})")
        return True, files
    check_input_file(path, "structure file")
    if not _is_structure(path):
        raise GenmolError(f"{path}: unsupported structure file type {path.suffix or '(none)'!r}; use one of "
                          f"{', '.join(STRUCTURE_SUFFIXES)}")
    return False, [path]


def _read(files: list[Path], lenient: bool, progress=None):
    """``(proteins, errors)``: the first model of each file; ``errors`` maps unreadable files to the sentence
    (``lenient``), else the first error is raised."""
    from genmol.io.structures import read_structure

    proteins, errors = {}, {}
    for f in files:
        try:
            proteins[f] = read_structure(f)
        except GenmolError as e:
            if not lenient:
                raise
            errors[f] = str(e)
        if progress is not None:
            progress()
    return proteins, errors


def _check_writable(protein, path: Path) -> None:
    """The protein fits the output format (PDB's one-character chain column), checked before the model runs."""
    if path.suffix.lower() in _PDB_SUFFIXES:
        long_chains = sorted({str(c) for c in protein.chain_id if len(str(c)) > 1})
        if long_chains:
            raise GenmolError(f"{path}: chain id {long_chains[0]!r} of {protein.source} does not fit PDB's "
                              "one-character column; write mmCIF (.cif) instead")


def _write_structure(path: Path, protein) -> None:
    """Atomically, in the format of the suffix: PDB, mmCIF or BinaryCIF."""
    from genmol.io.structures import write_mmcif, write_pdb

    suffix = path.suffix.lower()
    if suffix in _PDB_SUFFIXES:
        write_pdb(path, protein)
    elif suffix in (".cif", ".mmcif"):
        write_mmcif(path, protein)
    else:
        import biotite.structure.io.pdbx as pdbx

        from genmol.io.atomic import atomic_open

        file = pdbx.BinaryCIFFile()
        try:
            pdbx.set_structure(file, protein.to_atom_array())
        except Exception as e:
            raise GenmolError(f"{path}: the protein cannot be written as BinaryCIF ({e})") from None
        with atomic_open(path, "wb") as f:
            file.write(f)


def _output_paths(inputs: list[Path], is_dir: bool, out: Path) -> list[Path]:
    """Where each input's result goes: a directory input into the directory ``out`` under the same file names; a
    file input to ``out`` (a structure file) or into ``out`` if it is an existing directory."""
    if is_dir:
        if out.exists() and not out.is_dir():
            raise GenmolError(f"--out {out}: a directory input needs an output directory, and this is a file")
        if _is_structure(out) and not out.exists():
            raise GenmolError(f"--out {out}: a directory input needs an output directory, not a structure file")
        paths = [out / f.name for f in inputs]
    elif out.is_dir():
        paths = [out / inputs[0].name]
    else:
        if not _is_structure(out):
            raise GenmolError(f"--out {out}: unsupported structure file type {out.suffix or '(none)'!r}; use one of "
                              f"{', '.join(STRUCTURE_SUFFIXES)} (or an existing directory)")
        paths = [out]
    for i, o in zip(inputs, paths):
        if o.exists() and o.resolve() == i.resolve():
            raise GenmolError(f"--out {out} would overwrite the input {i}; choose another output")
    return paths


# ---------------------------------------------------------------------------------------------- model


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=not enabled)


def _check_batch(batch: int) -> None:
    if batch < 1:
        raise GenmolError(f"--batch {batch}: a batch holds at least 1 chain")


# ---------------------------------------------------------------------------------------------- numbers


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _json_safe(d):
    """NaN and infinities (undefined metrics) as null."""
    if isinstance(d, dict):
        return {k: _json_safe(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_json_safe(v) for v in d]
    if isinstance(d, float) and not math.isfinite(d):
        return None
    return d


def _stats(values) -> dict:
    import numpy as np

    v = np.asarray([x for x in values if _finite(x)], np.float64)
    if not v.size:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std()), "n": int(v.size)}


def _fmt(v, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if _finite(v) else "—"


# ---------------------------------------------------------------------------------------------- reconstruct

_TABLE = (("ca_rmsd", "Cα RMSD", 2), ("all_atom_rmsd", "atom RMSD", 2), ("gdt_ts", "GDT-TS", 3),
          ("lddt", "lDDT", 3), ("residue_recovery", "recovery", 3))


def reconstruct(
    input: Path = typer.Argument(..., help="Structure file (.pdb, .ent, .cif, .mmcif, .bcif) or a directory of them."),
    out: Path = typer.Option(..., "--out", "-o", help="Output structure file (.pdb, .cif, .bcif), or the output "
                                                      "directory for a directory input (same file names)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help=_CHECKPOINT_HELP),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the metrics as JSON here."),
    view_out: Optional[Path] = typer.Option(None, "--view", help="Write an HTML page with each reconstruction "
                                                                 "over its input here."),
    batch: int = typer.Option(8, "--batch", help="Chains encoded and decoded together (memory grows with it; "
                                                 "results depend on it only by float rounding)."),
    skip_unreadable: bool = typer.Option(False, "--skip-unreadable",
                                         help="Skip structures that cannot be read or are too long (reported), "
                                              "instead of stopping."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
):
    """Encode and decode protein structures with the autoencoder; print Cα and all-atom RMSD, GDT-TS, lDDT and
    residue recovery. The output keeps the input's chains, residue numbers and frame; residue types are the
    model's predictions."""
    from genmol.eval.proteins import reconstruction_metrics
    from genmol.models.ophiuchus.inference import check_lengths, encoded_residues, reconstruct_proteins

    _check_batch(batch)
    is_dir, files = _structure_files(input)
    outputs = dict(zip(files, _output_paths(files, is_dir, out)))
    source = model_source(checkpoint, _FAMILY)
    show = is_dir and not no_progress
    with _progress(show) as bar:
        task = bar.add_task("reading", total=len(files))
        lenient = skip_unreadable and is_dir
        proteins, errors = _read(files, lenient=lenient, progress=lambda: bar.advance(task))
    for f in list(proteins):  # chains over the budget: before the model loads
        try:
            check_lengths([proteins[f]])
        except GenmolError as e:
            if not lenient:
                raise
            errors[f] = str(e)
            del proteins[f]
    if not proteins:
        raise GenmolError(f"none of the {len(files)} structure files in {input} could be reconstructed "
                          f"({_tally_text(_tally(errors))})")
    inputs = list(proteins)
    for f in inputs:
        _check_writable(proteins[f], outputs[f])
    model = load_model_source(source)  # a status spinner: not inside another live display
    with _progress(show) as bar:
        task = bar.add_task("encoding", total=len(inputs))

        def advance(phase, done, total):
            bar.update(task, description=phase, completed=done, total=total)

        recon = reconstruct_proteins(model, [proteins[f] for f in inputs], batch, progress=advance)
        rows = []
        bar.update(task, description="scoring", completed=0, total=len(inputs))
        for f, pred in zip(inputs, recon):
            ref = encoded_residues(proteins[f])
            try:
                metrics, problem = reconstruction_metrics(pred, ref), None
            except GenmolError as e:
                metrics, problem = None, str(e)
            rows.append({"input": str(f), "output": str(outputs[f]), "residues": ref.num_residues,
                         "chains": ref.chains(), "metrics": metrics, "metrics_error": problem})
            bar.advance(task)
    for f, pred in zip(inputs, recon):
        _write_structure(outputs[f], pred)
    means = {k: _stats([r["metrics"][k] for r in rows if r["metrics"]]) for k, _, _ in _TABLE}
    _print_reconstructions(rows, means, errors)
    if json_out is not None:
        from genmol.io.atomic import atomic_write_text

        all_keys = sorted({k for r in rows if r["metrics"] for k in r["metrics"]})
        payload = {"model": str(source.path), "input": str(input), "output": str(out), "structures": rows,
                   "mean": {k: _stats([r["metrics"][k] for r in rows if r["metrics"]]) for k in all_keys},
                   "skipped": {str(k): v for k, v in errors.items()}, "skipped_reasons": _tally(errors)}
        atomic_write_text(json_out, json.dumps(_json_safe(payload), indent=2) + "\n")
    if view_out is not None:
        _reconstruction_view(view_out, inputs, proteins, recon, rows)
    where = out if is_dir else outputs[inputs[0]]
    console.print(f"wrote {len(recon)} reconstruction{'s' * (len(recon) != 1)} to {where} (model {source.path})",
                  highlight=False, markup=False)


_REFINE_TABLE = (("bond_length_rmsd", "bond-length RMSD Å"), ("bond_angle_rmsd", "bond-angle RMSD °"),
                 ("ca_ca_fraction", "Cα–Cα in 3.8 ± 0.2 Å"), ("clashes_per_100", "clashes / 100 residues"))


def _chemistry(protein) -> dict:
    from genmol.eval.proteins.chemistry import (
        bond_angle_rmsd, bond_length_rmsd, ca_ca_fraction, clashes_per_100_residues,
    )

    return {"bond_length_rmsd": bond_length_rmsd(protein), "bond_angle_rmsd": bond_angle_rmsd(protein),
            "ca_ca_fraction": ca_ca_fraction(protein), "clashes_per_100": clashes_per_100_residues(protein)}


def refine(
    input: Path = typer.Argument(..., help="Structure file (.pdb, .ent, .cif, .mmcif, .bcif) or a directory of them."),
    out: Path = typer.Option(..., "--out", "-o", help="Output structure file, or the output directory for a "
                                                      "directory input (same file names)."),
    steps: int = typer.Option(500, "--steps", help="Minimisation steps (Adam, 0.01 Å)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the chemistry before and after as JSON."),
    skip_unreadable: bool = typer.Option(False, "--skip-unreadable",
                                         help="Skip structures that cannot be read (reported), instead of stopping."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
):
    """Move the atoms of protein structures as little as needed to ideal bond lengths, angles and planar
    peptides and out of clashes (genmol.losses.refine), and print the chemistry before and after. Post-processing:
    report the structures' own numbers beside the refined ones."""
    import numpy as np

    from genmol.losses.refine import refine_protein

    if steps < 1:
        raise GenmolError(f"--steps {steps}: refinement needs at least one step")
    is_dir, files = _structure_files(input)
    outputs = dict(zip(files, _output_paths(files, is_dir, out)))
    show = is_dir and not no_progress
    with _progress(show) as bar:
        task = bar.add_task("reading", total=len(files))
        proteins, errors = _read(files, lenient=skip_unreadable and is_dir, progress=lambda: bar.advance(task))
    if not proteins:
        raise GenmolError(f"none of the {len(files)} structure files in {input} could be read "
                          f"({_tally_text(_tally(errors))})")
    for f, p in proteins.items():
        _check_writable(p, outputs[f])
    rows, refined = [], {}
    with _progress(show) as bar:
        task = bar.add_task("refining", total=len(proteins))
        for f, p in proteins.items():
            refined[f] = refine_protein(p, steps=steps)
            m = p.atom_mask
            shift = float(np.sqrt(np.mean(np.sum((refined[f].positions - p.positions)[m] ** 2, -1)))) if m.any() \
                else float("nan")
            rows.append({"input": str(f), "output": str(outputs[f]), "residues": p.num_residues,
                         "before": _chemistry(p), "after": _chemistry(refined[f]), "shift_rmsd": shift})
            bar.advance(task)
    for f, p in refined.items():
        _write_structure(outputs[f], p)
    from rich.table import Table

    table = Table(title=f"chemistry of {len(rows)} structure{'s' * (len(rows) != 1)}, mean (before → after)")
    table.add_column("metric")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    summary = {}
    for key, label in _REFINE_TABLE:
        b, a = _stats([r["before"][key] for r in rows]), _stats([r["after"][key] for r in rows])
        summary[key] = {"before": b, "after": a}
        table.add_row(label, _fmt(b["mean"]), _fmt(a["mean"]))
    shift = _stats([r["shift_rmsd"] for r in rows])
    table.add_row("atoms moved, RMSD Å", "", _fmt(shift["mean"]))
    out_console().print(table)
    if errors:
        console.print(f"skipped {len(errors)} unreadable file(s): {_tally_text(_tally(errors))}", highlight=False,
                      markup=False)
    if json_out is not None:
        from genmol.io.atomic import atomic_write_text

        payload = {"input": str(input), "output": str(out), "steps": steps, "mean": summary, "shift_rmsd": shift,
                   "structures": rows, "skipped": {str(k): v for k, v in errors.items()}}
        atomic_write_text(json_out, json.dumps(_json_safe(payload), indent=2) + "\n")
    where = out if is_dir else outputs[next(iter(refined))]
    console.print(f"wrote {len(refined)} refined structure{'s' * (len(refined) != 1)} to {where}", highlight=False,
                  markup=False)


def _print_reconstructions(rows, means, errors) -> None:
    from rich.table import Table

    t = Table(caption="RMSD in Å after superposition (all-atom: flip-aware); lDDT all-atom; recovery of residue "
                      "types")
    t.add_column("structure")
    t.add_column("residues", justify="right")
    for _, title, _ in _TABLE:
        t.add_column(title, justify="right")
    for r in rows:
        m = r["metrics"] or {}
        t.add_row(Path(r["input"]).name, str(r["residues"]), *(_fmt(m.get(k), d) for k, _, d in _TABLE))
    if len(rows) > 1:
        t.add_section()
        t.add_row("mean", "", *(_fmt(means[k]["mean"], d) for k, _, d in _TABLE))
    out = out_console()
    out.print(t)
    for r in rows:
        if r["metrics_error"]:
            out.print(f"{Path(r['input']).name}: metrics undefined ({r['metrics_error']})", markup=False,
                      highlight=False)
    if errors:
        out.print(f"skipped {len(errors)}: {_tally_text(_tally(errors))}", markup=False, highlight=False)
        for f, e in errors.items():
            out.print(f"  {e}", markup=False, highlight=False)


def _reconstruction_view(path: Path, inputs, proteins, recon, rows, limit: int = 60) -> None:
    from genmol.models.ophiuchus.inference import encoded_residues
    from genmol.viz.proteins_html import Panel, write_proteins_html

    panels = []
    for f, pred, row in list(zip(inputs, recon, rows))[:limit]:
        m = row["metrics"] or {}
        caption = (f"{f.name}: {row['residues']} residues · Cα RMSD {_fmt(m.get('ca_rmsd'), 2)} Å · lDDT "
                   f"{_fmt(m.get('lddt'))} · recovery {_fmt(m.get('residue_recovery'))}")
        panels.append(Panel([encoded_residues(proteins[f]), pred], ["input", "reconstruction"], caption))
    shown = "" if len(inputs) <= limit else f" (the first {limit} of {len(inputs)})"
    write_proteins_html(path, panels, title=f"reconstructions{shown}", superpose=False)


# ---------------------------------------------------------------------------------------------- encode / decode


def encode(
    input: Path = typer.Argument(..., help="Structure file (.pdb, .ent, .cif, .mmcif, .bcif) or a directory of them."),
    out: Path = typer.Option(..., "--out", "-o", help="Latent file to write (.npz)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help=_CHECKPOINT_HELP),
    batch: int = typer.Option(8, "--batch", help="Chains encoded together."),
):
    """Encode protein structures into the autoencoder's latent nodes (one .npz; 'genmol decode' rebuilds them)."""
    from genmol.models.ophiuchus.inference import check_lengths, encode_proteins, save_latents

    _check_batch(batch)
    if out.suffix.lower() != ".npz":
        raise GenmolError(f"--out {out}: latents are written as .npz")
    if out.is_dir():
        raise GenmolError(f"--out {out} is a directory; name an .npz file")
    is_dir, files = _structure_files(input)
    source = model_source(checkpoint, _FAMILY)
    proteins, _ = _read(files, lenient=False)
    check_lengths(list(proteins.values()))
    model = load_model_source(source)
    records = encode_proteins(model, list(proteins.values()), batch)
    save_latents(out, records)
    nodes, residues = sum(r.num_nodes for r in records), sum(r.num_residues for r in records)
    console.print(f"wrote {out}: {len(records)} structure{'s' * (len(records) != 1)}, {residues} residues in "
                  f"{nodes} latent nodes of {records[0].irreps} (model {source.path})", highlight=False, markup=False)


def decode(
    latents: Path = typer.Argument(..., help="Latent file written by 'genmol encode protein' (.npz)."),
    out: Path = typer.Option(..., "--out", "-o", help="Structure file (.pdb, .cif, .bcif) for one structure, or a "
                                                      "directory (files named after the encoded files)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help=_CHECKPOINT_HELP),
    batch: int = typer.Option(8, "--batch", help="Chains decoded together."),
):
    """Decode latents back into all-atom structures (predicted residue types; the encoded chains and numbering)."""
    from genmol.models.ophiuchus.inference import decode_latents, load_latents, model_fingerprint

    _check_batch(batch)
    records = load_latents(latents)
    if out.is_dir() or (not _is_structure(out) and not out.exists()):
        names, paths = set(), []
        for i, r in enumerate(records):
            name = Path(r.source).name if r.source else f"structure_{i}.pdb"
            if not _is_structure(Path(name)):
                name += ".pdb"
            if name in names:
                name = f"{Path(name).stem}_{i}{Path(name).suffix}"
            names.add(name)
            paths.append(out / name)
    elif _is_structure(out):
        if len(records) != 1:
            raise GenmolError(f"{latents} holds {len(records)} structures; pass an output directory as --out")
        paths = [out]
    else:
        raise GenmolError(f"--out {out}: unsupported structure file type {out.suffix or '(none)'!r}; use one of "
                          f"{', '.join(STRUCTURE_SUFFIXES)} (or a directory)")
    source = model_source(checkpoint, _FAMILY)
    for r, p in zip(records, paths):
        if p.suffix.lower() in _PDB_SUFFIXES and any(len(str(c)) > 1 for c in r.chain_id):
            raise GenmolError(f"{p}: the chain ids of {r.source or latents} do not fit PDB's one-character column; "
                              "write mmCIF (.cif) instead")
    model = load_model_source(source)
    fingerprint = model_fingerprint(model)
    if any(r.model and r.model != fingerprint for r in records):
        console.print(f"note: {latents} was encoded by another model than {source.path} (weights differ); the "
                      "structures may be meaningless", highlight=False, markup=False)
    proteins = decode_latents(model, records, batch)
    for p, path in zip(proteins, paths):
        _write_structure(path, p)
    where = paths[0] if len(paths) == 1 and paths[0] == out else out
    console.print(f"wrote {len(proteins)} structure{'s' * (len(proteins) != 1)} "
                  f"({sum(p.num_residues for p in proteins)} residues) to {where}", highlight=False, markup=False)


# ---------------------------------------------------------------------------------------------- evaluate

_REASONS = (("is empty", "empty file"), ("holds no protein residues", "no protein residues"),
            ("no amino acid has a complete backbone", "a chain without a complete backbone"),
            ("holds no atoms", "no atom records"), ("is not a readable", "unreadable or truncated file"),
            ("is not UTF-8", "not text"), ("non-finite", "non-finite coordinates"),
            ("cannot be read", "cannot be read"), ("residues and the reference", "residues differ from the reference"),
            ("no reference named", "no reference of the same name"),
            ("the protein autoencoder takes per chain", "a chain over the length budget"),
            ("no residue has a Cα atom", "a chain without Cα atoms"))


def _reason(message: str) -> str:
    """A short category of an error sentence, for tallies."""
    if message.startswith("the reference of "):
        return "unreadable reference"
    for pattern, reason in _REASONS:
        if pattern in message:
            return reason
    return "other"


def _tally(errors: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for message in errors.values():
        out[_reason(message)] = out.get(_reason(message), 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _tally_text(tally: dict[str, int]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in tally.items())


def _match_references(preds: list[Path], reference: Path) -> tuple[dict, dict]:
    """``(pred file -> reference file, pred file -> why there is none)``: one reference file for every prediction,
    or in a reference directory the file of the same name (else of the same stem, if that is unique)."""
    is_dir, refs = _structure_files(reference)
    if not is_dir:
        return {p: refs[0] for p in preds}, {}
    by_name = {r.name: r for r in refs}
    by_stem: dict[str, list[Path]] = {}
    for r in refs:
        by_stem.setdefault(r.stem, []).append(r)
    matched, missing = {}, {}
    for p in preds:
        if p.name in by_name:
            matched[p] = by_name[p.name]
        elif len(by_stem.get(p.stem, [])) == 1:
            matched[p] = by_stem[p.stem][0]
        else:
            missing[p] = f"{p}: no reference named {p.name} in {reference}"
    return matched, missing


def evaluate(
    input: Path = typer.Argument(..., help="Structures to score: a file (.pdb, .ent, .cif, .mmcif, .bcif) or a "
                                           "directory of them."),
    reference: Optional[Path] = typer.Option(
        None, "--reference", help="Reference structure(s) to compare with: a file (compared with every structure) "
                                  "or a directory (matched by file name, else by name without suffix)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the metrics as JSON here."),
    ensemble: bool = typer.Option(False, "--ensemble", help="Also the set metrics: pooled secondary structure, Rg "
                                                            "scaling, diversity (pairwise TM-align), novelty against "
                                                            "a reference directory."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
):
    """Chemistry and shape of protein structures (bond lengths and angles, peptide bonds, Cα spacing, clashes,
    Rg, P-SEA secondary structure); with --reference also RMSD, GDT, lDDT, TM-score and recovery. Mean ± std
    over the structures; unreadable structures are counted by reason."""
    from genmol.eval.proteins import RECONSTRUCTION_KEYS, STRUCTURE_KEYS, structure_metrics

    is_dir, files = _structure_files(input)
    matched, no_reference = _match_references(files, reference) if reference is not None else ({}, {})
    per: dict[str, dict] = {}
    ref_cache: dict[Path, object] = {}
    compare_keys = [k for k in RECONSTRUCTION_KEYS if k not in STRUCTURE_KEYS]
    uncompared: dict[str, str] = {}
    if reference is not None and not reference.is_dir():
        from genmol.io.structures import read_structure

        ref_cache[reference] = read_structure(reference)  # one reference for all: unreadable is an error
    with _progress(is_dir and not no_progress) as bar:
        task = bar.add_task("reading", total=len(files))
        proteins, errors = _read(files, lenient=is_dir, progress=lambda: bar.advance(task))
        bar.update(task, description="scoring", completed=0, total=len(proteins))
        for f, p in proteins.items():
            try:
                per[str(f)] = {"structure": structure_metrics(p)}
            except GenmolError as e:
                errors[f] = str(e)
            if str(f) in per and f in no_reference:
                uncompared[str(f)] = no_reference[f]
            elif str(f) in per and f in matched:
                uncompared.update(_compare(f, p, matched[f], ref_cache, per[str(f)], compare_keys))
            bar.advance(task)
    scored = [f for f in proteins if str(f) in per]
    if not scored:
        raise GenmolError(f"none of the {len(files)} structure files in {input} could be scored "
                          f"({_tally_text(_tally(errors))})")
    summary = {"structure": {k: _stats([per[str(f)]["structure"][k] for f in scored]) for k in STRUCTURE_KEYS}}
    compared = [f for f in scored if "comparison" in per[str(f)]]
    if reference is not None:
        summary["comparison"] = {k: _stats([per[str(f)]["comparison"][k] for f in compared]) for k in compare_keys}
    ens = None
    if ensemble:
        from genmol.eval.proteins import ensemble_metrics

        refs = None
        if reference is not None and reference.is_dir():  # novelty against the whole reference set
            known, _ = _read([r for r in _structure_files(reference)[1] if r not in ref_cache], lenient=True)
            refs = list(ref_cache.values()) + list(known.values())
        ens = ensemble_metrics([proteins[f] for f in scored], reference=refs or None)
    _print_evaluation(input, len(files), len(scored), summary, ens, errors, uncompared, reference, len(compared))
    if json_out is not None:
        from genmol.io.atomic import atomic_write_text

        payload = {"input": str(input), "reference": str(reference) if reference is not None else None,
                   "num_files": len(files), "num_scored": len(scored), "num_unreadable": len(errors),
                   "unreadable_reasons": _tally(errors), "unreadable": {str(k): v for k, v in errors.items()},
                   **summary, "per_structure": per}
        if reference is not None:
            payload.update(num_compared=len(compared), uncompared_reasons=_tally(uncompared), uncompared=uncompared)
        if ens is not None:
            payload["ensemble"] = ens
        atomic_write_text(json_out, json.dumps(_json_safe(payload), indent=2) + "\n")


def _compare(f: Path, protein, ref_path: Path, cache: dict, row: dict, keys: list[str]) -> dict[str, str]:
    """Adds the comparison with the reference to ``row``; ``{file: sentence}`` if there is none."""
    from genmol.eval.proteins import reconstruction_metrics
    from genmol.io.structures import read_structure

    try:
        if ref_path not in cache:
            cache[ref_path] = read_structure(ref_path)
    except GenmolError as e:
        return {str(f): f"the reference of {f.name}: {e}"}
    try:
        m = reconstruction_metrics(protein, cache[ref_path])
    except GenmolError as e:
        return {str(f): str(e)}
    row["comparison"] = {k: m[k] for k in keys}
    row["reference"] = str(ref_path)
    return {}


def _print_evaluation(input, n_files, n_scored, summary, ens, errors, uncompared, reference, n_compared) -> None:
    from rich.table import Table

    out = out_console()
    out.print(f"{input}: {n_scored} of {n_files} structure{'s' * (n_files != 1)} scored", markup=False,
              highlight=False)
    for section, title in (("structure", "structure metrics"), ("comparison", f"against {reference}")):
        if section not in summary:
            continue
        t = Table(title=title)
        t.add_column("metric")
        t.add_column("mean ± std", justify="right")
        t.add_column("n", justify="right")
        for k, s in summary[section].items():
            digits = 1 if k in ("num_residues", "clashes", "clashes_per_100_residues") else 3
            value = "—" if s["mean"] is None else f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"
            t.add_row(k, value, str(s["n"]))
        out.print(t)
    if ens is not None:
        t = Table(title="set metrics")
        t.add_column("metric")
        t.add_column("value", justify="right")
        for k, v in ens.items():
            t.add_row(k, _fmt(v, 4))
        out.print(t)
    if errors:
        out.print(f"unreadable or unscorable: {len(errors)} ({_tally_text(_tally(errors))})", markup=False,
                  highlight=False)
        for e in errors.values():
            out.print(f"  {e}", markup=False, highlight=False)
    if reference is not None and uncompared:
        out.print(f"not compared: {len(uncompared)} of {n_compared + len(uncompared)} "
                  f"({_tally_text(_tally(uncompared))})", markup=False, highlight=False)
        for e in uncompared.values():
            out.print(f"  {e}", markup=False, highlight=False)


# ---------------------------------------------------------------------------------------------- view


def view(
    file: Path = typer.Argument(..., help="Molecules (.sdf, .xyz, .extxyz, .npz) or protein structures (.pdb, "
                                          ".ent, .cif, .mmcif, .bcif, or a directory of them)."),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to write (self-contained, works offline)."),
    limit: int = typer.Option(60, "--max", help="Show at most this many molecules or structures (the first ones)."),
    overlay: Optional[Path] = typer.Option(None, "--overlay", help="Proteins: a second structure drawn over the "
                                                                   "first (superposed on Cα when the residue counts "
                                                                   "match), e.g. a reconstruction over its input."),
):
    """Write an HTML page showing molecules (ball and stick, SMILES, validity) or proteins (ribbon and sticks)
    in 3D."""
    if not (file.is_dir() or _is_structure(file)):
        from genmol.cli import molecules
        from genmol.io.molecules import FORMATS

        if file.suffix.lower() not in FORMATS:
            raise GenmolError(f"{file}: unsupported file type {file.suffix or '(none)'!r}; use molecules "
                              f"({', '.join(FORMATS)}) or protein structures ({', '.join(STRUCTURE_SUFFIXES)})")
        if overlay is not None:
            raise GenmolError("--overlay applies to protein structures only")
        return molecules.view(file, out, limit)
    from genmol.viz.proteins_html import Panel, write_proteins_html

    if limit < 1:
        raise GenmolError(f"--max {limit}: show at least 1 structure")
    is_dir, files = _structure_files(file)
    if overlay is not None and is_dir:
        raise GenmolError("--overlay needs a single structure file, not a directory")
    shown_files = files[:limit]
    proteins, errors = _read(shown_files, lenient=is_dir)
    if not proteins:
        raise GenmolError(f"none of the {len(shown_files)} structure files in {file} could be read "
                          f"({_tally_text(_tally(errors))})")
    extra = []
    if overlay is not None:
        _structure_files(overlay)
        extra = list(_read([overlay], lenient=False)[0].values())
    panels = []
    for f, p in proteins.items():
        caption = f"{f.name}: {p.num_residues} residues, chain{'s' * (len(p.chains()) > 1)} {', '.join(p.chains())}"
        labels = [f.name] + ([overlay.name] if overlay is not None else [])
        panels.append(Panel([p, *extra], labels, caption))
    total = len(files)
    shown = (f"{len(panels)} structure{'s' * (len(panels) != 1)}" if len(shown_files) == total
             else f"the first {len(shown_files)} of {total} structures")
    write_proteins_html(out, panels, title=f"{file.name}: {shown}", size=440 if len(panels) < 3 else 340)
    more = "" if len(shown_files) == total else f"; --max {total} shows all"
    bad = f"; {len(errors)} unreadable ({_tally_text(_tally(errors))})" if errors else ""
    console.print(f"wrote {out} ({shown}{more}{bad})", highlight=False, markup=False)


# ---------------------------------------------------------------------------------------------- sample


def _lengths(num: int, length: Optional[int], length_range: Optional[tuple[int, int]], seed: int) -> list[int]:
    import numpy as np

    from genmol.models.ophiuchus.sample import MAX_LENGTH

    if num < 1:
        raise GenmolError(f"--num {num}: sample at least 1 protein")
    if (length is None) == (length_range is None):
        raise GenmolError("give either --length L or --length-range MIN MAX")
    lo, hi = (length, length) if length is not None else length_range
    if not 2 <= lo <= hi <= MAX_LENGTH:
        raise GenmolError(f"lengths {lo}..{hi}: residues per protein must satisfy 2 <= MIN <= MAX <= {MAX_LENGTH}")
    return np.random.default_rng([seed, 1]).integers(lo, hi + 1, size=num).tolist()


def sample(
    num: int = typer.Option(10, "--num", "-n", help="Proteins to sample."),
    length: Optional[int] = typer.Option(None, "--length", help="Residues per protein (the shipped model was "
                                                                 "trained on chains of 32-128)."),
    length_range: Optional[tuple[int, int]] = typer.Option(None, "--length-range",
                                                           help="Draw each length uniformly from MIN..MAX."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write (one PDB file per sample and "
                                                      "summary.json); must not exist yet."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="A protein_diffusion model directory "
                                                                         "(default: the shipped one) or run."),
    seed: int = typer.Option(0, "--seed", help="Random seed (a sample depends on the seed and its index only)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Integration steps (default: the model's)."),
    churn: float = typer.Option(0.0, "--churn", help="Flow-path models: integrate the same-marginal SDE with this "
                                                     "diffusion instead of the ODE (0: the ODE)."),
    batch: int = typer.Option(8, "--batch", help="Proteins sampled together."),
    view_html: Optional[Path] = typer.Option(None, "--view", help="Also write an HTML view of the samples."),
):
    """Sample new all-atom proteins by latent diffusion and decode them; prints their validity, secondary
    structure, Rg and diversity."""

    from genmol.eval.proteins import ensemble_metrics
    from genmol.io.atomic import atomic_directory, atomic_write_text
    from genmol.models.ophiuchus.sample import sample_proteins

    _check_batch(batch)
    lengths = _lengths(num, length, length_range, seed)
    if steps is not None and steps < 1:
        raise GenmolError(f"--steps {steps}: integrate at least 1 step")
    if out.exists():
        raise GenmolError(f"--out {out} already exists; choose a new directory")
    source = model_source(checkpoint, "protein_diffusion")
    model = load_model_source(source)
    if steps is not None:
        model.config.num_steps = int(steps)
    with _progress(True) as bar:
        task = bar.add_task("sample", total=len(lengths))
        proteins = sample_proteins(model, lengths, seed=seed, batch_size=batch, churn=churn,
                                   on_batch=lambda n: bar.advance(task, n))
    metrics = ensemble_metrics(proteins)
    with atomic_directory(out) as staging:
        for i, p in enumerate(proteins):
            _write_structure(staging / f"sample_{i:04d}.pdb", p)
        record = {"model": str(source.path), "seed": seed, "num_steps": int(model.config.num_steps), "churn": churn,
                  "lengths": lengths, "metrics": _json_safe(metrics)}
        atomic_write_text(staging / "summary.json", json.dumps(record, indent=2) + "\n")
    if view_html is not None:
        from genmol.viz.proteins_html import Panel, write_proteins_html

        panels = [Panel([p], [f"sample {i}"], f"sample {i}: {p.num_residues} residues")
                  for i, p in enumerate(proteins[:60])]
        write_proteins_html(view_html, panels, title=f"{len(proteins)} samples (seed {seed})")
    keys = (("ca_ca_valid_fraction", "all Cα–Cα in 3.8 ± 0.2 Å"), ("clashes_per_100_residues", "clashes / 100 res"),
            ("helix_fraction", "helix"), ("strand_fraction", "strand"), ("radius_of_gyration", "Rg (Å)"),
            ("diversity_tm", "mean pairwise TM"))
    console.print(f"wrote {len(proteins)} proteins to {out}/ ("
                  + ", ".join(f"{label} {_fmt(metrics.get(k))}" for k, label in keys) + ")",
                  highlight=False, markup=False)
