"""From a list of atoms (a biotite ``AtomArray`` read from any file) to residues in the slot table.

Shared by the structure and trajectory readers, so PDB, mmCIF, BinaryCIF and MD topologies give the same
residues: waters, ions and ligands are dropped, hydrogens ignored, MSE read as MET, residues outside the
vocabulary that look like amino acids (atoms ``N``, ``CA``, ``C``) kept as ``UNK`` with their backbone, missing
atoms masked. Everything left out is counted in a :class:`~genmol.data.proteins.structure.Dropped`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Dropped, Protein
from genmol.errors import GenmolError

__all__ = ["SlotAssignment", "assign_slots"]

_BACKBONE = frozenset(("N", "CA", "C"))


@dataclasses.dataclass
class SlotAssignment:
    """Which input atom fills each slot of each kept residue (``R`` residues, ``S`` slots, ``N`` input atoms).

    Attributes:
        aatype, residue_index, insertion_code, chain_id: ``[R]`` as in :class:`Protein`.
        atom_index: ``[R, S]`` int, the input atom in each slot, ``-1`` where there is none.
        dropped: what was left out.
        source: the file, for error messages.
    """

    aatype: np.ndarray
    residue_index: np.ndarray
    insertion_code: np.ndarray
    chain_id: np.ndarray
    atom_index: np.ndarray
    dropped: Dropped
    source: str

    def positions(self, coords: np.ndarray) -> np.ndarray:
        """``[..., R, S, 3]`` float32 Å from input coordinates ``[..., N, 3]`` Å (0 in empty slots).

        Raises:
            GenmolError: a kept atom has a non-finite coordinate (naming the residue, atom and frame).
        """
        mask = self.atom_index >= 0
        pos = np.asarray(coords, np.float32)[..., np.where(mask, self.atom_index, 0), :]
        pos = np.where(mask[..., None], pos, np.float32(0))
        bad = ~np.isfinite(pos).all(axis=-1)
        if bad.any():
            *frame, r, s = (int(i[0]) for i in np.nonzero(bad))
            where = f" in frame {frame[0]}" if frame else ""
            raise GenmolError(f"{self.source}, {self._residue(r)}: atom {rc.ATOM_NAMES[self.aatype[r], s]} has a "
                              f"non-finite coordinate{where}")
        return pos

    def protein(self, coords: np.ndarray) -> Protein:
        """The :class:`Protein` for one set of coordinates ``[N, 3]`` Å."""
        return Protein(self.aatype, self.positions(coords), self.atom_index >= 0, self.residue_index,
                       self.insertion_code, self.chain_id, source=self.source, dropped=self.dropped)

    def _residue(self, r: int) -> str:
        return (f"chain {str(self.chain_id[r])!r} residue {self.residue_index[r]}{self.insertion_code[r]} "
                f"({rc.RESIDUE_NAMES[self.aatype[r]]})")


def _is_hydrogen(element: np.ndarray, name: np.ndarray) -> np.ndarray:
    element = np.char.upper(np.char.strip(element.astype(str)))
    bare = np.char.lstrip(np.char.upper(np.char.strip(name.astype(str))), "0123456789")
    guessed = (element == "") & (np.char.startswith(bare, "H") | np.char.startswith(bare, "D"))
    return np.isin(element, ("H", "D")) | guessed


def _classify(res_name: str, heavy_names: list[str]) -> tuple[int | None, dict[str, str], str | None]:
    """``(token, atom renames, dropped category)`` of one residue; the category is None for a kept residue."""
    if res_name.strip().upper() in rc.WATER_NAMES:
        return None, {}, "waters"
    token, renames = rc.residue_token(res_name)
    if token is not None:
        return token, renames, None
    if _BACKBONE <= {n.strip().upper() for n in heavy_names}:
        return rc.UNK, {}, "unknown_residues"
    return None, {}, "ions" if len(heavy_names) == 1 else "ligands"


def assign_slots(atoms, source: str, altloc_atoms: int = 0, chain: str | None = None) -> SlotAssignment:
    """Residues and slot indices of ``atoms`` (a biotite ``AtomArray`` with ``chain_id``, ``res_id``,
    ``ins_code``, ``res_name``, ``atom_name``, ``element``; one model, one altloc already chosen). ``source`` names
    the file in messages and in ``Protein.source``; ``chain`` (if the atoms were selected by chain) in messages.

    Raises:
        GenmolError: naming ``source``: no atoms, no protein residue, or a chain in which no amino acid has a
            complete backbone (N, CA, C).
    """
    import biotite.structure as struc

    where = source if chain is None else f"{source}, chain {chain!r},"
    if atoms.array_length() == 0:
        raise GenmolError(f"{where} holds no atoms")
    hydrogen = _is_hydrogen(atoms.element, atoms.atom_name)
    counts = {f.name: 0 for f in dataclasses.fields(Dropped)} | {"altloc_atoms": altloc_atoms}
    rows, index = [], []
    starts = struc.get_residue_starts(atoms, add_exclusive_stop=True)
    for a, b in zip(starts[:-1], starts[1:]):
        heavy = [i for i in range(a, b) if not hydrogen[i]]
        token, renames, category = _classify(atoms.res_name[a], [atoms.atom_name[i] for i in heavy])
        if category is not None:
            counts[category] += 1
        if token is None:
            continue
        slots = np.full(rc.NUM_SLOTS, -1, dtype=np.int64)
        for i in heavy:
            s = rc.atom_slot(token, atoms.atom_name[i], renames)
            if s < 0 or slots[s] >= 0:
                counts["extra_atoms"] += 1
            else:
                slots[s] = i
        counts["hydrogens"] += (b - a) - len(heavy)
        rows.append((token, atoms.res_id[a], atoms.ins_code[a], atoms.chain_id[a]))
        index.append(slots)
    dropped = Dropped(**counts)
    if not rows:
        raise GenmolError(f"{where} holds no protein residues (only {dropped})")
    token, res_id, ins_code, chain = (np.asarray(c) for c in zip(*rows))
    result = SlotAssignment(token.astype(np.int32), res_id.astype(np.int32), ins_code.astype(str),
                            chain.astype(str), np.stack(index), dropped, source)
    _check_backbones(result)
    return result


def _check_backbones(sa: SlotAssignment) -> None:
    complete = (sa.atom_index[:, [rc.N_SLOT, rc.CA_SLOT, rc.C_SLOT]] >= 0).all(axis=1) & ~rc.IS_CAP[sa.aatype]
    for chain in dict.fromkeys(sa.chain_id.tolist()):
        if not complete[sa.chain_id == chain].any():
            raise GenmolError(f"{sa.source}, chain {chain!r}: no amino acid has a complete backbone (N, CA, C)")
