"""XYZ and extended XYZ (ASE-compatible, multi-frame) reading and writing.

Coordinates are written fixed-point (``%.10f``): RDKit's XYZ reader rejects numbers
such as ``1e-05``. Files are written atomically. Every parse error names the file, the
line and the problem.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from genmol.errors import GenmolError
from genmol.io.atomic import atomic_open
from genmol.io.files import read_user_text
from genmol.data.elements import atomic_number, symbol
from genmol.data.molecules.molecule import Molecule

__all__ = ["read_xyz", "iter_xyz", "write_xyz", "parse_extxyz_comment", "format_xyz_block"]

_KV = re.compile(r'([A-Za-z_][\w\-]*)\s*=\s*("(?:[^"\\]|\\.)*"|\S+)')


def parse_extxyz_comment(line: str) -> dict:
    """Parses an extxyz comment line ``key=value key="quoted value" ...`` into a dict.

    Numbers become int/float, ``T``/``F`` stay strings; quoted values are unquoted.
    """
    info: dict = {}
    for key, raw in _KV.findall(line):
        if raw.startswith('"'):
            info[key] = raw[1:-1].replace('\\"', '"')
            continue
        try:
            info[key] = int(raw)
        except ValueError:
            try:
                info[key] = float(raw.replace("*^", "e"))
            except ValueError:
                info[key] = raw
    return info


def _parse_properties(spec, where: str) -> list[tuple[str, str, int]]:
    spec = str(spec)  # ``Properties=5`` parses as a number
    parts = spec.split(":")
    if len(parts) % 3:
        raise GenmolError(f"{where}: malformed Properties={spec!r}")
    cols = []
    for i in range(0, len(parts), 3):
        name, kind, n = parts[i], parts[i + 1], parts[i + 2]
        if len(kind) != 1 or kind not in "SRILsril" or not (n.isascii() and n.isdigit()) or int(n) < 1:
            raise GenmolError(f"{where}: malformed Properties={spec!r}")
        cols.append((name, kind.upper(), int(n)))
    found = {c[0]: (c[1], c[2]) for c in cols}
    if found.get("species") != ("S", 1) or found.get("pos") != ("R", 3) or len(found) != len(cols):
        raise GenmolError(f"{where}: Properties={spec!r} must hold species:S:1 and pos:R:3 once each")
    return cols


class _ContentError(GenmolError):
    """A problem inside one record (kept, not raised, in lenient mode)."""


def _float(tok: str, where: str) -> float:
    try:
        v = float(tok.replace("*^", "e"))
    except ValueError:
        raise _ContentError(f"{where}: {tok!r} is not a number") from None
    if not math.isfinite(v):
        raise _ContentError(f"{where}: non-finite coordinate {tok!r}")
    return v


def iter_xyz(path: str | os.PathLike, *, lenient: bool = False) -> Iterator[Molecule]:
    """Yields the molecules of a (multi-frame) XYZ or extended-XYZ file.

    Per-atom extxyz columns other than species/positions go to ``info["arrays"]``. With
    ``lenient``, an unknown element (atomic number 0) or a bad/non-finite coordinate (NaN)
    inside a frame is kept and described in ``info["error"]``; structural errors still raise.

    Raises:
        GenmolError: naming file and line, for a missing file or a directory, bytes that are not
            UTF-8 text, an empty file, a bad atom count, a truncated frame, an unknown element, or a
            non-numeric/NaN/inf coordinate.
    """
    path = Path(path)
    lines = read_user_text(path).splitlines()
    i = 0
    frame = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        where = f"{path}:{i + 1} (frame {frame})"
        try:
            n = int(lines[i].split()[0])
            if n < 0 or len(lines[i].split()) != 1:
                raise ValueError
        except ValueError:
            raise GenmolError(f"{where}: expected an atom count, got {lines[i].strip()[:40]!r}") from None
        if i + 2 + n > len(lines):
            raise GenmolError(f"{where}: frame declares {n} atoms but the file ends after "
                              f"{max(len(lines) - i - 2, 0)} atom line(s)")
        comment = lines[i + 1]
        if "=" in comment:
            info = parse_extxyz_comment(comment)
        else:
            info = {"comment": comment.strip()} if comment.strip() else {}
        cols = _parse_properties(info.pop("Properties"), where) if "Properties" in info else \
            [("species", "S", 1), ("pos", "R", 3)]
        width = sum(c[2] for c in cols)
        z = np.zeros(n, np.int64)
        pos = np.zeros((n, 3), np.float64)
        extra: dict[str, list] = {c[0]: [] for c in cols if c[0] not in ("species", "pos")}
        problem = None
        for a in range(n):
            ln = i + 2 + a
            where_a = f"{path}:{ln + 1} (frame {frame}, atom {a})"
            toks = lines[ln].split()
            if len(toks) < width:
                raise GenmolError(f"{where_a}: expected {width} columns, got {len(toks)}"
                                  + (" (the atom count may disagree with the body)" if len(toks) <= 1 else ""))
            c0 = 0
            for name, kind, k in cols:
                vals = toks[c0:c0 + k]
                c0 += k
                try:
                    if name == "species":
                        try:
                            z[a] = atomic_number(vals[0])
                        except KeyError:
                            raise _ContentError(f"{where_a}: unknown element symbol {vals[0]!r}") from None
                    elif name == "pos":
                        pos[a] = [_float(t, where_a) for t in vals]
                    else:
                        extra[name].append([_float(t, where_a) if kind in "RI" else t for t in vals])
                except _ContentError as e:
                    if not lenient:
                        raise GenmolError(str(e)) from None
                    problem = problem or str(e).split(": ", 1)[-1]
                    if name == "pos":
                        pos[a] = np.nan
                    elif name != "species":
                        extra[name].append([np.nan] * k)
        # A following line that parses as an atom line means the count understated the body.
        nxt = i + 2 + n
        if nxt < len(lines) and lines[nxt].strip():
            toks = lines[nxt].split()
            if len(toks) >= 4 and not toks[0].isdigit():
                raise GenmolError(f"{path}:{nxt + 1} (frame {frame}): more atom lines than the declared {n}")
        if extra:
            info["arrays"] = {k: np.asarray(v).squeeze(-1) if np.asarray(v).shape[-1:] == (1,) else np.asarray(v)
                              for k, v in extra.items()}
        if problem is not None:
            info["error"] = problem
        yield Molecule(z, pos, info)
        i = nxt
        frame += 1
    if frame == 0:
        raise GenmolError(f"{path} is empty: no XYZ frame found")


def read_xyz(path: str | os.PathLike) -> list[Molecule]:
    """Reads all frames of an XYZ/extxyz file (see :func:`iter_xyz`)."""
    return list(iter_xyz(path))


def _fmt_value(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace('"', '\\"') + '"' if (not v or any(ch in v for ch in ' "=')) else v
    if isinstance(v, (bool, np.bool_)):
        return "T" if v else "F"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return repr(float(v))


def format_xyz_block(mol: Molecule, extended: bool = True) -> str:
    """One XYZ frame as text (fixed-point coordinates)."""
    n = mol.num_atoms
    lines = [str(n)]
    if extended:
        info = {k: v for k, v in mol.info.items()
                if k != "arrays" and isinstance(v, (str, int, float, np.number, bool))}
        lines.append(" ".join(["Properties=species:S:1:pos:R:3"] + [f"{k}={_fmt_value(v)}" for k, v in info.items()]
                              + ['pbc="F F F"']))
    else:
        lines.append(str(mol.info.get("comment", mol.info.get("smiles", ""))))
    for zz, (x, y, w) in zip(mol.atomic_numbers, mol.positions):
        lines.append(f"{symbol(zz)} {x:.10f} {y:.10f} {w:.10f}")
    return "\n".join(lines) + "\n"


def write_xyz(path: str | os.PathLike, molecules: Iterable[Molecule], extended: bool = True) -> None:
    """Writes molecules as a multi-frame (extended) XYZ file, atomically."""
    with atomic_open(path, "w") as f:
        for mol in molecules:
            f.write(format_xyz_block(mol, extended))
