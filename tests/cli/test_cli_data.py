"""genmol data qm9."""

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
