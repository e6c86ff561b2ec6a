"""Builds the embedded protein set ``data/proteins/set.npz`` from the shared structures and their manifest.

Reads every structure of ``structures.tar.gz`` listed in ``manifest.csv`` with genmol's own ``read_structure``
(model 1; waters, ligands, hydrogens and ``OXT`` dropped and counted), labels each chain with the manifest's
``cluster40``, ``tier`` and secondary-structure columns, splits train/valid/test by cluster
(:func:`genmol.data.proteins.dataset.split_by_cluster`), writes the set with ``ProteinSet.save_npz``, then reads
the file back and checks that every protein equals the one read from its PDB file (tokens, masks, numbering,
insertion codes, chains, dropped counts, positions to 1e-3 Å and in fact bit for bit).

Usage: python scripts/prepare_protein_set.py [--set-dir /work/shared/data/proteins/set]
                                             [--out data/proteins/set.npz]
"""

from __future__ import annotations

import argparse
import csv
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

from genmol.data.proteins import Dropped
from genmol.data.proteins.dataset import SPLIT_SEED, SPLITS, ProteinSet, split_by_cluster
from genmol.errors import GenmolError, run_script
from genmol.io.structures import read_structure

REPO = Path(__file__).resolve().parents[1]
TEXT_COLUMNS = ("pdb_id", "sse_class", "method", "source_set", "source_repo", "source_commit", "source_path",
                "license")
FLOAT_COLUMNS = ("frac_helix", "frac_strand", "resolution", "radius_of_gyration")


def _float(text: str) -> float:
    return float(text) if text.strip() else float("nan")


def read_set(set_dir: Path, workdir: Path) -> ProteinSet:
    """The proteins of the manifest, read from the tarball extracted into ``workdir``."""
    with open(set_dir / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with tarfile.open(set_dir / "structures.tar.gz") as tar:
        members = {m.name for m in tar.getmembers() if m.isfile()}
        tar.extractall(workdir, filter="data")
    listed = {r["file"] for r in rows}
    if listed != members or len(listed) != len(rows):
        raise GenmolError(f"manifest and tarball disagree: {len(listed - members)} listed files missing, "
                          f"{len(members - listed)} unlisted files, {len(rows) - len(listed)} repeated rows")
    proteins, dropped = [], Dropped()
    for r in rows:
        p = read_structure(workdir / r["file"])
        if len(p.chains()) != 1:
            raise GenmolError(f"{r['file']} holds chains {p.chains()}, expected one")
        if p.num_residues != int(r["n_residues"]):
            raise GenmolError(f"{r['file']}: {p.num_residues} residues read, the manifest says {r['n_residues']}")
        # The manifest's n_atoms counts the C-terminal OXT, which has no slot (read as an extra atom).
        if int(p.atom_mask.sum()) + p.dropped.extra_atoms != int(r["n_atoms"]):
            raise GenmolError(f"{r['file']}: {int(p.atom_mask.sum())} atoms (+{p.dropped.extra_atoms} extra) read, "
                              f"the manifest says {r['n_atoms']}")
        proteins.append(p)
        dropped = Dropped(**{k: getattr(dropped, k) + int(getattr(p.dropped, k)) for k in vars(dropped)})
    clusters = [r["cluster40"] for r in rows]
    info = {"source_chain": np.asarray([r["chain"] for r in rows], dtype=str),
            **{c: np.asarray([r[c] for r in rows], dtype=str) for c in TEXT_COLUMNS},
            **{c: np.asarray([_float(r[c]) for r in rows], dtype=np.float32) for c in FLOAT_COLUMNS}}
    names = [Path(r["file"]).stem for r in rows]
    return ProteinSet(proteins, names, clusters, split_by_cluster(clusters), [r["tier"] for r in rows], info,
                      dropped, "embedded")


def verify(path: Path, reference: ProteinSet) -> float:
    """Reads ``path`` back and compares every protein with ``reference``; returns the load time in seconds."""
    start = time.perf_counter()
    loaded = ProteinSet.load_npz(path)
    seconds = time.perf_counter() - start
    if len(loaded) != len(reference) or list(loaded.names) != list(reference.names):
        raise GenmolError(f"{path}: the names or the number of proteins differ after reading back")
    worst = 0.0
    for name, a, b in zip(reference.names, loaded, reference):
        for field in ("aatype", "atom_mask", "residue_index", "insertion_code", "chain_id"):
            if not np.array_equal(getattr(a, field), getattr(b, field)):
                raise GenmolError(f"{path}: {name}.{field} differs after reading back")
        if a.dropped != b.dropped:
            raise GenmolError(f"{path}: {name}.dropped differs after reading back")
        worst = max(worst, float(np.abs(a.positions - b.positions).max(initial=0)))
        if not np.array_equal(a.positions, b.positions) and worst > 1e-3:
            raise GenmolError(f"{path}: {name} positions differ by {worst:.2g} Å after reading back")
    for key in ("clusters", "splits", "tiers"):
        if not np.array_equal(getattr(loaded, key), getattr(reference, key)):
            raise GenmolError(f"{path}: {key} differ after reading back")
    print(f"verified: {len(loaded)} proteins identical after reading back (largest position difference "
          f"{worst:.1g} Å); load time {seconds:.2f} s")
    return seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set-dir", type=Path, default=Path("/work/shared/data/proteins/set"),
                   help="folder with manifest.csv and structures.tar.gz")
    p.add_argument("--out", type=Path, default=REPO / "data" / "proteins" / "set.npz")
    a = p.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        proteins = read_set(a.set_dir, Path(tmp))
    print(f"read {len(proteins)} structures in {time.perf_counter() - start:.1f} s")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    proteins.save_npz(a.out)
    verify(a.out, proteins)
    clusters_per_split = {s: len(np.unique(proteins.clusters[proteins.splits == s])) for s in SPLITS}
    print(f"wrote {a.out}: {a.out.stat().st_size:,} bytes ({a.out.stat().st_size / 2**20:.2f} MiB)")
    print(proteins.summary())
    print(f"split seed {SPLIT_SEED}; clusters per split: " + ", ".join(f"{s} {n}" for s, n in
                                                                       clusters_per_split.items()))
    for s in SPLITS:
        sub = proteins.split(s)
        tiers = ", ".join(f"{t} {int((sub.tiers == t).sum())}" for t in np.unique(sub.tiers))
        print(f"  {s}: {len(sub)} proteins, {int(sub.lengths.sum()):,} residues, tiers {tiers}")


if __name__ == "__main__":
    run_script(main)
