"""Encoding, decoding and reconstructing whole structures with a trained protein autoencoder (the library under
``genmol reconstruct protein``, ``genmol encode protein`` and ``genmol decode``).

**Chains.** The autoencoder is trained on crops of single chains, so each chain (a maximal run of residues with
the same chain id) is encoded as its own example; a :class:`LatentRecord` holds the latent nodes of all chains of
one structure, chain after chain, and decoding splits them again.

**Shapes.** A jitted function compiles once per ``(batch, length)`` shape. Chains are padded to a multiple of
:data:`BUCKET` residues (a directory of mixed lengths compiles a few times, not once per file) and grouped into
batches of at most ``batch_size`` chains, rounded up to a power of two (1, 2, 4, 8, ...). The padding is long
enough that every latent node whose window touches a residue exists, so the latent of a chain does not depend on
its bucket or batch (:func:`latent_length` nodes per chain).

**Frames.** Chains are centred on their Cα mean for the model (as in training); latent positions and decoded
atoms are translated back, so both are in the input's frame (Å). The model is equivariant: no alignment is done
or needed.

**Residues.** The residues a chain is rebuilt from and into are those whose Cα is present (the model's residue
mask; :func:`encoded_residues`); residues without a Cα stay in the sequence the model sees but are not written.
The reconstruction's residue types are the model's predictions (argmax of its logits) and its atoms those of the
predicted types; chain ids, author residue numbers and insertion codes are the input's.

**Budget.** The model config sets no length limit; a chain may have at most :data:`MAX_RESIDUES` residues
(memory and the training crops' scale), checked before anything runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.io.atomic import atomic_open

__all__ = ["LatentRecord", "MAX_RESIDUES", "BUCKET", "encode_proteins", "decode_latents", "reconstruct_proteins",
           "save_latents", "load_latents", "latent_length", "padded_length", "chain_segments", "check_lengths",
           "encoded_residues", "model_fingerprint", "LATENT_FORMAT"]

MAX_RESIDUES = 1024
"""Residues per chain the inference functions accept (the model has no limit of its own; memory and time grow
linearly, and the shipped config trains on 64-residue crops)."""

BUCKET = 32
"""Chains are padded to a multiple of this many residues (one compilation per bucket and batch size)."""

LATENT_FORMAT = "genmol.protein_latents"
"""The ``format`` entry of a latent ``.npz`` (:func:`save_latents`); ``version`` is 1."""

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: ``phase`` is ``"encoding"`` or ``"decoding"``, counts are chains."""


@dataclasses.dataclass
class LatentRecord:
    """The latent nodes of one structure (``N`` nodes over ``R`` residues, chain after chain).

    Attributes:
        features: ``[N, D]`` float32, the latent features (``D = irreps.dim``, invariant under rotations of the
            scalars, rotating with the structure otherwise).
        positions: ``[N, 3]`` float32, Å, in the input's frame (0 where ``mask`` is False).
        mask: ``[N]`` bool, the node exists (a window with at least one encoded residue).
        residue_mask: ``[R]`` bool, the residue was encoded and is rebuilt (its Cα was present).
        residue_index, insertion_code, chain_id: ``[R]``, the input's author numbering and chains.
        irreps: the model's latent irreps (``str(e3nn.Irreps)``).
        source: the structure file it was encoded from (``""`` if none).
        model: :func:`model_fingerprint` of the encoding model (``""`` if unknown).
    """

    features: np.ndarray
    positions: np.ndarray
    mask: np.ndarray
    residue_mask: np.ndarray
    residue_index: np.ndarray
    insertion_code: np.ndarray
    chain_id: np.ndarray
    irreps: str
    source: str = ""
    model: str = ""

    @property
    def num_residues(self) -> int:
        return int(self.residue_mask.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.features.shape[0])


# ---------------------------------------------------------------------------------------------- shapes


def chain_segments(chain_id) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: the maximal runs of equal chain ids (the examples the model sees)."""
    chain_id = np.asarray(chain_id)
    if chain_id.size == 0:
        return []
    cuts = np.nonzero(chain_id[1:] != chain_id[:-1])[0] + 1
    bounds = [0, *cuts.tolist(), int(chain_id.size)]
    return list(zip(bounds[:-1], bounds[1:]))


def _levels(model) -> list[tuple[int, int]]:
    return [(int(k), int(s)) for k, s in zip(model.kernels, model.strides)]


def latent_length(model, num_residues: int) -> int:
    """Latent nodes of a chain of ``num_residues`` residues: ``ceil(n / s)`` at every level of stride ``s`` (the
    length rule of :mod:`genmol.nn.sequence`; padding after the chain adds no node)."""
    n = int(num_residues)
    for _, s in _levels(model):
        n = -(-n // s)
    return n


def padded_length(model, num_residues: int, bucket: int = BUCKET) -> int:
    """The smallest multiple of ``bucket`` that holds ``num_residues`` residues (the padded length a chain is
    encoded at; by the length rule the padding changes neither its latent nodes nor their values)."""
    if bucket < 1:
        raise GenmolError(f"the padding bucket must be at least 1 residue, got {bucket}")
    return -(-int(num_residues) // bucket) * bucket


def _name(protein: Protein, i: int) -> str:
    return protein.source or f"protein {i}"


def check_lengths(proteins: Sequence[Protein], max_residues: int = MAX_RESIDUES) -> None:
    """Raises one :class:`GenmolError` sentence for the first chain longer than ``max_residues`` (naming the file,
    chain and length) or without a single residue whose Cα is present."""
    for i, p in enumerate(proteins):
        if not isinstance(p, Protein):
            raise GenmolError(f"expected Protein records, got {type(p).__name__}")
        if p.num_residues == 0:
            raise GenmolError(f"{_name(p, i)} has no residues")
        for a, b in chain_segments(p.chain_id):
            chain = str(p.chain_id[a])
            if b - a > max_residues:
                raise GenmolError(f"{_name(p, i)}, chain {chain!r}: {b - a:,} residues, more than the "
                                  f"{max_residues:,} the protein autoencoder takes per chain")
            if not p.atom_mask[a:b, rc.CA_SLOT].any():
                raise GenmolError(f"{_name(p, i)}, chain {chain!r}: no residue has a Cα atom to encode")


def encoded_residues(protein: Protein) -> Protein:
    """The residues a reconstruction rebuilds (those whose Cα, slot 1, is present), as the reference to compare
    the reconstruction with."""
    keep = protein.atom_mask[:, rc.CA_SLOT]
    if keep.all():
        return protein
    return dataclasses.replace(protein, aatype=protein.aatype[keep], positions=protein.positions[keep],
                               atom_mask=protein.atom_mask[keep], residue_index=protein.residue_index[keep],
                               insertion_code=protein.insertion_code[keep], chain_id=protein.chain_id[keep])


def model_fingerprint(model) -> str:
    """16 hex digits of a SHA-256 over the model's parameters (names, shapes, values) and latent irreps."""
    from flax import nnx

    from genmol.models.store import flatten_params

    h = hashlib.sha256(str(model.latent_irreps).encode())
    for name, value in sorted(flatten_params(nnx.to_pure_dict(nnx.state(model, nnx.Param))).items()):
        value = np.ascontiguousarray(value)
        h.update(f"{name}:{value.dtype}:{value.shape}".encode())
        h.update(value.tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- compiled functions

_COMPILED: dict[str, tuple] = {}


def _functions(model):
    """``(encode, decode, state)``: jitted pure functions shared by every model of the same config (one compilation
    per shape per process, however often a model is loaded), and this model's state."""
    import jax
    from flax import nnx

    graphdef, state = nnx.split(model)
    key = json.dumps(model.config.to_dict(), sort_keys=True, default=str)
    if key not in _COMPILED:
        def encode(state, aatype, positions, atom_mask, residue_mask):
            latent = nnx.merge(graphdef, state).encode(aatype, positions, atom_mask, residue_mask)
            return latent.features, latent.positions, latent.mask

        def decode(state, features, positions, mask, residue_mask):
            from genmol.models.ophiuchus.autoencoder import Latent

            _, atoms, aatype = nnx.merge(graphdef, state).decode(Latent(features, positions, mask), residue_mask)
            return atoms, aatype

        _COMPILED[key] = (jax.jit(encode), jax.jit(decode))
    encode, decode = _COMPILED[key]
    return encode, decode, state


def _batches(items: list, lengths: list[int], batch_size: int) -> list[tuple[int, list[int]]]:
    """``[(padded length, [item indices])]``: items grouped by padded length (shortest first), each group cut into
    batches of at most ``batch_size``."""
    if batch_size < 1:
        raise GenmolError(f"the batch size must be at least 1, got {batch_size}")
    groups: dict[int, list[int]] = {}
    for i, length in enumerate(lengths):
        groups.setdefault(length, []).append(i)
    out = []
    for length in sorted(groups):
        idx = groups[length]
        out.extend((length, idx[j:j + batch_size]) for j in range(0, len(idx), batch_size))
    return out


def _batch_slots(n: int, batch_size: int) -> int:
    """Examples in a compiled batch holding ``n`` real ones: the next power of two, at most ``batch_size``."""
    return min(batch_size, 1 << max(0, n - 1).bit_length())


# ---------------------------------------------------------------------------------------------- encode


@dataclasses.dataclass
class _Chain:
    protein: int
    chain: Protein  # the residues of one segment


def _centre(chain: Protein) -> np.ndarray:
    """The Cα mean ``pad_proteins`` centres a chain on (float64)."""
    return chain.positions[chain.atom_mask[:, rc.CA_SLOT], rc.CA_SLOT].astype(np.float64).mean(axis=0)


def encode_proteins(model, proteins: Sequence[Protein], batch_size: int = 8, *, bucket: int = BUCKET,
                    max_residues: int = MAX_RESIDUES, progress: Progress | None = None) -> list[LatentRecord]:
    """The latent of each protein (one :class:`LatentRecord` per protein, in order).

    Raises:
        GenmolError: a chain longer than ``max_residues`` or without a Cα (:func:`check_lengths`).
    """
    import jax

    from genmol.data.proteins.batch import pad_proteins

    proteins = list(proteins)
    check_lengths(proteins, max_residues)
    chains = [_Chain(i, p.crop(a, b - a)) for i, p in enumerate(proteins) for a, b in chain_segments(p.chain_id)]
    lengths = [padded_length(model, c.chain.num_residues, bucket) for c in chains]
    encode, _, state = _functions(model)
    fingerprint = model_fingerprint(model)
    pieces: list[tuple] = [None] * len(chains)
    done = 0
    for length, idx in _batches(chains, lengths, batch_size):
        slots = _batch_slots(len(idx), batch_size)
        members = [chains[i].chain for i in idx]
        batch = pad_proteins(members + [members[-1]] * (slots - len(idx)), length, slots)
        features, positions, mask = jax.device_get(
            encode(state, batch.aatype, batch.positions, batch.atom_mask, batch.residue_mask))
        for j, i in enumerate(idx):
            c = chains[i].chain
            n = latent_length(model, c.num_residues)
            if mask[j, n:].any():
                raise AssertionError(f"latent nodes beyond the {n} of a {c.num_residues}-residue chain")
            m = mask[j, :n]
            pos = np.where(m[:, None], positions[j, :n].astype(np.float64) + _centre(c), 0.0)
            pieces[i] = (np.asarray(features[j, :n], np.float32), pos.astype(np.float32), m.astype(bool))
        done += len(idx)
        if progress is not None:
            progress("encoding", done, len(chains))
    records = []
    irreps = str(model.latent_irreps)
    for i, p in enumerate(proteins):
        mine = [pieces[k] for k, c in enumerate(chains) if c.protein == i]
        records.append(LatentRecord(
            np.concatenate([f for f, _, _ in mine]), np.concatenate([x for _, x, _ in mine]),
            np.concatenate([m for _, _, m in mine]), p.atom_mask[:, rc.CA_SLOT].copy(), p.residue_index.copy(),
            p.insertion_code.copy(), p.chain_id.copy(), irreps, p.source, fingerprint))
    return records


# ---------------------------------------------------------------------------------------------- decode


def _check_record(model, record: LatentRecord, i: int) -> list[tuple[int, int, int, int]]:
    """``[(res_start, res_stop, node_start, node_stop)]`` per chain of a record this model can decode."""
    import e3nn_jax as e3nn

    where = record.source or f"latent record {i}"
    try:
        irreps = e3nn.Irreps(record.irreps)
    except Exception:
        raise GenmolError(f"{where}: {record.irreps!r} is not an irreps string") from None
    if irreps != model.latent_irreps:
        raise GenmolError(f"{where} holds latents of irreps {record.irreps}, but the model decodes "
                          f"{model.latent_irreps}: it was encoded by another model")
    out, node = [], 0
    for a, b in chain_segments(record.chain_id):
        n = latent_length(model, b - a)
        out.append((a, b, node, node + n))
        node += n
    if node != record.num_nodes or record.features.shape != (node, irreps.dim):
        raise GenmolError(f"{where} holds {record.num_nodes} latent nodes for {record.num_residues} residues; the "
                          f"model expects {node} (a latent of a model with other strides?)")
    return out


def decode_latents(model, records: Sequence[LatentRecord], batch_size: int = 8, *, bucket: int = BUCKET,
                   max_residues: int = MAX_RESIDUES, progress: Progress | None = None) -> list[Protein]:
    """The structures the latents stand for (one :class:`Protein` per record, in order): the residues of
    ``residue_mask``, with the predicted residue types and all their heavy atoms, in the frame of the latent
    positions, with the record's chain ids, numbering and ``source``.

    Raises:
        GenmolError: a record of another model's irreps or node count, a chain longer than ``max_residues``, or
            non-finite coordinates from the model.
    """
    import jax

    records = list(records)
    items = []  # (record, res_start, res_stop, node_start, node_stop)
    for i, r in enumerate(records):
        if r.num_residues == 0:
            raise GenmolError(f"{r.source or f'latent record {i}'} holds no residues")
        for a, b, na, nb in _check_record(model, r, i):
            if b - a > max_residues:
                raise GenmolError(f"{r.source or f'latent record {i}'}, chain {str(r.chain_id[a])!r}: {b - a:,} "
                                  f"residues, more than the {max_residues:,} the protein autoencoder takes per chain")
            items.append((i, a, b, na, nb))
    lengths = [padded_length(model, b - a, bucket) for _, a, b, _, _ in items]
    _, decode, state = _functions(model)
    dim = model.latent_irreps.dim
    out_pos: list = [None] * len(items)
    out_type: list = [None] * len(items)
    done = 0
    for length, idx in _batches(items, lengths, batch_size):
        slots = _batch_slots(len(idx), batch_size)
        nodes = _padded_nodes(model, length)
        feats = np.zeros((slots, nodes, dim), np.float32)
        pos = np.zeros((slots, nodes, 3), np.float32)
        mask = np.zeros((slots, nodes), bool)
        rmask = np.zeros((slots, length), bool)
        centres = []
        for j in range(slots):
            i, a, b, na, nb = items[idx[min(j, len(idx) - 1)]]  # spare slots repeat the last chain
            r = records[i]
            m = r.mask[na:nb]
            centre = r.positions[na:nb][m].astype(np.float64).mean(axis=0) if m.any() else np.zeros(3)
            centres.append(centre)
            feats[j, :nb - na] = r.features[na:nb]
            pos[j, :nb - na] = np.where(m[:, None], r.positions[na:nb] - centre, 0.0)
            mask[j, :nb - na] = m
            rmask[j, :b - a] = r.residue_mask[a:b]
        atoms, aatype = jax.device_get(decode(state, feats, pos, mask, rmask))
        for j, k in enumerate(idx):
            _, a, b, _, _ = items[k]
            out_pos[k] = atoms[j, :b - a].astype(np.float64) + centres[j]
            out_type[k] = np.asarray(aatype[j, :b - a], np.int32)
        done += len(idx)
        if progress is not None:
            progress("decoding", done, len(items))
    proteins = []
    for i, r in enumerate(records):
        ks = [k for k, item in enumerate(items) if item[0] == i]
        aatype = np.concatenate([out_type[k] for k in ks])
        positions = np.concatenate([out_pos[k] for k in ks])
        keep = r.residue_mask
        aatype, positions = aatype[keep], positions[keep]
        atom_mask = rc.ATOM_MASK[aatype]
        if not np.isfinite(positions[atom_mask]).all():
            raise GenmolError(f"the model produced non-finite coordinates for {r.source or f'latent record {i}'}")
        proteins.append(Protein(aatype, np.where(atom_mask[..., None], positions, 0.0), atom_mask,
                                r.residue_index[keep], r.insertion_code[keep], r.chain_id[keep], source=r.source))
    return proteins


def _padded_nodes(model, length: int) -> int:
    """Latent nodes of a padded batch of ``length`` residues: ``ceil(L / s)`` at every level."""
    for _, s in _levels(model):
        length = -(-length // s)
    return length


def reconstruct_proteins(model, proteins: Sequence[Protein], batch_size: int = 8, *, bucket: int = BUCKET,
                         max_residues: int = MAX_RESIDUES, progress: Progress | None = None) -> list[Protein]:
    """Encodes and decodes each protein: ``decode_latents(model, encode_proteins(model, proteins))``. Compare the
    result with :func:`encoded_residues` of the input (the same residues, in the same order)."""
    kw = dict(bucket=bucket, max_residues=max_residues, progress=progress)
    return decode_latents(model, encode_proteins(model, proteins, batch_size, **kw), batch_size, **kw)


# ---------------------------------------------------------------------------------------------- files

_NODE_KEYS = {"features": 2, "positions": 2, "mask": 1}
_RESIDUE_KEYS = {"residue_mask": 1, "residue_index": 1, "insertion_code": 1, "chain_id": 1}


def save_latents(path: str | os.PathLike, records: Sequence[LatentRecord]) -> None:
    """Writes ``records`` (of one model) as one ``.npz`` atomically: per-record arrays concatenated with
    ``node_offsets`` and ``residue_offsets``, plus ``format``, ``version``, ``irreps``, ``model`` and ``sources``.

    Raises:
        GenmolError: no records, or records of different latent irreps.
    """
    path = Path(path)
    records = list(records)
    if not records:
        raise GenmolError(f"{path}: no latents to save")
    irreps = {r.irreps for r in records}
    if len(irreps) > 1:
        raise GenmolError(f"{path}: the records hold latents of different irreps ({', '.join(sorted(irreps))})")
    models = {r.model for r in records}
    arrays = {
        "format": np.asarray(LATENT_FORMAT), "version": np.asarray(1), "irreps": np.asarray(records[0].irreps),
        "model": np.asarray(models.pop() if len(models) == 1 else ""),
        "sources": np.asarray([r.source for r in records], dtype=str),
        "node_offsets": np.cumsum([0] + [r.num_nodes for r in records]).astype(np.int64),
        "residue_offsets": np.cumsum([0] + [r.num_residues for r in records]).astype(np.int64),
        "features": np.concatenate([np.asarray(r.features, np.float32) for r in records]),
        "positions": np.concatenate([np.asarray(r.positions, np.float32) for r in records]),
        "mask": np.concatenate([np.asarray(r.mask, bool) for r in records]),
        "residue_mask": np.concatenate([np.asarray(r.residue_mask, bool) for r in records]),
        "residue_index": np.concatenate([np.asarray(r.residue_index, np.int32) for r in records]),
        "insertion_code": np.concatenate([np.asarray(r.insertion_code, str) for r in records]),
        "chain_id": np.concatenate([np.asarray(r.chain_id, str) for r in records]),
    }
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def load_latents(path: str | os.PathLike) -> list[LatentRecord]:
    """The records of a file written by :func:`save_latents`.

    Raises:
        GenmolError: naming the file: missing, not an ``.npz``, not a latent file, or arrays whose keys, shapes or
            types do not fit together.
    """
    import e3nn_jax as e3nn

    from genmol.io.files import check_input_file

    path = check_input_file(path, "latent file")

    def bad(what: str) -> GenmolError:
        return GenmolError(f"{path} is not a genmol protein latent file ({what})")

    try:
        with np.load(path, allow_pickle=False) as f:
            d = {k: f[k] for k in f.files}
    except Exception as e:
        text = " ".join(str(e).split()) or type(e).__name__
        raise bad(f"not a readable .npz: {text[:80]}") from None
    missing = [k for k in ("format", "irreps", "node_offsets", "residue_offsets", *_NODE_KEYS, *_RESIDUE_KEYS)
               if k not in d]
    if missing:
        raise bad(f"no {missing[0]!r} array")
    if str(d["format"]) != LATENT_FORMAT:
        raise bad(f"format {str(d['format'])!r}")
    try:
        dim = e3nn.Irreps(str(d["irreps"])).dim
    except Exception:
        raise bad(f"irreps {str(d['irreps'])!r}") from None
    no, ro = d["node_offsets"], d["residue_offsets"]
    for name, off in (("node_offsets", no), ("residue_offsets", ro)):
        if off.ndim != 1 or off.size < 2 or not np.issubdtype(off.dtype, np.integer) or off[0] != 0 \
                or np.any(np.diff(off) < 0):
            raise bad(f"{name} is not a list of increasing offsets from 0")
    if no.size != ro.size:
        raise bad(f"{no.size - 1} node ranges for {ro.size - 1} residue ranges")
    if np.any(np.diff(ro) == 0):
        raise bad("a record without residues")
    shapes = {"features": (int(no[-1]), dim), "positions": (int(no[-1]), 3), "mask": (int(no[-1]),),
              **{k: (int(ro[-1]),) for k in _RESIDUE_KEYS}}
    for k, shape in shapes.items():
        if d[k].shape != shape:
            raise bad(f"{k} has shape {d[k].shape}, expected {shape}")
    kinds = {"features": "f", "positions": "f", "mask": "b", "residue_mask": "b", "residue_index": "iu",
             "insertion_code": "U", "chain_id": "U"}
    for k, kind in kinds.items():
        if d[k].dtype.kind not in kind:
            raise bad(f"{k} has dtype {d[k].dtype}")
    if not (np.isfinite(d["features"]).all() and np.isfinite(d["positions"]).all()):
        raise bad("non-finite features or positions")
    n = no.size - 1
    sources = d.get("sources", np.asarray([""] * n))
    if sources.shape != (n,):
        raise bad(f"sources has shape {sources.shape}, expected {(n,)}")
    model = str(d.get("model", ""))
    return [LatentRecord(d["features"][no[i]:no[i + 1]].astype(np.float32),
                         d["positions"][no[i]:no[i + 1]].astype(np.float32), d["mask"][no[i]:no[i + 1]],
                         d["residue_mask"][ro[i]:ro[i + 1]], d["residue_index"][ro[i]:ro[i + 1]].astype(np.int32),
                         d["insertion_code"][ro[i]:ro[i + 1]], d["chain_id"][ro[i]:ro[i + 1]], str(d["irreps"]),
                         str(sources[i]), model) for i in range(n)]
