"""The in-memory protein record shared by every protein reader, writer and model: residues in the slot table of
:mod:`genmol.data.proteins.residues`."""

from __future__ import annotations

import dataclasses

import numpy as np

from genmol.data.proteins import residues as rc
from genmol.errors import GenmolError

__all__ = ["Protein", "Dropped"]


@dataclasses.dataclass(frozen=True)
class Dropped:
    """What a reader left out of a :class:`Protein` (counts).

    Attributes:
        waters: water residues (HOH, WAT, SOL, TIP3, ...).
        ions: other single-heavy-atom residues (NA, CL, ZN, ...).
        ligands: other residues that are not amino acids (ligands, nucleotides, sugars, unknown HETATM groups).
        hydrogens: hydrogen (and deuterium) atoms of the kept residues (those of dropped residues go with them).
        altloc_atoms: atoms of alternate locations other than the first.
        unknown_residues: amino-acid-like residues (atoms ``N``, ``CA``, ``C``) outside the vocabulary, kept as
            ``UNK`` with their backbone atoms only.
        extra_atoms: heavy atoms of kept residues that have no slot (``OXT``, side chains of ``UNK`` residues,
            duplicated atom names).
    """

    waters: int = 0
    ions: int = 0
    ligands: int = 0
    hydrogens: int = 0
    altloc_atoms: int = 0
    unknown_residues: int = 0
    extra_atoms: int = 0

    def __str__(self) -> str:
        parts = [f"{v} {f.name.replace('_', ' ')}" for f in dataclasses.fields(self) if (v := getattr(self, f.name))]
        return ", ".join(parts) or "nothing"


@dataclasses.dataclass
class Protein:
    """Residues of one structure (one model) in the fixed heavy-atom slot table.

    ``R`` residues, ``S = 14`` slots (:data:`~genmol.data.proteins.residues.NUM_SLOTS`).

    Attributes:
        aatype: ``[R]`` int32, residue tokens (:data:`~genmol.data.proteins.residues.RESIDUE_NAMES`).
        positions: ``[R, S, 3]`` float32, Å; finite; 0 where ``atom_mask`` is False.
        atom_mask: ``[R, S]`` bool, the atom is present (missing atoms are masked, never invented).
        residue_index: ``[R]`` int32, the author residue numbers of the source file.
        insertion_code: ``[R]`` str, author insertion codes (``""`` for none).
        chain_id: ``[R]`` str, author chain ids.
        source: the file the protein was read from (``""`` if built in memory).
        dropped: what the reader left out (:class:`Dropped`).
    """

    aatype: np.ndarray
    positions: np.ndarray
    atom_mask: np.ndarray
    residue_index: np.ndarray
    insertion_code: np.ndarray
    chain_id: np.ndarray
    source: str = ""
    dropped: Dropped = dataclasses.field(default_factory=Dropped)

    def __post_init__(self):
        self.aatype = np.asarray(self.aatype, dtype=np.int32)
        self.atom_mask = np.asarray(self.atom_mask, dtype=bool)
        self.positions = np.where(self.atom_mask[..., None], np.asarray(self.positions, np.float32), np.float32(0))
        self.residue_index = np.asarray(self.residue_index, dtype=np.int32)
        self.insertion_code = np.asarray(self.insertion_code, dtype=str)
        self.chain_id = np.asarray(self.chain_id, dtype=str)
        r = self.aatype.shape[0]
        shapes = {"aatype": (r,), "positions": (r, rc.NUM_SLOTS, 3), "atom_mask": (r, rc.NUM_SLOTS),
                  "residue_index": (r,), "insertion_code": (r,), "chain_id": (r,)}
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"Protein.{name} has shape {getattr(self, name).shape}, expected {shape}")
        if np.any((self.aatype < 0) | (self.aatype >= rc.NUM_TYPES)):
            raise ValueError(f"Protein.aatype must lie in [0, {rc.NUM_TYPES})")
        if np.any(self.atom_mask & ~rc.ATOM_MASK[self.aatype]):
            raise ValueError("Protein.atom_mask marks a slot that its residue type does not have")
        if not np.all(np.isfinite(self.positions)):
            raise ValueError("Protein.positions must be finite")

    @property
    def num_residues(self) -> int:
        return int(self.aatype.shape[0])

    def ca_positions(self) -> np.ndarray:
        """``[R, 3]`` float32 Å: slot 1, the Cα of amino acids and the methyl carbon of caps (0 where missing;
        see ``atom_mask[:, 1]`` and :meth:`amino_acid_mask`)."""
        return self.positions[:, rc.CA_SLOT]

    def amino_acid_mask(self) -> np.ndarray:
        """``[R]`` bool: the residue is an amino acid (incl. ``UNK``), not a cap."""
        return ~rc.IS_CAP[self.aatype]

    def chains(self) -> list[str]:
        """The chain ids in order of first appearance."""
        return list(dict.fromkeys(self.chain_id.tolist()))

    def _take(self, index) -> Protein:
        return dataclasses.replace(
            self, aatype=self.aatype[index], positions=self.positions[index], atom_mask=self.atom_mask[index],
            residue_index=self.residue_index[index], insertion_code=self.insertion_code[index],
            chain_id=self.chain_id[index])

    def crop(self, start: int, length: int) -> Protein:
        """Residues ``start .. start + length - 1`` (positions in this record, not author numbers).

        Raises:
            GenmolError: the window does not lie inside the protein.
        """
        if start < 0 or length < 1 or start + length > self.num_residues:
            raise GenmolError(f"{self.source or 'protein'}: cannot crop {length} residues from residue {start} "
                              f"of {self.num_residues}")
        return self._take(slice(start, start + length))

    def select_chain(self, chain_id: str) -> Protein:
        """The residues of one chain.

        Raises:
            GenmolError: no such chain (naming the chains there are).
        """
        keep = self.chain_id == chain_id
        if not keep.any():
            chains = ", ".join(map(repr, self.chains()))
            raise GenmolError(f"{self.source or 'protein'} has no chain {chain_id!r} (chains: {chains})")
        return self._take(keep)

    def to_atom_array(self):
        """A biotite ``AtomArray`` of the present heavy atoms: standard atom names and elements, the author
        residue numbers, insertion codes and chain ids; caps are marked ``hetero`` (HETATM), as in the PDB."""
        import biotite.structure as struc

        r, s = np.nonzero(self.atom_mask)
        atoms = struc.AtomArray(len(r))
        atoms.coord = self.positions[r, s]
        atoms.chain_id = self.chain_id[r]
        atoms.res_id = self.residue_index[r]
        atoms.ins_code = self.insertion_code[r]
        atoms.res_name = np.asarray(rc.RESIDUE_NAMES)[self.aatype[r]]
        atoms.hetero = rc.IS_CAP[self.aatype[r]]
        atoms.atom_name = rc.ATOM_NAMES[self.aatype[r], s]
        atoms.element = rc.ELEMENTS[self.aatype[r], s]
        return atoms
