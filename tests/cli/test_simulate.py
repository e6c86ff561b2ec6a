"""genmol simulate end to end, in process (``genmol.cli.main``) with one tiny random-weight jump simulator: every
output format reads back (genmol and mdtraj) with the input's residues, walkers write one file each, the seed and
not the chunk size decides the frames, a SIGINT/SIGTERM leaves whole chunks only, bad input is one sentence with
exit status 2 and nothing written, untrained conditions warn (or are refused).

Compile time dominates: the runs here use three shapes of alanine dipeptide (3 residues; 1 or 3 walkers, chunks of
2 or 3 jumps) and one of Trp-cage (20 residues), and every model directory is loaded once per module (see
``one_model_per_directory``)."""

import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import mdtraj
import numpy as np
import pytest

from genmol.cli import main
from genmol.io.structures import read_structure, read_trajectory
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "proteins"
ALA2 = FIXTURES / "alanine-dipeptide-explicit.pdb"  # 2,269 atoms with waters; the reader keeps the 10 heavy ones
TRP = FIXTURES / "1l2y.pdb"
JUMPS, DELTA_PS = 4, 10.0
PRECISION = {".xtc": 6e-3, ".dcd": 1e-4, ".pdb": 6e-4, ".h5": 1e-4}  # Å: XTC 0.001 nm, PDB 0.001 Å, float32
TOPOLOGY_BESIDE = (".xtc", ".dcd")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A freshly initialised tiny jump simulator (configs/jump/test.py) trained, so it says, at 300-400 K on
    jumps of 1, 10 and 100 ps."""
    from flax import nnx

    from genmol.config import load_config
    from genmol.models.store import build_model, save_model

    cfg = load_config(ROOT / "configs" / "jump" / "test.py")
    cfg.model.temperatures = (300.0, 400.0)
    cfg.model.jumps_ps = (1.0, 10.0, 100.0)
    path = tmp_path_factory.mktemp("tiny") / "model"
    save_model(cfg, nnx.to_pure_dict(nnx.state(build_model(cfg), nnx.Param)), path)
    return path


@pytest.fixture(scope="module", autouse=True)
def one_model_per_directory():
    """``genmol simulate`` loads each model directory once per module here. A freshly loaded model does not hit
    the jit cache of the last one (e3nn's ``FunctionalLinear``, a static part of every ``Linear``, compares by
    identity), so each run would compile the rollout anew (~5-15 s); the first run of a directory still loads it
    the real way."""
    cli = importlib.import_module("genmol.cli.simulate")
    real, loaded = cli.load_model_source, {}

    def load(source):
        key = (str(source.path), (source.path / "config.json").read_text())
        if key not in loaded:
            loaded[key] = real(source)
        return loaded[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli, "load_model_source", load)
        yield


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out
    return code, out.err


def simulate(capsys, model, structure, out, *extra, jumps=JUMPS, chunk=2):
    return run(capsys, "simulate", structure, "--jumps", jumps, "--chunk", chunk, "--dt", f"{DELTA_PS:g}ps",
               "--checkpoint", model, "--out", out, *extra)


def topology_of(out: Path) -> Path | None:
    """``<stem>_topology.pdb`` beside an XTC or DCD output (the stem without a walker's ``_wNNN``)."""
    return out.with_name(re.sub(r"_w\d+$", "", out.stem) + "_topology.pdb") if out.suffix in TOPOLOGY_BESIDE else None


def frames_of(out: Path) -> np.ndarray:
    return read_trajectory(out, topology_of(out))[1]


def one_sentence(err: str, *parts: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for p in parts:
        assert p in lines[0], (p, err)


# ---------------------------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("structure", [ALA2, TRP], ids=["ala2", "trpcage"])
def test_every_format_reads_back_with_the_input_topology(capsys, tmp_path, model_dir, structure):
    ref = read_structure(structure)
    mask = ref.atom_mask
    seen = {}
    for suffix in (".xtc", ".dcd", ".pdb", ".h5"):
        out = tmp_path / f"{suffix[1:]}{suffix}"
        code, err = simulate(capsys, model_dir, structure, out)
        assert code == 0, err
        assert f"wrote 1 × {JUMPS + 1} frames" in err and str(out) in err
        top = topology_of(out)
        protein, frames = read_trajectory(out, top) if suffix != ".pdb" else _pdb_models(out)
        # the input's residues, numbering, chain and atoms; the start is frame 0
        assert np.array_equal(protein.aatype, ref.aatype) and np.array_equal(protein.residue_index, ref.residue_index)
        assert np.array_equal(protein.chain_id, ref.chain_id) and np.array_equal(protein.atom_mask, mask)
        assert frames.shape == (JUMPS + 1, ref.num_residues, 14, 3) and np.isfinite(frames).all()
        np.testing.assert_allclose(frames[0][mask], ref.positions[mask], atol=PRECISION[suffix])
        assert np.abs(frames[1:] - frames[:1])[:, mask].max() > 0.05  # the frames move
        assert np.all(frames[:, ~mask] == 0)
        seen[suffix] = frames
        # mdtraj reads the same atoms and frames (HDF5 would need PyTables, which genmol does not require)
        if suffix != ".h5":
            t = mdtraj.load(str(out), top=str(top)) if top else mdtraj.load(str(out))
            assert t.n_frames == JUMPS + 1 and t.n_atoms == mask.sum() and t.n_residues == ref.num_residues
            np.testing.assert_allclose(t.xyz * 10, frames[:, mask], atol=PRECISION[suffix])
        if suffix == ".xtc":
            np.testing.assert_allclose(t.time, np.arange(JUMPS + 1) * DELTA_PS, atol=1e-3)  # ps
        if suffix == ".h5":
            with h5py.File(out) as h:
                np.testing.assert_allclose(h["time"][()], np.arange(JUMPS + 1) * DELTA_PS)
                assert h["time"].attrs["units"] in ("picoseconds", b"picoseconds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dcd.dcd", "dcd_topology.pdb", "h5.h5", "pdb.pdb",
                                                          "xtc.xtc", "xtc_topology.pdb"]
    for suffix, frames in seen.items():  # one seed, one trajectory, whatever the format
        np.testing.assert_allclose(frames, seen[".h5"], atol=PRECISION[suffix])


def _pdb_models(path: Path):
    """Every MODEL of a multi-model PDB as frames (with the residues of the first)."""
    import biotite.structure.io.pdb as pdb

    from genmol.data.proteins.assign import assign_slots

    stack = pdb.PDBFile.read(str(path)).get_structure(model=None)
    slots = assign_slots(stack[0], str(path))
    return slots.protein(stack.coord[0]), slots.positions(stack.coord)


def test_walkers_write_one_file_each_beside_out_and_one_topology(capsys, tmp_path, model_dir):
    out = tmp_path / "sim" / "traj.xtc"  # the folder is made
    code, err = simulate(capsys, model_dir, ALA2, out, "--walkers", 3)
    assert code == 0, err
    assert sorted(p.name for p in out.parent.iterdir()) == ["traj_topology.pdb", "traj_w000.xtc", "traj_w001.xtc",
                                                            "traj_w002.xtc"]
    assert "wrote 3 × 5 frames" in err and "traj_w000.xtc … traj_w002.xtc" in err
    walkers = [frames_of(out.with_name(f"traj_w00{i}.xtc")) for i in range(3)]
    for w in walkers:
        assert w.shape == (JUMPS + 1, 3, 14, 3)
        np.testing.assert_array_equal(w[0], walkers[0][0])  # one start
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert np.abs(walkers[i][1:] - walkers[j][1:]).max() > 0.05  # independent walkers


def test_the_seed_decides_the_frames_and_the_chunk_size_does_not(capsys, tmp_path, model_dir):
    runs = {"a": (5, 2), "b": (5, 2), "c": (6, 2), "d": (5, 3)}  # name: (seed, chunk); 4 jumps: chunks 3 + 1
    frames = {}
    for name, (seed, chunk) in runs.items():
        out = tmp_path / f"{name}.dcd"
        code, err = simulate(capsys, model_dir, ALA2, out, "--seed", seed, chunk=chunk)
        assert code == 0, err
        frames[name] = frames_of(out)
    np.testing.assert_array_equal(frames["a"], frames["b"])
    assert np.abs(frames["c"][1:] - frames["a"][1:]).max() > 0.05
    np.testing.assert_allclose(frames["d"], frames["a"], atol=1e-4)  # other chunks: another program, same frames


# ---------------------------------------------------------------------------------------------- stopped runs


@pytest.fixture(scope="module")
def compile_cache(tmp_path_factory):
    """A persistent XLA cache shared by the subprocesses (the second one need not compile again)."""
    return tmp_path_factory.mktemp("xla_cache")


@pytest.mark.parametrize("sig,suffix", [(signal.SIGINT, ".xtc"), (signal.SIGTERM, ".dcd")], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_run_leaves_whole_chunks_only(tmp_path, model_dir, compile_cache, sig, suffix):
    out = tmp_path / "out" / f"traj{suffix}"
    scratch = tmp_path / "scratch"  # the process's TMPDIR (the writer stages chunks there): must end up empty
    scratch.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(scratch), JAX_COMPILATION_CACHE_DIR=str(compile_cache),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    jumps = 4000  # ~1 ms of model per jump: minutes, never over before the signal
    args = ["simulate", str(ALA2), "--jumps", str(jumps), "--chunk", "2", "--checkpoint", str(model_dir), "--out",
            str(out)]
    # `python -m genmol.cli ARGS`, with Python's own SIGINT handler even when this pytest inherited an ignored SIGINT
    # (a background job; ignoring is inherited, and a preexec_fn would fork this multithreaded process)
    cmd = [sys.executable, "-c", "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
           f" sys.argv = ['genmol'] + {args!r}; runpy.run_module('genmol.cli', run_name='__main__')"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        # start + 3 chunks seen: the third chunk's frames are written only after the second chunk was committed (a
        # chunk seen on disk may still be rolled back if the signal lands before its append returns)
        while time.time() < deadline and proc.poll() is None and _frames_on_disk(out) < 7:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        # one error line (a library may still log a line of its own at exit, after it)
        assert "Traceback" not in err, err
        assert sum(line.startswith("error: interrupted after ") for line in err.splitlines()) == 1, err
    else:
        assert proc.returncode == -signal.SIGTERM, err
    frames = frames_of(out)
    assert len(frames) % 2 == 1 and 5 <= len(frames) < jumps + 1  # the start, then whole chunks of two jumps
    assert np.isfinite(frames).all()
    if sig == signal.SIGINT:
        assert f"the {len(frames)} frames of the complete chunks" in err, err
    names = sorted(p.name for p in out.parent.iterdir())
    assert names == [f"traj{suffix}", "traj_topology.pdb"], names  # no hidden temporary sibling
    assert list(scratch.iterdir()) == []
    t = mdtraj.load(str(out), top=str(topology_of(out)))
    assert t.n_frames == len(frames)


def _frames_on_disk(path: Path) -> int:
    """Complete frames of an XTC or DCD file being written (0 while it does not exist or cannot be read)."""
    if not path.exists():
        return 0
    try:
        return mdtraj.load(str(path), top=str(topology_of(path))).n_frames
    except Exception:
        return 0


# ---------------------------------------------------------------------------------------------- bad input


def _edited_trpcage(folder: Path, name: str, edit) -> Path:
    """1l2y.pdb with ``edit(line) -> line`` applied to each ATOM record."""
    lines = [edit(line) if line.startswith("ATOM") else line for line in TRP.read_text().splitlines(keepends=True)]
    path = folder / name
    path.write_text("".join(lines))
    return path


def _bad_inputs(folder: Path, model: Path) -> dict:
    xyz = _edited_trpcage(folder, "xyz.pdb", lambda s: s[:17] + "XYZ" + s[20:] if int(s[22:26]) == 5 else s)
    two = _edited_trpcage(folder, "two_chains.pdb", lambda s: s[:21] + "B" + s[22:] if int(s[22:26]) > 10 else s)
    a_file = folder / "a_file"
    a_file.write_text("not a folder\n")
    ophiuchus = ROOT / "genmol" / "pretrained" / "ophiuchus_proteins"
    return {  # name: (structure, extra flags, what the sentence says)
        "unknown residue": (xyz, [], ["xyz.pdb: residue 5 is not one the model knows"]),
        "two chains": (two, [], ["holds 2 chains (A, B)", "--chain"]),
        "atom count": (FIXTURES / "1l2y.xtc", ["--top", ALA2], ["1l2y.xtc holds 304 atoms", "topology has 2269"]),
        "top for a structure": (ALA2, ["--top", ALA2], ["--top is for trajectory inputs"]),
        "missing input": (folder / "nothing.pdb", [], ["nothing.pdb"]),
        "under a file": (ALA2, ["--out", a_file / "traj.xtc"], [f"{a_file} is not a folder"]),
        "suffix": (ALA2, ["--out", "OUT/traj.txt"], ["unsupported trajectory type '.txt'"]),
        "dt": (ALA2, ["--dt", "ten ps"], ["--dt 'ten ps' is not a time"]),
        "negative dt": (ALA2, ["--dt", "-1ps"], ["--dt '-1ps' is not a time"]),
        "no jumps": (ALA2, ["--jumps", 0], ["--jumps 0: at least one jump"]),
        "no walkers": (ALA2, ["--walkers", 0], ["--walkers 0"]),
        "no chunk": (ALA2, ["--chunk", 0], ["--chunk 0"]),
        "no steps": (ALA2, ["--steps", 0], ["--steps 0"]),
        "temperature": (ALA2, ["--temperature", 0], ["--temperature 0"]),
        "not a jump model": (ALA2, ["--checkpoint", ophiuchus], ["holds a 'ophiuchus' model, not a 'jump' model"]),
        "no model": (ALA2, ["--checkpoint", folder / "no_model"], ["is not a genmol model directory"]),
    }


BAD = ["unknown residue", "two chains", "atom count", "top for a structure", "missing input", "under a file",
       "suffix", "dt", "negative dt", "no jumps", "no walkers", "no chunk", "no steps", "temperature",
       "not a jump model", "no model"]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_sentence_exit_2_and_writes_nothing(capsys, tmp_path, model_dir, case):
    inputs = tmp_path / "in"
    inputs.mkdir()
    structure, extra, parts = _bad_inputs(inputs, model_dir)[case]
    before = sorted(tmp_path.rglob("*"))
    out = tmp_path / "new" / "traj.xtc"  # the folder would be made
    args = ["simulate", structure, "--jumps", JUMPS, "--checkpoint", model_dir, "--out", out]
    code, err = run(capsys, *[str(a).replace("OUT", str(tmp_path / "new")) for a in args + extra])
    assert code == 2, err
    one_sentence(err, *parts)
    assert sorted(tmp_path.rglob("*")) == before  # no output, no topology, no folder


def test_an_existing_output_needs_force(capsys, tmp_path, model_dir):
    out = tmp_path / "traj.xtc"
    out.write_bytes(b"keep me")
    code, err = simulate(capsys, model_dir, ALA2, out)
    assert code == 2, err
    one_sentence(err, f"{out} already exists", "--force")
    assert out.read_bytes() == b"keep me" and [p.name for p in tmp_path.iterdir()] == ["traj.xtc"]
    # one walker's file or the shared topology in the way is refused as well
    (tmp_path / "w_w001.xtc").write_bytes(b"")
    code, err = simulate(capsys, model_dir, ALA2, tmp_path / "w.xtc", "--walkers", 2)
    assert code == 2 and "w_w001.xtc already exists" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["traj.xtc", "w_w001.xtc"]
    code, err = simulate(capsys, model_dir, ALA2, out, "--force")
    assert code == 0, err
    assert len(frames_of(out)) == JUMPS + 1


# ---------------------------------------------------------------------------------------------- conditions


def test_untrained_conditions_warn_with_the_trained_range(capsys, tmp_path, model_dir):
    out = tmp_path / "hot.xtc"
    code, err = run(capsys, "simulate", ALA2, "--jumps", JUMPS, "--chunk", 2, "--checkpoint", model_dir, "--out", out,
                    "--temperature", 500, "--dt", "5ps")
    assert code == 0, err
    assert "warning: temperature 500 K is outside the trained range 300-400 K" in err
    assert "warning: jump 5 ps is not one of the trained jumps (1, 10, 100 ps)" in err
    assert len(frames_of(out)) == JUMPS + 1
    code, err = simulate(capsys, model_dir, ALA2, tmp_path / "ok.xtc", "--temperature", 400)
    assert code == 0 and "warning" not in err, err


def test_a_model_that_refuses_untrained_conditions_refuses(capsys, tmp_path, model_dir):
    strict = tmp_path / "strict"
    shutil.copytree(model_dir, strict)
    config = json.loads((strict / "config.json").read_text())
    config["model"]["refuse_untrained"] = True
    (strict / "config.json").write_text(json.dumps(config))
    out = tmp_path / "out" / "traj.xtc"
    code, err = simulate(capsys, strict, ALA2, out, "--temperature", 250)
    assert code == 2, err
    one_sentence(err, "temperature 250 K is outside the trained range 300-400 K", "model.refuse_untrained")
    assert not (tmp_path / "out").exists()
