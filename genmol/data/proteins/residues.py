"""The one residue vocabulary and heavy-atom slot table of genmol.

Tokens (``T = 23``): the 20 standard amino acids in alphabetical order of their three-letter names
(``ALA`` = 0 ... ``VAL`` = 19), ``UNK`` = 20 (a residue outside the vocabulary: backbone atoms only), and the
caps ``ACE`` = 21 (acetyl, N-terminal) and ``NME`` = 22 (N-methylamide, C-terminal). Models that need
padding or mask tokens add them after these.

Slots (``S = 14``, atom14-style): every residue type lists its heavy atoms in fixed slots; amino acids start
with ``N, CA, C, O`` (slots 0-3) followed by the side chain in the usual (AlphaFold atom14) order.
The C-terminal ``OXT`` has no slot (it is counted as an extra atom when read).

Caps have no Cα. Their methyl carbon sits in the Cα slot (slot 1) as the Cα analogue, so that slots keep
their backbone meaning across the chain:

* ``ACE``: slot 1 ``CH3``, slot 2 ``C``, slot 3 ``O`` (slot 0 empty) — like the C-terminal half of a residue.
* ``NME``: slot 0 ``N``, slot 1 ``C`` (the methyl carbon; the wwPDB and OpenMM/Amber name; older PDB files and
  CHARMM call it ``CH3``, accepted when reading) — like the N-terminal half of a residue.

Cα-centric consumers (one node per residue at slot 1, side-chain offsets from it) therefore treat caps as
residues whose "Cα" is the methyl carbon. Metrics defined on true Cα atoms (Cα RMSD, contact maps, Cα
distance features) must leave caps out with :data:`IS_CAP` (or ``Protein.amino_acid_mask()``).

Flip-symmetric pairs (:data:`FLIP_PAIRS`): atoms that are chemically equivalent under a 180° ring or
carboxylate flip, so a structure and its swapped copy are the same molecule — ASP ``OD1/OD2``, GLU
``OE1/OE2``, PHE and TYR ``CD1/CD2`` and ``CE1/CE2`` (at most two pairs per residue). ARG ``NH1/NH2`` is
*not* treated as flippable, following Ophiuchus/moleculib (notes/proteins.md §1.2); nor are the
near-symmetric LEU ``CD1/CD2`` and VAL ``CG1/CG2`` (prochiral, distinguishable by name).

All tables are numpy constants built once at import; index them with ``aatype`` (``[R]`` int).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "AMINO_ACIDS", "RESIDUE_NAMES", "RESIDUE_INDEX", "UNK", "ACE", "NME", "NUM_TYPES", "NUM_SLOTS",
    "NUM_AMINO_ACIDS", "N_SLOT", "CA_SLOT", "C_SLOT", "O_SLOT", "SLOT_ATOMS", "ATOM_NAMES", "ATOM_MASK",
    "ELEMENTS", "IS_CAP", "FLIP_PAIRS", "FLIP_SLOTS", "SWAP_PERMUTATION", "RESIDUE_ALIASES", "ATOM_ALIASES",
    "WATER_NAMES", "residue_token", "atom_slot",
]

BACKBONE = ("N", "CA", "C", "O")
_SIDE_CHAINS = {
    "ALA": ("CB",),
    "ARG": ("CB", "CG", "CD", "NE", "CZ", "NH1", "NH2"),
    "ASN": ("CB", "CG", "OD1", "ND2"),
    "ASP": ("CB", "CG", "OD1", "OD2"),
    "CYS": ("CB", "SG"),
    "GLN": ("CB", "CG", "CD", "OE1", "NE2"),
    "GLU": ("CB", "CG", "CD", "OE1", "OE2"),
    "GLY": (),
    "HIS": ("CB", "CG", "ND1", "CD2", "CE1", "NE2"),
    "ILE": ("CB", "CG1", "CG2", "CD1"),
    "LEU": ("CB", "CG", "CD1", "CD2"),
    "LYS": ("CB", "CG", "CD", "CE", "NZ"),
    "MET": ("CB", "CG", "SD", "CE"),
    "PHE": ("CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ"),
    "PRO": ("CB", "CG", "CD"),
    "SER": ("CB", "OG"),
    "THR": ("CB", "OG1", "CG2"),
    "TRP": ("CB", "CG", "CD1", "CD2", "NE1", "CE2", "CE3", "CZ2", "CZ3", "CH2"),
    "TYR": ("CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "OH"),
    "VAL": ("CB", "CG1", "CG2"),
}

AMINO_ACIDS: tuple[str, ...] = tuple(_SIDE_CHAINS)
RESIDUE_NAMES: tuple[str, ...] = AMINO_ACIDS + ("UNK", "ACE", "NME")
RESIDUE_INDEX: dict[str, int] = {name: i for i, name in enumerate(RESIDUE_NAMES)}
NUM_AMINO_ACIDS = len(AMINO_ACIDS)
UNK, ACE, NME = RESIDUE_INDEX["UNK"], RESIDUE_INDEX["ACE"], RESIDUE_INDEX["NME"]
NUM_TYPES = len(RESIDUE_NAMES)
NUM_SLOTS = 14
N_SLOT, CA_SLOT, C_SLOT, O_SLOT = 0, 1, 2, 3

# Atom name per slot ("" = no atom in this slot).
SLOT_ATOMS: dict[str, tuple[str, ...]] = {
    **{aa: BACKBONE + side for aa, side in _SIDE_CHAINS.items()},
    "UNK": BACKBONE,
    "ACE": ("", "CH3", "C", "O"),
    "NME": ("N", "C"),
}

# Read-time aliases: residue name -> (token name, {atom name in the file: slot-table name}).
# MSE is selenomethionine (SE -> SD); the others are protonation/force-field variants (Amber, CHARMM).
RESIDUE_ALIASES: dict[str, tuple[str, dict[str, str]]] = {
    "MSE": ("MET", {"SE": "SD"}),
    **{name: ("HIS", {}) for name in ("HID", "HIE", "HIP", "HSD", "HSE", "HSP", "HSC")},
    **{name: ("CYS", {}) for name in ("CYX", "CYM")},
    "ASH": ("ASP", {}), "GLH": ("GLU", {}), "LYN": ("LYS", {}),
    "NMA": ("NME", {}),
}
# Read-time atom aliases per token name ("*" = every amino acid): CHARMM/GROMACS terminal oxygens, CHARMM's
# ILE CD, the older NME methyl name.
ATOM_ALIASES: dict[str, dict[str, str]] = {
    "*": {"OT1": "O", "OC1": "O", "O1": "O", "OT2": "OXT", "OC2": "OXT", "O2": "OXT"},
    "ILE": {"CD": "CD1"},
    "NME": {"CH3": "C", "CT": "C"},
}
WATER_NAMES = frozenset({"HOH", "WAT", "H2O", "DOD", "SOL", "TIP", "TIP3", "TIP4", "TIP5", "T3P", "T4P", "SPC"})


def _slot_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    names = np.full((NUM_TYPES, NUM_SLOTS), "", dtype="<U4")
    for t, res in enumerate(RESIDUE_NAMES):
        atoms = SLOT_ATOMS[res]
        names[t, :len(atoms)] = atoms
    mask = names != ""
    elements = np.where(mask, names.astype("<U1"), "").astype("<U2")
    return names, mask, elements


ATOM_NAMES, ATOM_MASK, ELEMENTS = _slot_table()
"""``ATOM_NAMES [T, S]`` str (``""`` = empty slot), ``ATOM_MASK [T, S]`` bool, ``ELEMENTS [T, S]`` str: the
element of each slot (the first letter of its name: C, N, O or S for every atom in the table)."""
IS_CAP = np.isin(np.arange(NUM_TYPES), (ACE, NME))
"""``[T]`` bool: the type is a cap (ACE, NME), whose slot 1 is a methyl carbon, not a Cα."""

FLIP_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "ASP": (("OD1", "OD2"),),
    "GLU": (("OE1", "OE2"),),
    "PHE": (("CD1", "CD2"), ("CE1", "CE2")),
    "TYR": (("CD1", "CD2"), ("CE1", "CE2")),
}


def _flip_tables() -> tuple[np.ndarray, np.ndarray]:
    slots = np.full((NUM_TYPES, 2, 2), -1, dtype=np.int32)
    perm = np.tile(np.arange(NUM_SLOTS, dtype=np.int32), (NUM_TYPES, 1))
    for res, pairs in FLIP_PAIRS.items():
        t = RESIDUE_INDEX[res]
        for k, (a, b) in enumerate(pairs):
            i, j = SLOT_ATOMS[res].index(a), SLOT_ATOMS[res].index(b)
            slots[t, k] = (i, j)
            perm[t, i], perm[t, j] = j, i
    return slots, perm


FLIP_SLOTS, SWAP_PERMUTATION = _flip_tables()
"""``FLIP_SLOTS [T, 2, 2]`` int: the slot indices of each residue type's flip pairs (``-1`` rows pad types with
fewer than two pairs). ``SWAP_PERMUTATION [T, S]`` int: the slot permutation that applies all flips of a type at
once (an involution; identity for types without pairs): ``positions[r, SWAP_PERMUTATION[aatype[r]]]`` is the
flipped residue ``r``."""


def residue_token(res_name: str) -> tuple[int | None, dict[str, str]]:
    """The token of a residue name as found in a file and the atom renames its alias implies.

    Returns ``(token, renames)``; ``token`` is ``None`` for a name outside the vocabulary and its aliases
    (``MSE`` -> ``MET`` with ``SE`` -> ``SD``; HIS/CYS/ASP/GLU/LYS protonation variants; ``NMA`` -> ``NME``).
    """
    name = res_name.strip().upper()
    if name in RESIDUE_INDEX:
        return RESIDUE_INDEX[name], {}
    if name in RESIDUE_ALIASES:
        canonical, renames = RESIDUE_ALIASES[name]
        return RESIDUE_INDEX[canonical], renames
    return None, {}


_SLOT_OF = [{name: s for s, name in enumerate(SLOT_ATOMS[res]) if name} for res in RESIDUE_NAMES]


def atom_slot(token: int, atom_name: str, renames: dict[str, str] | None = None) -> int:
    """The slot of ``atom_name`` in residue type ``token``, or ``-1`` if the type has no such heavy atom.

    ``renames`` (from :func:`residue_token`) and the aliases in :data:`ATOM_ALIASES` are applied first.
    """
    name = atom_name.strip().upper()
    name = (renames or {}).get(name, name)
    res = RESIDUE_NAMES[token]
    if token < NUM_AMINO_ACIDS or token == UNK:
        name = ATOM_ALIASES["*"].get(name, name)
    name = ATOM_ALIASES.get(res, {}).get(name, name)
    return _SLOT_OF[token].get(name, -1)
