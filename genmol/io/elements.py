"""Chemical element symbols and atomic numbers."""

from __future__ import annotations

__all__ = ["SYMBOLS", "atomic_number", "symbol"]

SYMBOLS = (
    "X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb "
    "Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf "
    "Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()
_NUMBERS = {s.lower(): z for z, s in enumerate(SYMBOLS) if z > 0}


def atomic_number(sym: str) -> int:
    """Atomic number of an element symbol (case-insensitive) or of a number string ("6").

    Raises:
        KeyError: for an unknown symbol.
    """
    s = sym.strip()
    if s.isdigit() and 0 < int(s) < len(SYMBOLS):
        return int(s)
    return _NUMBERS[s.lower()]


def symbol(z: int) -> str:
    return SYMBOLS[int(z)]
