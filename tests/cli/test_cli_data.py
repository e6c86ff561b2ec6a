"""genmol data qm9 and genmol data proteins."""

import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


def genmol(*args):
    return subprocess.run([sys.executable, "-m", "genmol.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_data_qm9_stats_embedded():
    out = genmol("data", "qm9", "--source", "embedded")
    assert out.returncode == 0, out.stderr
    assert "2,000" in out.stdout and "35,827" in out.stdout and "18,240" in out.stdout


def test_data_proteins_prints_the_split_and_writes_it_as_pdb(tmp_path):
    from genmol.io.structures import read_structure

    out = genmol("data", "proteins", "--split", "test", "--max-length", "80", "--out", str(tmp_path / "test"))
    assert out.returncode == 0, out.stderr
    files = sorted((tmp_path / "test").glob("*.pdb"))
    assert files and f"wrote {len(files)} PDB files" in out.stdout and "test" in out.stdout
    assert all(read_structure(f).num_residues <= 80 for f in files)
    again = genmol("data", "proteins", "--split", "test", "--out", str(tmp_path / "test"))
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = genmol("data", "proteins", "--split", "holdout")
    assert bad.returncode == 2 and "--split holdout" in bad.stderr
