"""``genmol data``: inspect the data sets genmol can load (QM9, protein sets) and export the embedded MD."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(help="Inspect the data sets genmol can load.", no_args_is_help=True, rich_markup_mode=None)


@app.command("qm9")
def qm9(
    source: str = typer.Option("auto", "--source",
                               help="auto | qm9pack | embedded | a path (tarball, dir, gdb9.sdf, xyz)."),
    stats: bool = typer.Option(True, "--stats/--no-stats", help="Print molecule/atom counts and elements."),
    split: bool = typer.Option(False, "--split", help="Also print EDM's train/valid/test sizes (full QM9 only)."),
):
    """Load QM9 from SOURCE and print what it holds."""
    from rich.table import Table

    from genmol.cli.common import out_console
    from genmol.data.molecules.qm9 import describe, edm_split, load_qm9, qm9pack_dir

    resolved = ("qm9pack" if qm9pack_dir() is not None else "embedded") if source == "auto" else source
    ms = load_qm9(resolved)
    out = out_console()
    out.print(f"QM9 source: {resolved}", markup=False)
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


@app.command("proteins")
def proteins(
    path: str = typer.Option("embedded", "--path", help="embedded | a protein-set .npz | a directory of structures."),
    split: str = typer.Option("all", "--split", help="all | train | valid | test (by 40%-identity cluster)."),
    out: str = typer.Option(None, "--out", help="Also write the chosen proteins as PDB files into this new "
                                                "directory (one per chain, named after the entry)."),
    max_length: int = typer.Option(0, "--max-length", help="Only chains of at most this many residues (0: all)."),
):
    """Load a protein set and print what it holds (per split); optionally write a split as PDB files."""
    from pathlib import Path

    from genmol.cli.common import out_console
    from genmol.data.proteins.dataset import SPLITS, ProteinSet
    from genmol.errors import GenmolError
    from genmol.io.atomic import atomic_directory
    from genmol.io.structures import write_pdb

    if split not in ("all",) + tuple(SPLITS):
        raise GenmolError(f"--split {split}: use all, {', '.join(SPLITS)}")
    if out is not None and Path(out).exists():
        raise GenmolError(f"--out {out} already exists; choose a new directory")
    ps = ProteinSet.load(path)
    if split != "all":
        ps = ps.split(split)
    if max_length:
        ps = ps.filter(max_length=max_length)
    console = out_console()
    console.print(ps.summary(), markup=False, highlight=False)
    if out is None:
        return
    target = Path(out)
    with atomic_directory(target) as staging:
        for name, p in zip(ps.names, ps):
            stem = str(name).replace("/", "_").replace(":", "_")
            stem = stem[:-4] if stem.lower().endswith(".pdb") else stem
            write_pdb(staging / f"{stem}.pdb", p)
    console.print(f"wrote {len(ps)} PDB files to {target}", markup=False, highlight=False)


@app.command("md")
def md(
    out: str = typer.Option(..., "--out", help="A new directory for the XTC trajectory and its topology PDB "
                                               "(<name>_topology.pdb)."),
    system: str = typer.Option("ala2", "--system", help="ala2 (alanine dipeptide, 300/400 K) | trpcage "
                                                         "(Trp-cage, 320/400 K)."),
    temperature: float = typer.Option(None, "--temperature", help="K: 300 or 400 for ala2 (default 300), 320 or "
                                                                  "400 for trpcage (default 320)."),
    split: str = typer.Option("all", "--split", help="all | train | tail (the held-out last 20 % of the 300 K "
                                                     "ala2 / 320 K trpcage run; the 400 K runs have none)."),
):
    """Write an embedded MD (heavy atoms, 1 ps per frame) as XTC + a topology PDB, readable with
    mdtraj.load(xtc, top=pdb), 'genmol evaluate dynamics' and, its first frame, 'genmol simulate'."""
    import dataclasses
    from pathlib import Path

    import numpy as np

    from genmol.cli.common import out_console
    from genmol.data.mdcath import embedded_md
    from genmol.errors import GenmolError
    from genmol.io.atomic import atomic_directory
    from genmol.io.trajectory_writer import TrajectoryWriter

    if split not in ("all", "train", "tail"):
        raise GenmolError(f"--split {split}: use all, train or tail")
    if Path(out).exists():
        raise GenmolError(f"--out {out} already exists; choose a new directory")
    data = embedded_md(system)
    everything = data.view("all")
    (domain,) = everything.domains()
    runs = everything.trajectories()
    temps = sorted({k.temperature_K for k in runs})
    temperature = temps[0] if temperature is None else temperature
    if not any(abs(temperature - t) < 1e-6 for t in temps):
        raise GenmolError(f"--temperature {temperature:g}: the embedded {system} MD has "
                          f"{' and '.join(f'{t:g}' for t in temps)} K")
    key = next(k for k in runs if abs(k.temperature_K - temperature) < 1e-6)
    start, stop = data.view(split).window(key)
    if start == stop:
        raise GenmolError(f"the {temperature:g} K {system} run has no {split} frames (only the {temps[0]:g} K run has "
                          "a held-out tail); use --split all or train")
    interval = data.frame_interval_ps(key)
    frames = data.file(domain).frames(key, start, stop)
    topology = dataclasses.replace(data.topology(domain), positions=frames[0], source="")
    name = f"{system}_{temperature:g}K_{split}.xtc"
    target = Path(out)
    with atomic_directory(target) as staging:
        with TrajectoryWriter(staging / name, topology) as writer:  # also writes <stem>_topology.pdb
            writer.append(frames, (start + np.arange(len(frames))) * interval)
        top_name = writer.topology_path.name
    out_console().print(f"wrote {target / top_name} and {target / name}: {system} ({domain}), "
                        f"{topology.num_residues} residues, {int(topology.atom_mask.sum())} heavy atoms, "
                        f"{len(frames):,} frames ({start:,}–{stop - 1:,}) at {temperature:g} K, {interval:g} ps apart "
                        f"({split} split; times in ps from the start of the run)", markup=False, highlight=False)
