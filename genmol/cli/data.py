"""``genmol data``: inspect the data sets genmol can load."""

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
