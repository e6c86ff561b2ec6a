"""QM9 (explicit hydrogens, Å), offline.

Sources, in the order users usually want them:

* ``"qm9pack"`` — all 130,831 characterized molecules from the installed PyPI package
  ``qm9pack`` (``pip install 'genmol[qm9]'``); its CSV files are located without importing
  the package, parsed once (~15 s) and cached as ``.npz`` under ``$GENMOL_CACHE_DIR``
  (default ``~/.cache/genmol``) keyed by the CSV files' SHA-256;
* ``"embedded"`` — the 2,000 real QM9 molecules shipped in ``data/qm9/``;
* ``"auto"`` — ``qm9pack`` if installed, else ``embedded``;
* a path: the figshare tarball ``dsgdb9nsd.xyz.tar.bz2`` or a directory of
  ``dsgdb9nsd_*.xyz`` (with ``uncharacterized.txt`` beside it, those are excluded),
  MoleculeNet's ``gdb9.sdf`` (``gdb9.sdf.csv`` beside it gives properties), or XYZ/extxyz.

:func:`edm_split` rebuilds EDM's train/valid/test split exactly.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np

from genmol.data.molecules.molecule_set import MoleculeSet
from genmol.data.paths import embedded_file
from genmol.errors import GenmolError
from genmol.data.elements import atomic_number
from genmol.io.qm9_formats import PROPERTY_NAMES, iter_figshare, iter_gdb9_sdf, iter_qm9pack_csv, read_uncharacterized
from genmol.io.xyz import read_xyz

__all__ = ["load_qm9", "qm9pack_dir", "edm_split", "cache_dir", "EMBEDDED_QM9", "QM9_SIZE", "describe"]

EMBEDDED_QM9 = ("qm9", "qm9_subset_2000.extxyz")
QM9_SIZE = 130_831
EDM_SPLIT_SIZES = (100_000, 17_748, 13_083)


def cache_dir() -> Path:
    return Path(os.environ.get("GENMOL_CACHE_DIR", Path.home() / ".cache" / "genmol"))


def qm9pack_dir() -> Path | None:
    """The installed ``qm9pack`` data directory, found without importing the package (its import pulls pandas)."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "data"
    return d if all((d / f"qm9_part{i}.csv").is_file() for i in (1, 2, 3)) else None


def _file_sha256(paths: list[Path]) -> str:
    """Content hash of ``paths``, memoised on (path, size, mtime) in the cache directory."""
    memo_path = cache_dir() / "qm9" / "hashes.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, json.JSONDecodeError):
        memo = {}
    key = "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths)
    if key in memo:
        return memo[key]
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    memo[key] = h.hexdigest()
    from genmol.io.atomic import atomic_write_text

    atomic_write_text(memo_path, json.dumps(memo))
    return memo[key]


def _load_qm9pack(progress: bool = False) -> MoleculeSet:
    d = qm9pack_dir()
    if d is None:
        raise GenmolError("the full QM9 needs the qm9pack package: pip install 'genmol[qm9]'")
    files = [d / f"qm9_part{i}.csv" for i in (1, 2, 3)]
    cache = cache_dir() / "qm9" / f"qm9pack_{_file_sha256(files)[:16]}.npz"
    if cache.is_file():
        return MoleculeSet.load_npz(cache)
    from tqdm.auto import tqdm

    index, smiles, z, pos, n = [], [], [], [], []
    props = {k: [] for k in PROPERTY_NAMES}
    table: dict[str, int] = {}
    with tqdm(total=QM9_SIZE, desc="parsing qm9pack", disable=not progress) as bar:
        for f in files:
            for idx, smi, elements, coords, p in iter_qm9pack_csv(f):
                index.append(idx)
                smiles.append(smi)
                z.extend(table.setdefault(e, atomic_number(e)) for e in elements)
                pos.append(coords)
                n.append(len(elements))
                for k in PROPERTY_NAMES:
                    props[k].append(p[k])
                bar.update(1)
    order = np.argsort(index, kind="stable")
    offsets_unsorted = np.concatenate([[0], np.cumsum(n)])
    ms = MoleculeSet(np.concatenate(pos), np.array(z, np.int16), offsets_unsorted,
                     {"qm9_index": np.array(index, np.int64), **{k: np.array(v) for k, v in props.items()}}, smiles)
    ms = ms.subset(order)
    ms.save_npz(cache)
    return ms


def _load_path(path: Path) -> MoleculeSet:
    if not path.exists():
        raise GenmolError(f"{path} does not exist")
    name = path.name.lower()
    if path.is_dir() or name.endswith((".tar", ".tar.bz2", ".tbz2", ".tar.gz", ".tgz")):
        unc = path / "uncharacterized.txt" if path.is_dir() else path.parent / "uncharacterized.txt"
        exclude = read_uncharacterized(unc) if unc.is_file() else set()
        mols = list(iter_figshare(path, exclude))
    elif name.endswith(".sdf"):
        csv_path = Path(str(path) + ".csv")
        mols = list(iter_gdb9_sdf(path, csv_path if csv_path.is_file() else None))
    elif name.endswith((".xyz", ".extxyz")):
        mols = read_xyz(path)
    else:
        raise GenmolError(f"{path}: unknown QM9 format (expected a figshare tarball or directory, gdb9.sdf, or xyz)")
    keys = ["qm9_index", *PROPERTY_NAMES]
    return MoleculeSet.from_molecules(mols, property_keys=[k for k in keys if mols and k in mols[0].info])


@functools.lru_cache(maxsize=4)
def _load_cached(source: str) -> MoleculeSet:
    if source == "auto":
        source = "qm9pack" if qm9pack_dir() is not None else "embedded"
    if source == "qm9pack":
        return _load_qm9pack(progress=True)
    if source == "embedded":
        return _load_path(embedded_file(*EMBEDDED_QM9))
    return _load_path(Path(source))


def load_qm9(source: str = "embedded", limit: int | None = None) -> MoleculeSet:
    """QM9 molecules from ``source`` (see module docstring), sorted as the source lists them; first ``limit``."""
    ms = _load_cached(str(source))
    if len(ms) == 0:
        raise GenmolError(f"QM9 source {source!r} holds no molecules")
    return ms.subset(np.arange(min(limit, len(ms)))) if limit else ms


def edm_split(qm9_index: np.ndarray) -> dict[str, np.ndarray]:
    """EDM's QM9 split (Hoogeboom et al. 2022; Anderson et al. 2019) as 1-based QM9 indices.

    ``qm9_index`` must hold the 130,831 characterized molecules. They are sorted; NumPy's
    global RNG seeded with 0 draws a permutation; positions ``[0, 100000)`` are train, the
    next 17,748 valid, the last 13,083 test. Returned arrays are in permutation order.
    """
    included = np.sort(np.asarray(qm9_index))
    if len(included) != QM9_SIZE:
        raise GenmolError(f"the EDM split needs all {QM9_SIZE} characterized QM9 molecules, got {len(included)} "
                          "(install the qm9 extra)")
    state = np.random.get_state()
    try:
        np.random.seed(0)
        perm = np.random.permutation(QM9_SIZE)
    finally:
        np.random.set_state(state)
    a, b, _ = EDM_SPLIT_SIZES
    return {"train": included[perm[:a]], "valid": included[perm[a:a + b]], "test": included[perm[a + b:]]}


def describe(ms: MoleculeSet) -> dict:
    """Molecule and atom counts and the element histogram."""
    from genmol.data.elements import symbol

    zs, counts = np.unique(ms.atomic_numbers, return_counts=True)
    n = ms.num_atoms
    return {"molecules": len(ms), "atoms": int(n.sum()), "atoms_per_molecule_min": int(n.min()),
            "atoms_per_molecule_mean": float(n.mean()), "atoms_per_molecule_max": int(n.max()),
            "elements": {symbol(z): int(c) for z, c in zip(zs, counts)}}
