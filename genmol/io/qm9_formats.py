"""Readers for QM9's distribution formats.

* figshare ``dsgdb9nsd.xyz.tar.bz2`` (one ``dsgdb9nsd_NNNNNN.xyz`` per molecule: tab
  separated, Mathematica ``*^`` exponents, a trailing tab on the property line, frequencies,
  two SMILES, two InChIs), a directory of such files, plus ``uncharacterized.txt``;
* MoleculeNet/DeepChem ``gdb9.sdf`` + ``gdb9.sdf.csv``;
* the ``qm9pack`` PyPI package's CSV files (Python-list literals in cells).

Every error names the file (and tar member or record) and the problem.
"""

from __future__ import annotations

import csv
import os
import re
import tarfile
from pathlib import Path
from typing import Iterator

import numpy as np

from genmol.errors import GenmolError
from genmol.data.elements import atomic_number
from genmol.data.molecules.molecule import Molecule
from genmol.io.files import check_input_file, decode_user_text, read_user_bytes, read_user_text

__all__ = ["PROPERTY_NAMES", "parse_dsgdb9nsd", "iter_figshare", "read_uncharacterized", "iter_gdb9_sdf",
           "iter_qm9pack_csv"]

PROPERTY_NAMES = ("A", "B", "C", "mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "U0", "U", "H", "G", "Cv")


def _first_line(e) -> str:
    """An exception's message cut to its first line (the error stays one sentence)."""
    lines = str(e).strip().splitlines()
    return lines[0][:120] if lines else type(e).__name__


def _num(tok: str, where: str) -> float:
    try:
        v = float(tok.replace("*^", "e"))
    except ValueError:
        raise GenmolError(f"{where}: {tok!r} is not a number") from None
    return v


def parse_dsgdb9nsd(text: str, where: str) -> Molecule:
    """Parses one official QM9 ``dsgdb9nsd_*.xyz`` file (see module docstring)."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise GenmolError(f"{where}: empty file")
    try:
        n = int(lines[0].split()[0])
        if n < 1 or len(lines[0].split()) != 1:
            raise ValueError
    except (ValueError, IndexError):
        raise GenmolError(f"{where}:1: expected the atom count, got {lines[0][:30]!r}") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < n + 5:
        raise GenmolError(f"{where}: truncated record: {n} atoms need {n + 5} lines, found {len(lines)}")
    if len(lines) > n + 5:
        raise GenmolError(f"{where}: {n} atoms need {n + 5} lines, found {len(lines)} (the atom count may be wrong)")
    head = lines[1].split()
    if len(head) != 17 or head[0] != "gdb":
        raise GenmolError(f"{where}:2: expected 'gdb <index>' and 15 properties, got {len(head)} fields")
    try:
        index = int(head[1])
    except ValueError:
        raise GenmolError(f"{where}:2: bad molecule index {head[1]!r}") from None
    info: dict = {"qm9_index": index}
    for name, tok in zip(PROPERTY_NAMES, head[2:]):
        info[name] = _num(tok, f"{where}:2")
    z = np.zeros(n, np.int64)
    pos = np.zeros((n, 3))
    for a in range(n):
        toks = lines[2 + a].split()
        w = f"{where}:{a + 3}"
        if len(toks) != 5:
            raise GenmolError(f"{w}: expected 'element x y z charge', got {len(toks)} fields")
        try:
            z[a] = atomic_number(toks[0])
        except KeyError:
            raise GenmolError(f"{w}: unknown element symbol {toks[0]!r}") from None
        pos[a] = [_num(t, w) for t in toks[1:4]]
        if not np.all(np.isfinite(pos[a])):
            raise GenmolError(f"{w}: non-finite coordinate")
    smiles = lines[n + 3].split()
    inchi = lines[n + 4].split()
    info["smiles"] = smiles[-1] if smiles else ""  # B3LYP-relaxed geometry's SMILES
    info["smiles_gdb17"] = smiles[0] if smiles else ""
    info["inchi"] = inchi[-1] if inchi else ""
    return Molecule(z, pos, info)


def read_uncharacterized(path: str | os.PathLike) -> set[int]:
    """QM9 indices listed in ``uncharacterized.txt`` (rows whose first field is an integer)."""
    out = set()
    for line in read_user_text(path, "text file").splitlines():
        toks = line.split()
        if toks and toks[0].isascii() and toks[0].isdigit():
            out.add(int(toks[0]))
    return out


def iter_figshare(path: str | os.PathLike, exclude: set[int] | None = None) -> Iterator[Molecule]:
    """Molecules from the figshare tarball or a directory of ``dsgdb9nsd_*.xyz``, sorted by name."""
    path = Path(path)
    exclude = exclude or set()
    pat = re.compile(r"dsgdb9nsd_(\d+)\.xyz$")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if pat.search(p.name))
        if not files:
            raise GenmolError(f"{path} holds no dsgdb9nsd_*.xyz files")
        for p in files:
            if int(pat.search(p.name).group(1)) in exclude:
                continue
            yield parse_dsgdb9nsd(read_user_text(p, "QM9 xyz file"), str(p))
        return
    check_input_file(path, "QM9 tar archive")
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError, EOFError):
        raise GenmolError(f"{path} is not a readable tar archive (plain, gzip, bzip2 or xz)") from None
    with tar:
        try:
            members = sorted((m for m in tar.getmembers() if m.isfile() and pat.search(m.name)),
                             key=lambda m: m.name)
        except (tarfile.TarError, OSError, EOFError, ValueError) as e:  # a truncated or corrupt archive
            raise GenmolError(f"{path} is a damaged tar archive ({_first_line(e)})") from None
        if not members:
            raise GenmolError(f"{path} holds no dsgdb9nsd_*.xyz members")
        for m in members:
            if int(pat.search(m.name).group(1)) in exclude:
                continue
            where = f"{path}[{m.name}]"
            try:
                data = tar.extractfile(m).read()
            except (tarfile.TarError, OSError, EOFError, ValueError) as e:
                raise GenmolError(f"{where}: the archive is damaged ({_first_line(e)})") from None
            yield parse_dsgdb9nsd(decode_user_text(data, where), where)


def iter_gdb9_sdf(sdf_path: str | os.PathLike, csv_path: str | os.PathLike | None = None) -> Iterator[Molecule]:
    """Molecules from MoleculeNet's ``gdb9.sdf`` (+ ``gdb9.sdf.csv`` properties, matched by ``gdb_<index>``).

    A record RDKit cannot read raises an error naming the record number.
    """
    from rdkit import Chem

    from genmol.data.molecules.rdkit import silence_rdkit

    silence_rdkit()
    props: dict[str, dict] = {}
    if csv_path is not None:
        names = dict(mu="mu", alpha="alpha", homo="homo", lumo="lumo", gap="gap", r2="r2", zpve="zpve", u0="U0",
                     u298="U", h298="H", g298="G", cv="Cv", A="A", B="B", C="C")
        text = read_user_text(csv_path, "CSV file")
        k = 1
        try:
            for k, row in enumerate(csv.DictReader(text.splitlines()), 2):
                props[row.get("mol_id") or ""] = {names[c]: float(v) for c, v in row.items() if c in names}
        except (csv.Error, ValueError, TypeError) as e:
            raise GenmolError(f"{csv_path}: row {k}: malformed property row ({_first_line(e)})") from None
    if not read_user_bytes(sdf_path, "gdb9.sdf file").strip():
        raise GenmolError(f"{sdf_path} is empty: it holds no SDF record")
    try:
        supplier = Chem.SDMolSupplier(str(sdf_path), removeHs=False, sanitize=False)
    except (OSError, RuntimeError, ValueError):
        raise GenmolError(f"{sdf_path} cannot be read as an SD file by RDKit") from None
    for i, mol in enumerate(supplier):
        if mol is None or mol.GetNumConformers() == 0:
            raise GenmolError(f"{sdf_path}: record {i + 1} could not be read by RDKit")
        name = mol.GetProp("_Name") if mol.HasProp("_Name") else ""
        z = np.array([a.GetAtomicNum() for a in mol.GetAtoms()], np.int64)
        pos = mol.GetConformer().GetPositions()
        if not np.all(np.isfinite(pos)):
            raise GenmolError(f"{sdf_path}: record {i + 1}: non-finite coordinate")
        info: dict = dict(props.get(name, {}))
        m = re.match(r"gdb_(\d+)$", name)
        if m:
            info["qm9_index"] = int(m.group(1))
        yield Molecule(z, np.asarray(pos, float), info)


_QM9PACK_COLUMNS = {"RotA_GHz": "A", "RotB_GHz": "B", "RotC_GHz": "C", "Dipole_debye": "mu",
                    "Polarizability_bohr3": "alpha", "HOMO_au": "homo", "LUMO_au": "lumo", "HOMO_LUMO_gap_au": "gap",
                    "R2_bohr2": "r2", "ZPVE_au": "zpve", "InternalEnergy_0K_au": "U0", "InternalEnergy_298K_au": "U",
                    "Enthalphy_298K_au": "H", "GibbsFreeEnergy_298K_au": "G", "Heatcapacity_Cv_cal_mol_K": "Cv"}


def iter_qm9pack_csv(path: str | os.PathLike) -> Iterator[tuple[int, str, list[str], np.ndarray, dict]]:
    """Rows of a qm9pack CSV: ``(index, smiles, element symbols, positions [n, 3], properties)``."""
    csv.field_size_limit(1 << 26)
    k = 0
    try:
        with open(check_input_file(path, "CSV file"), newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            for k, row in enumerate(reader):
                where = f"{path}: row {k + 2}"
                try:
                    elements = [t.strip().strip("'\"") for t in row["Elements"].strip("[]").split(",")]
                    coords = np.array([float(t) for t in row["XYZ_Ang"].replace("[", "").replace("]", "").split(",")])
                    props = {v: float(row[c]) for c, v in _QM9PACK_COLUMNS.items()}
                    index = int(row["Index"])
                    smiles = str(row["SMILES"])
                except (KeyError, ValueError, AttributeError, TypeError) as e:  # a missing cell reads as None
                    raise GenmolError(f"{where}: malformed qm9pack row ({_first_line(repr(e))})") from None
                if coords.size != 3 * len(elements):
                    raise GenmolError(f"{where}: {len(elements)} elements but {coords.size} coordinates")
                if not np.all(np.isfinite(coords)):
                    raise GenmolError(f"{where}: non-finite coordinate")
                yield index, smiles, elements, coords.reshape(-1, 3), props
    except (csv.Error, UnicodeDecodeError, OSError) as e:
        raise GenmolError(f"{path} is not a readable CSV file after row {k + 1} ({_first_line(e)})") from None


