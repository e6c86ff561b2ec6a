"""The console script: help, a working train command, and one clear sentence per user error."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
