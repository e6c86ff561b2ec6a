"""genmol train / export / plot and the console script itself: help, a working train command, one clear
sentence per user error."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def genmol(*args):
    return subprocess.run([sys.executable, "-m", "genmol.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_help_lists_commands():
    out = genmol("--help")
    assert out.returncode == 0 and "train" in out.stdout


def test_train_runs(tmp_path):
    out = genmol("train", "property", "--config", "configs/property/test.py", "--workdir", str(tmp_path / "w"),
                 "--no-progress", "--set", "train.steps=3")
    assert out.returncode == 0, out.stderr
    assert "trained to step 3" in out.stderr


@pytest.mark.parametrize("args,match", [
    (["train", "property", "--config", "configs/property/missing.py", "--workdir", "W"], "does not exist"),
    (["train", "property", "--config", "configs/property/test.py", "--workdir", "W", "--set", "train.nope=1"],
     "unknown config key 'train.nope'"),
    (["train", "property", "--config", "configs/property/test.py", "--workdir", "W", "--set",
      "model.encoder.name='painn'"], "unknown encoder 'painn'"),
    (["train", "symphonyy", "--config", "configs/property/test.py", "--workdir", "W"], "unknown model 'symphonyy'"),
    (["train", "property", "--config", "configs/property/test.py", "--workdir", "W", "--set", "data.limit=3"],
     "leaves no training molecules"),
    (["train", "property", "--config", "configs/property/test.py", "--workdir", "W", "--init-from", "nowhere"],
     "nowhere is not a genmol model directory"),
    (["train", "property", "--config", "configs/property/test.py", "--workdir", "W", "--init-from",
      "genmol/pretrained/symphony_qm9"], "holds a 'symphony' model, not 'property'"),
    (["train", "property", "--config", "configs/property/test.py", "--workdir", "W", "--set",
      "train.batch_size=1", "--set", "data.limit=45"], None),
])
def test_user_errors_are_one_sentence(tmp_path, args, match):
    args = [a.replace("W", str(tmp_path / "w")) if a == "W" else a for a in args]
    out = genmol(*args, "--no-progress", "--set", "train.steps=1") if match is None else genmol(*args)
    if match is None:  # a valid edge case still works
        assert out.returncode == 0, out.stderr
        return
    assert out.returncode == 2, out.stderr
    assert match in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("error:")


def test_debug_shows_traceback(tmp_path):
    out = genmol("--debug", "train", "property", "--config", "configs/property/missing.py", "--workdir",
                 str(tmp_path))
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_plot_learning_curves(tmp_path):
    out = genmol("train", "property", "--config", "configs/property/test.py", "--workdir", str(tmp_path / "w"),
                 "--no-progress", "--set", "train.steps=4")
    assert out.returncode == 0, out.stderr
    out = genmol("plot", str(tmp_path / "w"), "--out", str(tmp_path / "c.png"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    out = genmol("plot", str(tmp_path), "--out", str(tmp_path / "d.png"))
    assert out.returncode == 2 and "no metrics.jsonl records" in out.stderr


def test_scripts_report_user_errors_in_one_sentence():
    """The benchmark and experiment scripts end a user error like the CLI: one sentence, status 2."""
    out = subprocess.run([sys.executable, "experiments/symphony_qm9/sweep_temperatures.py", "no/such/model",
                          "--pairs", "1,1"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == ("error: no/such/model is not a genmol model directory (it does not exist; "
                                  "'genmol export' writes one)")
    out = subprocess.run([sys.executable, "scripts/bench_symphony.py", "--priors-cost", "1", "--checkpoint",
                          "no/such/model"], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "GENMOL_DEBUG": "1"})
    assert out.returncode != 0 and "Traceback" in out.stderr  # GENMOL_DEBUG keeps the traceback
