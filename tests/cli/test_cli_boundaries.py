"""Every numeric flag at its boundaries: exit status 0 or 2, one sentence, never a traceback, nothing
half-written; user mistakes are found before any model is loaded or run directory made."""

import math
import subprocess
import sys

import pytest

from genmol.cli import main
from genmol.config import load_config
from genmol.models.store import build_model, save_model
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A freshly initialised tiny Symphony model directory (sampling it takes seconds)."""
    from flax import nnx

    cfg = load_config(ROOT / "configs" / "symphony" / "test.py")
    path = tmp_path_factory.mktemp("tiny") / "model"
    save_model(cfg, nnx.to_pure_dict(nnx.state(build_model(cfg), nnx.Param)), path, {"elements": [1, 6, 7, 8, 9]})
    return path


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out
    return code, out.err


SAMPLE_BAD = [
    (["--num", 0], "--num 0"), (["--num", -5], "--num -5"), (["--batch", 0], "--batch 0"),
    (["--batch", -1], "--batch -1"), (["--max-atoms", 0], "--max-atoms 0"), (["--max-atoms", 1], "--max-atoms 1"),
    (["--max-atoms", -1], "--max-atoms -1"), (["--max-atoms", 1000], "--max-atoms 1000 is outside 2 … 64"),
    (["--seed", -1], "--seed -1"), (["--seed", 2**32], "--seed 4294967296"), (["--seed", 2**70], "--seed"),
    (["--focus-temperature", 0], "temperatures"), (["--focus-temperature", -1], "temperatures"),
    (["--position-temperature", "nan"], "temperatures"), (["--position-temperature", "inf"], "temperatures"),
    (["--min-distance", -0.1], "minimum distance"), (["--min-distance", "inf"], "minimum distance"),
    (["--min-distance", "nan"], "minimum distance"), (["--grid", "0x0"], "grid"), (["--grid", "40"], "grid"),
    (["--grid", "30x2"], "at least 3"), (["--min-atoms", 6], "--min-atoms 6 is more than --max-atoms 5"),
    (["--min-atoms", -1], "min_atoms"),
    (["--num", "abc"], "Invalid value for '--num'"), (["--init", "Xx"], "not an element symbol"),
]


@pytest.mark.parametrize("flags,match", SAMPLE_BAD)
def test_sample_flags_out_of_range_are_one_sentence(capsys, tmp_path, tiny_model, flags, match):
    out = tmp_path / "o.xyz"
    code, err = run(capsys, "sample", "molecules", "--checkpoint", tiny_model, "--out", out, "--num", 2,
                    "--max-atoms", 5, *flags)
    assert code == 2 and match in err, err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags", [["--num", 1], ["--max-atoms", 2], ["--batch", 1000], ["--seed", 2**32 - 1],
                                   ["--focus-temperature", 1e-3], ["--position-temperature", 1e3],
                                   ["--min-distance", 0], ["--min-distance", 50.0], ["--grid", "2x3"]])
def test_sample_flags_at_valid_boundaries_work(capsys, tmp_path, tiny_model, flags):
    from genmol.io.molecules import read_molecules

    out = tmp_path / "o.xyz"
    code, err = run(capsys, "sample", "molecules", "--checkpoint", tiny_model, "--out", out, "--num", 2,
                    "--max-atoms", 4, *flags)
    assert code == 0, err
    ms, _ = read_molecules(out)
    assert 1 <= len(ms) <= 2 and ms.num_atoms.max() <= 4 and all(math.isfinite(x) for x in ms.positions.ravel())


def test_molecules_do_not_depend_on_the_batch(capsys, tmp_path, tiny_model):
    texts = []
    for batch in (1, 3, 5):
        out = tmp_path / f"b{batch}.xyz"
        assert run(capsys, "sample", "molecules", "--checkpoint", tiny_model, "--out", out, "--num", 5,
                   "--max-atoms", 6, "--batch", batch, "--seed", 11)[0] == 0
        texts.append(out.read_text())
    assert texts[0] == texts[1] == texts[2]


def test_max_atoms_one_and_the_seed_are_checked_before_loading_the_model(capsys, tmp_path):
    # no --checkpoint: the shipped model would take seconds to load; the flags fail first
    code, err = run(capsys, "sample", "molecules", "--out", tmp_path / "o.sdf", "--max-atoms", 1, "--checkpoint",
                    tmp_path / "no_such_model")
    assert code == 2 and "--max-atoms 1" in err


TRAIN_BAD = [
    (["--devices", 0], "--devices 0"), (["--devices", 99], "--devices 99"), (["--devices", -1], "--devices -1"),
    (["--set", "train.steps=0"], "train.steps=0"), (["--set", "train.batch_size=0"], "train.batch_size=0"),
    (["--set", "train.batch_size=-4"], "train.batch_size=-4"),
    (["--set", "model.encoder.name='painn'"], "unknown encoder 'painn'"),
    (["--set", "data.num_valid=-1"], "data.num_valid=-1"),
]


@pytest.mark.parametrize("flags,match", TRAIN_BAD)
def test_train_flags_out_of_range_leave_no_folder(capsys, tmp_path, flags, match):
    work = tmp_path / "w"
    code, err = run(capsys, "train", "property", "--config", ROOT / "configs" / "property" / "test.py",
                    "--workdir", work, "--no-progress", *flags)
    assert code == 2 and match in err, err
    assert not work.exists()


def test_resume_on_an_empty_workdir_says_it_starts_anew(capsys, tmp_path):
    code, err = run(capsys, "train", "property", "--config", ROOT / "configs" / "property" / "test.py",
                    "--workdir", tmp_path / "w", "--no-progress", "--resume", "--set", "train.steps=2")
    assert code == 0 and "holds no checkpoint: starting at step 0" in err


@pytest.mark.parametrize("flags,match", [(["--smooth", 0], "--smooth 0")])
def test_plot_flags(capsys, tmp_path, flags, match):
    code, err = run(capsys, "plot", tmp_path, "--out", tmp_path / "c.png", *flags)
    assert code == 2 and match in err and not (tmp_path / "c.png").exists()


def test_view_max_zero(capsys, tmp_path):
    code, err = run(capsys, "view", ROOT / "tests" / "fixtures" / "qm9" / "qm9_first8.extxyz", "--out",
                    tmp_path / "v.html", "--max", 0)
    assert code == 2 and "--max 0" in err and not (tmp_path / "v.html").exists()


def test_help_shows_plain_flags_and_model_names(capsys):
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    assert "<bool>" not in text and "--resume" in text
    for name in ("property", "denoiser", "symphony"):
        assert f"{name}:" in text


def test_missing_extra_hint_is_printed_literally(capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "posebusters" else real(name, *a))
    code, err = run(capsys, "evaluate", "molecules", ROOT / "tests" / "fixtures" / "qm9" / "qm9_first8.extxyz",
                    "--posebusters", "--reference", "none")
    assert code == 2 and "pip install 'genmol[posebusters]'" in err, err


def test_view_says_how_many_it_shows(capsys, tmp_path):
    code, err = run(capsys, "view", ROOT / "tests" / "fixtures" / "qm9" / "qm9_first8.extxyz", "--out",
                    tmp_path / "v.html", "--max", 3)
    assert code == 0 and "the first 3 of 8 molecules" in err and "--max 8 shows all" in err
    assert "the first 3 of 8 molecules" in (tmp_path / "v.html").read_text()


def test_training_progress_shows_one_rate(capsys, tmp_path):
    code, err = run(capsys, "train", "property", "--config", ROOT / "configs" / "property" / "test.py",
                    "--workdir", tmp_path / "w", "--set", "train.steps=3")
    assert code == 0 and ("step/s" in err or "s/step" in err)
    assert "steps_s" not in err and "it/s" not in err


def test_ctrl_c_inside_a_library_generator_prints_one_sentence_and_no_traceback():
    """A Ctrl-C inside a library call whose generator errors when closed late (flax's jit context does) leaves only
    the CLI's sentence on stderr and exit status 130."""
    code = """
import sys
import genmol.cli as cli

def context():
    try:
        yield
    finally:
        raise ValueError("no update context found")  # what flax's merge_context raises when closed after the interrupt

def app(args, prog_name):
    ctx = context()
    next(ctx)
    raise KeyboardInterrupt

cli.app = app
sys.exit(cli.main(["simulate"]))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert "interrupted" in proc.stderr
