"""Chemical element symbols, atomic numbers, and the bonding facts genmol uses for H, C, N, O, F."""

from __future__ import annotations

__all__ = ["SYMBOLS", "COVALENT_RADII", "NEUTRAL_VALENCE", "atomic_number", "symbol", "covalent_radius"]

SYMBOLS = (
    "X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb "
    "Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf "
    "Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()
_NUMBERS = {s.lower(): z for z, s in enumerate(SYMBOLS) if z > 0}

# Single-bond covalent radii (Å; Cordero et al. 2008, RDKit's ``GetRcovalent``): two atoms closer
# than 1.3 x the sum are bonded under RDKit's ``DetermineConnectivity`` (xyz2mol's covFactor).
COVALENT_RADII = {1: 0.31, 6: 0.76, 7: 0.71, 8: 0.66, 9: 0.57}
# Number of bonds (sum of bond orders) of the neutral atom.
NEUTRAL_VALENCE = {1: 1, 6: 4, 7: 3, 8: 2, 9: 1}


def covalent_radius(z: int, default: float = 0.75) -> float:
    """Å; ``default`` for elements outside :data:`COVALENT_RADII`."""
    return COVALENT_RADII.get(int(z), default)


def atomic_number(sym: str) -> int:
    """Atomic number of an element symbol (case-insensitive) or of a number string ("6").

    Raises:
        KeyError: for an unknown symbol.
    """
    s = sym.strip()
    if s.isascii() and s.isdigit() and 0 < int(s) < len(SYMBOLS):  # not "²": isdigit() but int() fails
        return int(s)
    return _NUMBERS[s.lower()]


def symbol(z: int) -> str:
    return SYMBOLS[int(z)]
