"""scripts/diagnose_latent_diffusion.py on the committed EDM latent diffusion model: the clean latents decode to
the recorded fraction of valid links, and the table and the marginals are written."""

import subprocess
import sys

import pytest

from tests.helpers import ROOT

MODEL = ROOT / "experiments" / "ophiuchus_proteins" / "models" / "latent_diffusion_edm_step6000"


@pytest.mark.slow  # two runs that each encode the 93 training chains: minutes on two cores
def test_the_diagnosis_reports_each_start_time_and_the_marginals(tmp_path):
    out = tmp_path / "diagnosis.md"
    run = subprocess.run([sys.executable, "scripts/diagnose_latent_diffusion.py", "--checkpoint", str(MODEL),
                          "--chains", "4", "--steps", "4", "--t0", "1", "0", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| 1 |") or line.startswith("| 0 |")]
    assert len(rows) == 2
    clean = rows[0].split("|")
    assert clean[3].strip() == "0.00" and clean[4].strip() == "0.0"  # t0 = 1: the start latents themselves
    assert 0.3 < float(clean[2]) <= 1.0
    assert "| sampled |" in text and "| encoded |" in text
    bad = subprocess.run([sys.executable, "scripts/diagnose_latent_diffusion.py", "--checkpoint", str(MODEL),
                          "--nodes", "999"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "no training chain has 999 latent nodes" in bad.stderr
    assert "Traceback" not in bad.stderr
