"""Train -> export -> load -> sample, through the command line, on the tiny Symphony config.

Marked ``slow`` (run with ``python -m pytest -m slow``): every test starts the CLI in a new process that
compiles the model, about 10 minutes for the file on 2 cores, which would push the default run past its
25-minute budget. The default run keeps the same paths covered more cheaply: sampling through the CLI
(tests/cli/test_cli_boundaries.py), export and warm start (tests/train/test_export.py, test_warm_start.py).
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from flax import nnx

from genmol.io.molecules import read_molecules
from genmol.models.store import load_model

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def genmol(*args):
    return subprocess.run([sys.executable, "-m", "genmol.cli", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    d = tmp_path_factory.mktemp("sym")
    out = genmol("train", "symphony", "--config", "configs/symphony/test.py", "--workdir", str(d / "run"),
                 "--no-progress")
    assert out.returncode == 0, out.stderr
    out = genmol("export", str(d / "run"), "--out", str(d / "model"))
    assert out.returncode == 0, out.stderr
    return d / "model"


def test_export_records_checked_sampling_settings(shipped, tmp_path):
    _, cfg, meta = load_model(shipped)
    assert cfg.model_name == "symphony" and meta["step"] == 10 and meta["ema"] is True
    assert meta["elements"] == [1, 6, 7, 8, 9] and meta["sampling"] == {}
    run = shipped.parent / "run"
    bad = genmol("export", str(run), "--out", str(tmp_path / "bad"), "--sampling", "focus_temprature=0.5")
    assert bad.returncode == 2 and "unknown sampling setting(s) ['focus_temprature']" in bad.stderr
    assert not (tmp_path / "bad").exists()
    out = genmol("export", str(run), "--out", str(tmp_path / "m"), "--sampling", "position_temperature=0.5",
                 "--sampling", "grid=40x79")
    assert out.returncode == 0, out.stderr
    _, _, meta = load_model(tmp_path / "m")
    assert meta["sampling"]["position_temperature"] == 0.5 and meta["sampling"]["grid"] == "40x79"


def test_sample_cli_deterministic_and_bounded(shipped, tmp_path):
    args = ["sample", "molecules", "--num", "3", "--checkpoint", str(shipped), "--max-atoms", "7", "--seed", "5"]
    for name in ("a.xyz", "b.xyz"):
        out = genmol(*args, "--out", str(tmp_path / name))
        assert out.returncode == 0, out.stderr
        assert "molecules/s" in out.stderr
    assert (tmp_path / "a.xyz").read_text() == (tmp_path / "b.xyz").read_text()
    ms, _ = read_molecules(tmp_path / "a.xyz")
    assert len(ms) == 3 and ms.num_atoms.max() <= 7 and set(ms.atomic_numbers.tolist()) <= {1, 6, 7, 8, 9}


@pytest.mark.parametrize("content,match", [("2\n\nC 0 0 0\nXx 1 0 0\n", "unknown element"),
                                           ("1\n\nBr 0 0 0\n", "outside the model's elements")])
def test_bad_fragment_is_one_clear_error(shipped, tmp_path, content, match):
    frag = tmp_path / "frag.xyz"
    frag.write_text(content)
    out = genmol("sample", "molecules", "--num", "2", "--checkpoint", str(shipped), "--out", str(tmp_path / "o.xyz"),
                 "--from-fragment", str(frag))
    assert out.returncode == 2 and match in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "o.xyz").exists()


def test_missing_checkpoint(tmp_path):
    out = genmol("sample", "molecules", "--num", "2", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "o.xyz"))
    assert out.returncode == 2 and "not a genmol model directory" in out.stderr


def test_unsupported_output_type_fails_before_sampling(tmp_path):
    out = genmol("sample", "molecules", "--num", "2", "--out", str(tmp_path / "o.pdb"))
    assert out.returncode == 2 and "unsupported molecule file type '.pdb'" in out.stderr
    assert "sampling" not in out.stderr and not (tmp_path / "o.pdb").exists()


def test_sample_cli_on_a_finer_grid(shipped, tmp_path):
    out = genmol("sample", "molecules", "--num", "2", "--checkpoint", str(shipped), "--max-atoms", "6",
                 "--grid", "40x79", "--out", str(tmp_path / "o.xyz"))
    assert out.returncode == 0, out.stderr
    assert "on a 40x79 grid" in out.stderr
    bad = genmol("sample", "molecules", "--num", "2", "--checkpoint", str(shipped), "--grid", "40",
                 "--out", str(tmp_path / "p.xyz"))
    assert bad.returncode == 2 and "is not RES_BETAxRES_ALPHA" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "p.xyz").exists()


def test_init_from_records_its_source_and_resumes_without_it(shipped, tmp_path):
    import json
    import shutil

    source = shutil.copytree(shipped, tmp_path / "source")
    run = tmp_path / "run"
    base = ["train", "symphony", "--config", "configs/symphony/test.py", "--workdir", str(run), "--no-progress",
            "--set", "train.checkpoint_every=3"]
    out = genmol(*base, "--init-from", str(source), "--set", "train.steps=3")
    assert out.returncode == 0, out.stderr
    record = json.loads((run / "init_from.json").read_text())
    assert record["path"] == str(source) and record["metadata"]["step"] == 10
    shutil.rmtree(source)  # a resume restores its checkpoint: the export it started from is not needed
    out = genmol(*base, "--init-from", str(source), "--set", "train.steps=5", "--resume")
    assert out.returncode == 0, out.stderr
    out = genmol("export", str(run), "--out", str(tmp_path / "model"))
    assert out.returncode == 0, out.stderr
    assert "15 steps in all, 10 before this run" in out.stderr
    _, _, meta = load_model(tmp_path / "model")
    assert meta["step"] == 5 and meta["steps_total"] == 15 and meta["init_from"] == str(source)


def test_wrong_init_from_fails_before_loading_data(tmp_path):
    # The shipped model is larger than the test config's: the mismatch is reported, not the missing data.
    out = genmol("train", "symphony", "--config", "configs/symphony/test.py", "--workdir", str(tmp_path / "w"),
                 "--init-from", "genmol/pretrained/symphony_qm9", "--set", f"data.source={tmp_path / 'none.sdf'}")
    assert out.returncode == 2 and "its model differs from config.model in" in out.stderr, out.stderr
    assert "none.sdf" not in out.stderr and not (tmp_path / "w").exists()


def test_init_fresh_starts_named_parts_anew_and_keeps_the_rest(shipped, tmp_path):
    """A larger focus head on a trained position head: --init-fresh names the parts that start
    from a fresh initialisation (and whose config may differ); everything else is loaded."""
    import jax

    run = tmp_path / "run"
    bigger = ["--set", "model.focus_encoder.channels=12", "--set", "model.focus_hidden=24"]
    base = ["train", "symphony", "--config", "configs/symphony/test.py", "--workdir", str(run), "--no-progress",
            "--init-from", str(shipped), *bigger, "--set", "train.steps=2", "--set", "optim.learning_rate=0.0",
            "--set", "optim.schedule='constant'"]
    out = genmol(*base)
    assert out.returncode == 2 and "focus_encoder.channels (8 there, 12 here)" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    out = genmol(*base, "--init-fresh", "focus_encoder,focus_hidden,focus_out")
    assert out.returncode == 0, out.stderr
    out = genmol("export", str(run), "--out", str(tmp_path / "model"))
    assert out.returncode == 0, out.stderr
    new, cfg, _ = load_model(tmp_path / "model")
    old, _, _ = load_model(shipped)
    assert cfg.model.focus_encoder.channels == 12
    a, b = nnx.to_pure_dict(nnx.state(new, nnx.Param)), nnx.to_pure_dict(nnx.state(old, nnx.Param))
    for part in ("position_encoder", "coeffs", "species_embed"):  # learning rate 0: loaded, untouched
        for x, y in zip(jax.tree.leaves(a[part]), jax.tree.leaves(b[part])):
            np.testing.assert_array_equal(x, y)
    assert np.asarray(a["focus_hidden"]["kernel"]).shape == (12, 24)
    bad = genmol(*base, "--init-fresh", "focus_head", "--workdir", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "names no part of the model" in bad.stderr, bad.stderr
