"""Sets of single-chain proteins with names, clusters and a fixed train/valid/test split.

:meth:`ProteinSet.load` reads

* ``"embedded"`` (the default of ``data.path``): the 627 real PDB chains shipped in ``data/proteins/set.npz``
  (one per 40%-identity cluster, up to 300 residues; ``data/proteins/README.md``), in well under a second;
* a ``.npz`` file in the same format (written by :meth:`ProteinSet.save_npz`);
* a directory of PDB/mmCIF/BinaryCIF files (searched recursively; suffixes as in
  :data:`genmol.io.structures.STRUCTURE_FORMATS`), or one such file: model 1 of every file, every protein chain
  one entry named ``"<file relative to the directory>:<chain>"``. Each file is its own cluster unless the
  directory holds a ``manifest.csv`` with columns ``file, chain, cluster40`` (``file`` relative to the directory;
  an empty ``chain`` covers every chain of the file; a ``tier`` column and any other columns are kept as
  per-protein labels). A file that cannot be read raises its :class:`GenmolError` (naming the file); nothing is
  skipped silently. What the reader left out (waters, ligands, ``OXT``, ...) is summed in
  :attr:`ProteinSet.dropped` and reported by :meth:`ProteinSet.summary`.

**Split rule** (:func:`split_by_cluster`): the distinct cluster ids, sorted as strings, are permuted with
``np.random.default_rng(SPLIT_SEED)`` (``SPLIT_SEED = 0``); the first ``n - 2 * round(n / 10)`` clusters are
``train``, the next ``round(n / 10)`` ``valid`` and the last ``round(n / 10)`` ``test`` (halves rounded up), so a
cluster never spans two splits. The embedded set stores the split it was made with; directories are split when
loaded, by the same function.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import zipfile
from pathlib import Path

import numpy as np

from genmol.data.paths import embedded_file
from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Dropped, Protein
from genmol.errors import GenmolError

__all__ = ["ProteinSet", "split_by_cluster", "SPLITS", "SPLIT_SEED", "EMBEDDED_SET", "FORMAT_VERSION"]

SPLITS = ("train", "valid", "test")
SPLIT_SEED = 0
EMBEDDED_SET = ("proteins", "set.npz")
FORMAT_VERSION = 1
MANIFEST = "manifest.csv"
MILLI = 1000
_DROPPED_FIELDS = tuple(f.name for f in dataclasses.fields(Dropped))
_SLOT_BITS = (1 << np.arange(rc.NUM_SLOTS)).astype(np.uint16)


def _round_half_up(x: float) -> int:
    return int(np.floor(x + 0.5))


def split_by_cluster(clusters, seed: int = SPLIT_SEED) -> np.ndarray:
    """``[N]`` split labels (``"train"``, ``"valid"``, ``"test"``) for entries with cluster ids ``clusters``:
    80/10/10 of the distinct clusters by the rule in the module docstring (deterministic; a cluster never spans
    two splits; fewer than 5 clusters all go to ``train``)."""
    clusters = np.asarray([str(c) for c in clusters], dtype=str)
    unique = np.unique(clusters)  # sorted as strings
    n = len(unique)
    n_held = _round_half_up(n / 10)
    order = unique[np.random.default_rng(seed).permutation(n)]
    label = dict.fromkeys(order[:n - 2 * n_held].tolist(), "train")
    label |= dict.fromkeys(order[n - 2 * n_held:n - n_held].tolist(), "valid")
    label |= dict.fromkeys(order[n - n_held:].tolist(), "test")
    return np.asarray([label[c] for c in clusters.tolist()], dtype="<U5")


def _cat(arrays: list, shape: tuple, dtype) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(shape, dtype)


def _add_dropped(a: Dropped, b: Dropped) -> Dropped:
    return Dropped(**{f: int(getattr(a, f)) + int(getattr(b, f)) for f in _DROPPED_FIELDS})


@dataclasses.dataclass
class ProteinSet:
    """Single-chain proteins with per-protein labels (all arrays ``[N]``).

    Attributes:
        proteins: the chains (``Protein.source`` names the file, or ``"<npz>:<name>"``).
        names: unique names (``"1y93_A"`` in the embedded set, ``"<file>:<chain>"`` for directories).
        clusters: cluster ids as strings (the embedded set: the manifest's 40%-identity ``cluster40``).
        splits: ``"train"``, ``"valid"`` or ``"test"``.
        tiers: quality tiers (embedded: ``"A"`` clean single-chain monomers, ``"B"`` the rest); ``""`` if unknown.
        info: further per-protein columns (embedded: ``frac_helix``, ``frac_strand``, ``sse_class``, ``pdb_id``,
            ``source_chain``, provenance, ...).
        dropped: what the reader left out, summed over the source files.
        source: where the set was loaded from.
    """

    proteins: list[Protein]
    names: np.ndarray
    clusters: np.ndarray
    splits: np.ndarray
    tiers: np.ndarray
    info: dict = dataclasses.field(default_factory=dict)
    dropped: Dropped = dataclasses.field(default_factory=Dropped)
    source: str = ""

    def __post_init__(self):
        n = len(self.proteins)
        for name in ("names", "clusters", "splits", "tiers"):
            setattr(self, name, np.asarray(getattr(self, name), dtype=str).reshape(-1))
            if len(getattr(self, name)) != n:
                raise ValueError(f"ProteinSet.{name} has {len(getattr(self, name))} entries for {n} proteins")
        self.info = {k: np.asarray(v) for k, v in self.info.items()}
        for k, v in self.info.items():
            if v.shape[:1] != (n,):
                raise ValueError(f"ProteinSet.info[{k!r}] has shape {v.shape} for {n} proteins")
        if len(set(self.names.tolist())) != n:
            raise ValueError("ProteinSet.names must be unique")

    # ------------------------------------------------------------------------------------------ access

    def __len__(self) -> int:
        return len(self.proteins)

    def __getitem__(self, i: int) -> Protein:
        return self.proteins[i]

    def __iter__(self):
        return iter(self.proteins)

    @property
    def lengths(self) -> np.ndarray:
        """``[N]`` int: residues per protein."""
        return np.asarray([p.num_residues for p in self.proteins], dtype=np.int64)

    def index(self, name: str) -> int:
        """The position of the protein called ``name``."""
        hits = np.flatnonzero(self.names == name)
        if not len(hits):
            raise GenmolError(f"{self.source or 'the protein set'} has no protein named {name!r}")
        return int(hits[0])

    def subset(self, indices) -> ProteinSet:
        """The proteins at ``indices`` (labels kept; ``dropped`` stays the total of the source files)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        return dataclasses.replace(
            self, proteins=[self.proteins[i] for i in idx], names=self.names[idx], clusters=self.clusters[idx],
            splits=self.splits[idx], tiers=self.tiers[idx], info={k: v[idx] for k, v in self.info.items()})

    def split(self, name: str) -> ProteinSet:
        """The proteins of split ``name`` (``"train"``, ``"valid"`` or ``"test"``)."""
        if name not in SPLITS:
            raise GenmolError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        return self.subset(np.flatnonzero(self.splits == name))

    def filter(self, min_length: int | None = None, max_length: int | None = None,
               tier: str | tuple[str, ...] | None = None) -> ProteinSet:
        """The proteins with ``min_length <= residues <= max_length`` and (if given) a tier in ``tier``."""
        keep = np.ones(len(self), dtype=bool)
        if min_length is not None:
            keep &= self.lengths >= min_length
        if max_length is not None:
            keep &= self.lengths <= max_length
        if tier is not None:
            if len(self) and not self.tiers.any():
                raise GenmolError(f"{self.source or 'the protein set'} has no tier labels (give a 'tier' column "
                                  "in manifest.csv to filter by tier)")
            keep &= np.isin(self.tiers, [tier] if isinstance(tier, str) else list(tier))
        return self.subset(np.flatnonzero(keep))

    def summary(self) -> str:
        """One line: counts per split, residues, lengths and what the reader dropped."""
        n = self.lengths
        splits = ", ".join(f"{s} {int((self.splits == s).sum())}" for s in SPLITS)
        span = f"{n.min()}-{n.max()} residues each" if len(n) else "empty"
        return (f"{len(self)} proteins in {len(np.unique(self.clusters))} clusters ({splits}; {int(n.sum()):,} "
                f"residues, {span}) from {self.source or 'memory'}; dropped when read: {self.dropped}")

    # ------------------------------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | os.PathLike = "embedded", progress: bool = False) -> ProteinSet:
        """``"embedded"``, a ``.npz`` protein set, a directory of structure files or one structure file (see
        the module docstring). ``progress`` shows a tqdm bar while reading structure files.

        Raises:
            GenmolError: naming the path, the file or the manifest row at fault.
        """
        if str(path) == "embedded":
            return cls.load_npz(embedded_file(*EMBEDDED_SET), source="embedded")
        path = Path(path)
        if path.is_dir():
            return cls.from_directory(path, progress=progress)
        if not path.exists():
            raise GenmolError(f"{path} does not exist (expected 'embedded', a protein-set .npz, a directory of "
                              "structure files or a structure file)")
        if path.suffix.lower() == ".npz":
            return cls.load_npz(path)
        return cls.from_directory(path, progress=progress)

    @classmethod
    def from_directory(cls, root: str | os.PathLike, progress: bool = False) -> ProteinSet:
        """Every protein chain of every structure file under ``root`` (or of the file ``root``)."""
        from genmol.io.structures import STRUCTURE_FORMATS, read_structure

        root = Path(root)
        if root.is_dir():
            files = sorted((p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in STRUCTURE_FORMATS
                            and not any(part.startswith(".") for part in p.relative_to(root).parts)),
                           key=lambda p: p.relative_to(root).as_posix())
            if not files:
                raise GenmolError(f"{root} holds no structure files ({', '.join(STRUCTURE_FORMATS)})")
            base, manifest = root, _read_manifest(root / MANIFEST) if (root / MANIFEST).is_file() else None
        else:
            files, base, manifest = [root], root.parent, None
        if progress:
            from tqdm import tqdm

            files = tqdm(files, desc="reading structures", unit="file")
        proteins, files_of, chains, dropped = [], [], [], Dropped()
        for path in files:
            protein = read_structure(path)
            rel = path.relative_to(base).as_posix()
            dropped = _add_dropped(dropped, protein.dropped)
            for chain in protein.chains():
                proteins.append(protein.select_chain(chain))
                files_of.append(rel)
                chains.append(chain)
        names = [f"{f}:{c}" for f, c in zip(files_of, chains)]
        clusters, tiers, info = np.asarray(files_of, dtype=str), np.full(len(names), "", dtype=str), {}
        if manifest is not None:
            clusters, tiers, info = _apply_manifest(manifest, root / MANIFEST, files_of, chains)
        info = {"file": np.asarray(files_of, dtype=str), "chain": np.asarray(chains, dtype=str)} | info
        return cls(proteins, names, clusters, split_by_cluster(clusters), tiers, info, dropped, str(root))

    # ------------------------------------------------------------------------------------------ npz format

    def save_npz(self, path: str | os.PathLike) -> None:
        """Writes the set compactly (``np.savez_compressed``; format in ``data/proteins/README.md``): present
        atoms only, coordinates as int32 milli-Å, so positions written to 3 decimals (PDB, mmCIF) come back
        exactly. Every protein must be a single chain."""
        from genmol.io.atomic import atomic_open

        for p, name in zip(self.proteins, self.names):
            if len(p.chains()) != 1:
                raise GenmolError(f"{name}: a protein set holds single chains; this protein has chains "
                                  f"{', '.join(map(repr, p.chains()))}")
        n_res = self.lengths
        n_atoms = np.asarray([int(p.atom_mask.sum()) for p in self.proteins], dtype=np.int64)
        mask = _cat([p.atom_mask for p in self.proteins], (0, rc.NUM_SLOTS), bool)
        coords = _cat([p.positions[p.atom_mask] for p in self.proteins], (0, 3), np.float32)
        milli = np.round(coords.astype(np.float64) * MILLI)
        if np.abs(milli).max(initial=0) >= 2**30:
            raise GenmolError("coordinates beyond ±1,000 km cannot be stored as int32 milli-Å")
        milli = milli.astype(np.int32)
        delta = milli.copy()
        delta[1:] -= milli[:-1]
        arrays = dict(
            format_version=np.int32(FORMAT_VERSION), split_seed=np.int32(SPLIT_SEED),
            name=self.names, chain=np.asarray([p.chain_id[0] for p in self.proteins], dtype=str),
            cluster=self.clusters, split=self.splits, tier=self.tiers,
            residue_offsets=np.concatenate([[0], np.cumsum(n_res)]).astype(np.int64),
            atom_offsets=np.concatenate([[0], np.cumsum(n_atoms)]).astype(np.int64),
            aatype=_cat([p.aatype for p in self.proteins], (0,), np.int32).astype(np.int8),
            residue_index=_cat([p.residue_index for p in self.proteins], (0,), np.int32).astype(np.int32),
            insertion_code=_cat([p.insertion_code for p in self.proteins], (0,), str).astype(str),
            atom_mask_bits=(mask * _SLOT_BITS).sum(axis=1, dtype=np.uint16),
            coords_delta=delta,
            dropped=np.asarray([[getattr(p.dropped, f) for f in _DROPPED_FIELDS] for p in self.proteins],
                               dtype=np.int32).reshape(-1, len(_DROPPED_FIELDS)),
            dropped_fields=np.asarray(_DROPPED_FIELDS, dtype=str),
            dropped_total=np.asarray([getattr(self.dropped, f) for f in _DROPPED_FIELDS], dtype=np.int64),
            **{f"info_{k}": (v if v.dtype.kind in "biuf" else v.astype(str)) for k, v in self.info.items()})
        with atomic_open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    @classmethod
    def load_npz(cls, path: str | os.PathLike, source: str | None = None) -> ProteinSet:
        """Reads a file written by :meth:`save_npz` (never unpickling; shapes and offsets checked)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                d = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise GenmolError(f"{path} is not a readable protein-set .npz ({' '.join(str(e).split())[:100]})"
                              ) from None
        return _from_arrays(d, path, source or str(path))


def _read_manifest(path: Path) -> list[dict[str, str]]:
    from genmol.io.files import read_user_text

    reader = csv.DictReader(io.StringIO(read_user_text(path, "manifest")))
    missing = [c for c in ("file", "chain", "cluster40") if c not in (reader.fieldnames or [])]
    if missing:
        raise GenmolError(f"{path} lacks the column(s) {', '.join(missing)} (needs file, chain, cluster40)")
    rows = list(reader)
    for line, row in enumerate(rows, 2):
        if not (row.get("file") or "").strip() or not (row.get("cluster40") or "").strip():
            raise GenmolError(f"{path}:{line}: empty file or cluster40")
    return rows


def _apply_manifest(rows: list[dict[str, str]], path: Path, files: list[str], chains: list[str]):
    """Cluster ids, tiers and extra columns of the entries ``(files[i], chains[i])`` from manifest rows."""
    lookup = {}
    for line, row in enumerate(rows, 2):
        key = (row["file"].strip(), row["chain"].strip())
        if key in lookup:
            raise GenmolError(f"{path}:{line}: a second row for file {key[0]!r} chain {key[1]!r}")
        lookup[key] = line
    found = set(zip(files, chains)) | {(f, "") for f in files}
    for (file, chain), line in lookup.items():
        if (file, chain) not in found:
            what = f"file {file!r}" + (f" chain {chain!r}" if chain else "")
            raise GenmolError(f"{path}:{line}: {what} is not among the structures read from {path.parent}")
    picked = []
    for file, chain in zip(files, chains):
        line = lookup.get((file, chain), lookup.get((file, "")))
        if line is None:
            raise GenmolError(f"{path} has no row for file {file!r} chain {chain!r} (every chain needs a cluster; "
                              "an empty chain column covers all chains of a file)")
        picked.append(rows[line - 2])
    extra = [c for c in rows[0] if c not in ("file", "chain", "cluster40", "tier")] if rows else []
    clusters = np.asarray([r["cluster40"].strip() for r in picked], dtype=str)
    tiers = np.asarray([(r.get("tier") or "").strip() for r in picked], dtype=str)
    return clusters, tiers, {c: np.asarray([r.get(c) or "" for r in picked], dtype=str) for c in extra}


_REQUIRED = {"name": 1, "chain": 1, "cluster": 1, "split": 1, "tier": 1, "residue_offsets": 1, "atom_offsets": 1,
             "aatype": 1, "residue_index": 1, "insertion_code": 1, "atom_mask_bits": 1, "coords_delta": 2,
             "dropped": 2, "dropped_fields": 1}


def _from_arrays(d: dict, path: Path, source: str) -> ProteinSet:
    def bad(what: str):
        return GenmolError(f"{path} is not a genmol protein set: {what}")

    missing = [k for k in _REQUIRED if k not in d]
    if missing:
        raise bad(f"missing {', '.join(missing)}")
    if int(d.get("format_version", -1)) != FORMAT_VERSION:
        raise bad(f"format_version {d.get('format_version')} (this genmol reads {FORMAT_VERSION})")
    wrong = [k for k, ndim in _REQUIRED.items() if d[k].ndim != ndim]
    if wrong:
        raise bad(f"{', '.join(wrong)} of the wrong rank")
    n = len(d["name"])
    ro, ao = d["residue_offsets"].astype(np.int64), d["atom_offsets"].astype(np.int64)
    n_res, n_atoms = len(d["aatype"]), len(d["coords_delta"])
    per_protein = ("chain", "cluster", "split", "tier", "dropped")
    if (any(len(d[k]) != n for k in per_protein) or len(ro) != n + 1 or len(ao) != n + 1
            or any(len(d[k]) != n_res for k in ("residue_index", "insertion_code", "atom_mask_bits"))
            or d["coords_delta"].shape[1] != 3 or list(d["dropped_fields"]) != list(_DROPPED_FIELDS)):
        raise bad("array sizes disagree")
    if (ro[0] != 0 or ao[0] != 0 or ro[-1] != n_res or ao[-1] != n_atoms or np.any(np.diff(ro) < 0)
            or np.any(np.diff(ao) < 0)):
        raise bad("offsets do not tile the residue and atom arrays")
    aatype = d["aatype"].astype(np.int32)
    if np.any((aatype < 0) | (aatype >= rc.NUM_TYPES)):
        raise bad("residue tokens out of range")
    mask = (d["atom_mask_bits"].astype(np.uint16)[:, None] & _SLOT_BITS) != 0
    atoms_before = np.concatenate([[0], np.cumsum(mask.sum(axis=1))])
    counts = atoms_before[ro[1:]] - atoms_before[ro[:-1]]
    if not np.array_equal(counts, np.diff(ao)) or np.any(mask & ~rc.ATOM_MASK[aatype]):
        raise bad("atom masks disagree with the atom offsets or residue types")
    milli = np.cumsum(d["coords_delta"].astype(np.int64), axis=0)
    positions = np.zeros((n_res, rc.NUM_SLOTS, 3), dtype=np.float32)
    positions[mask] = (milli / MILLI).astype(np.float32)
    residue_index = d["residue_index"].astype(np.int32)
    insertion_code = d["insertion_code"].astype(str)
    name, chain, fields = d["name"].astype(str), d["chain"].astype(str), _DROPPED_FIELDS
    proteins = []
    for i in range(n):
        r = slice(ro[i], ro[i + 1])
        proteins.append(Protein(aatype[r], positions[r], mask[r], residue_index[r], insertion_code[r],
                                np.full(ro[i + 1] - ro[i], chain[i]), source=f"{path.name}:{name[i]}",
                                dropped=Dropped(**{f: int(v) for f, v in zip(fields, d["dropped"][i])})))
    total = d.get("dropped_total")
    dropped = (Dropped(**{f: int(v) for f, v in zip(fields, total)}) if total is not None and len(total) == len(fields)
               else Dropped(**{f: int(v) for f, v in zip(fields, d["dropped"].sum(axis=0))}))
    info = {k[len("info_"):]: v for k, v in d.items() if k.startswith("info_") and len(v) == n}
    return ProteinSet(proteins, name, d["cluster"], d["split"], d["tier"], info, dropped, source)
