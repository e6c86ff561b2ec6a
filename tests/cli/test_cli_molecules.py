"""genmol evaluate molecules and genmol view: scores, JSON, bad files, HTML."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def genmol(*args):
    return subprocess.run([sys.executable, "-m", "genmol.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_evaluate_molecules_json(tmp_path):
    import json

    src = ROOT / "tests" / "fixtures" / "qm9" / "gschnet_samples_edm.npz"
    out = genmol("evaluate", "molecules", str(src), "--json", str(tmp_path / "m.json"), "--reference", "none",
                 "--no-xyz2mol")
    assert out.returncode == 0, out.stderr
    d = json.loads((tmp_path / "m.json").read_text())
    assert set(d) >= {"atom_stability", "mol_stability", "validity", "uniqueness", "valid_and_unique", "novelty",
                      "xyz2mol_validity", "xyz2mol_uniqueness", "xyz2mol_connected", "n"}
    assert d["n"] == 10000 and abs(d["mol_stability"] - 0.6805) < 1e-9 and d["novelty"] is None
    # not computed: no reference, no xyz2mol bonds, no PoseBusters (undefined -> null, rows still printed)
    assert d["local_env_jsd"] is None and d["atom_type_jsd"] is None and d["posebusters_bond_lengths"] is None
    assert "0.6805" in out.stdout


@pytest.mark.parametrize("content,name,match", [
    ("", "empty.xyz", "empty"),
    ("3\n\nC 0 0 0\n", "trunc.xyz", "ends after"),
    ("x", "m.pdb", "unsupported molecule file type"),
])
def test_evaluate_bad_files(tmp_path, content, name, match):
    p = tmp_path / name
    p.write_text(content)
    out = genmol("evaluate", "molecules", str(p), "--reference", "none")
    assert out.returncode == 2 and match in out.stderr and str(p.name) in out.stderr
    assert "Traceback" not in out.stderr


def test_evaluate_counts_bad_records(tmp_path):
    p = tmp_path / "mixed.xyz"
    p.write_text("2\n\nC 0 0 0\nO 0 0 1.2\n2\n\nC 0 0 0\nQq 0 0 1\n")
    out = genmol("evaluate", "molecules", str(p), "--reference", "none", "--json", str(tmp_path / "o.json"))
    assert out.returncode == 0, out.stderr
    assert "unknown element" in out.stdout and "│ n " in out.stdout


def test_view_writes_self_contained_html(tmp_path):
    from genmol.data.molecules.qm9 import load_qm9
    from genmol.io.molecules import write_molecules

    write_molecules(tmp_path / "m.sdf", load_qm9("embedded").subset(range(5)))
    out = genmol("view", str(tmp_path / "m.sdf"), "--out", str(tmp_path / "v.html"))
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "v.html").read_text()
    assert text.count("<canvas") == 5 and "C#CC#C" in text and "xyz2mol-valid" in text
    assert "http" not in text  # nothing fetched from the network


def test_evaluate_posebusters_json(tmp_path):
    """``--posebusters`` on six real QM9 molecules and one with a C=O bond squeezed to 3/4 of its length: every real
    geometry passes every mol_fast check, the squeezed one fails bond_lengths (and so all_pass), and the JSON
    holds PoseBusters' per-check pass rates over the xyz2mol-valid molecules."""
    import json


    from genmol.data.molecules.molecule import Molecule
    from genmol.data.molecules.molecule_set import MoleculeSet
    from genmol.data.molecules.qm9 import load_qm9
    from genmol.io.molecules import write_molecules

    qm9 = load_qm9("embedded")
    mols = [qm9.molecule(i) for i in range(6)]
    bad = qm9.molecule(5)  # ... C(=O)O ...: atom 3 is the carbonyl O of C 2
    assert list(bad.atomic_numbers[2:4]) == [6, 8]
    pos = bad.positions.copy()
    pos[3] = pos[2] + 0.75 * (pos[3] - pos[2])  # 1.21 Å -> 0.91 Å
    mols.append(Molecule(bad.atomic_numbers, pos))
    write_molecules(tmp_path / "m.sdf", MoleculeSet.from_molecules(mols))

    out = genmol("evaluate", "molecules", str(tmp_path / "m.sdf"), "--posebusters", "--reference", "none",
                 "--json", str(tmp_path / "o.json"))
    assert out.returncode == 0, out.stderr
    d = json.loads((tmp_path / "o.json").read_text())
    assert d["n"] == 7 and d["xyz2mol_validity"] == 1.0  # all seven get RDKit bonds, so PoseBusters sees them all
    pb = d["posebusters"]
    assert set(pb) == {"n", "all_pass", "checks"} and pb["n"] == 7
    checks = pb["checks"]
    expected = {"sanitization", "bond_lengths", "bond_angles", "internal_steric_clash", "all_atoms_connected"}
    assert expected <= set(checks)
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in checks.values())
    # a check's pass rate is a count over n molecules; real QM9 geometries pass, the squeezed bond does not
    assert checks["bond_lengths"] == 6 / 7
    assert d["posebusters_bond_lengths"] == 6 / 7 and "│ posebusters_bond_lengths │ 0.8571 │" in out.stdout
    assert all(v == 1.0 for k, v in checks.items() if k != "bond_lengths"), checks
    assert pb["all_pass"] == 6 / 7 and pb["all_pass"] <= min(checks.values())
    assert "PoseBusters (7 xyz2mol-valid)" in out.stdout and "bond_lengths 0.857" in out.stdout
