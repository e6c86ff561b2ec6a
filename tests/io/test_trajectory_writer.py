"""Chunked trajectory output (genmol.io.trajectory_writer): round trips per format against read_trajectory,
read_structure and mdtraj, times in ps, walker files, rollback of a chunk interrupted by an exception or a signal,
a SIGTERM-killed writer process, nothing left behind before the first chunk, and one GenmolError for bad outputs."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT

from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError, Interrupted
from genmol.io.structures import read_structure, read_trajectory
from genmol.io.trajectory_writer import TrajectoryWriter, check_output, topology_path, walker_paths

FIX = ROOT / "tests" / "fixtures" / "proteins"
SUFFIXES = (".xtc", ".dcd", ".pdb", ".h5")
# max |written - read| in Å: XTC rounds to 0.001 nm, PDB to 0.001 Å, DCD and HDF5 are float32
TOLERANCE = {".xtc": 0.0051, ".dcd": 1e-4, ".pdb": 0.00051, ".h5": 1e-4}


@pytest.fixture(scope="module")
def trp_cage() -> Protein:
    return read_structure(FIX / "1l2y.pdb")


@pytest.fixture(scope="module")
def dipeptide() -> Protein:
    return read_structure(FIX / "alanine-dipeptide-explicit.pdb")


def frames(protein: Protein, n: int, seed: int = 0, walkers: int | None = None) -> np.ndarray:
    """``[n, R, 14, 3]`` (or ``[walkers, n, ...]``) positions: the protein jiggled by 0.5 Å, 0 in empty slots."""
    shape = (n, *protein.positions.shape) if walkers is None else (walkers, n, *protein.positions.shape)
    noise = np.random.default_rng(seed).normal(scale=0.5, size=shape)
    return np.where(protein.atom_mask[..., None], protein.positions + noise, 0).astype(np.float32)


def read_back(path: Path, top: Path | None) -> tuple[Protein, np.ndarray]:
    """``(topology, positions [F, R, 14, 3])`` read with genmol's readers (read_structure per model for PDB)."""
    if path.suffix == ".pdb":
        first = read_structure(path)
        import biotite.structure.io.pdb as pdb

        count = pdb.PDBFile.read(str(path)).get_model_count()
        return first, np.stack([read_structure(path, model=k).positions for k in range(1, count + 1)])
    return read_trajectory(path, top)


def mdtraj_load(path: Path, top: Path | None):
    import mdtraj

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mdtraj.load(str(path), top=None if top is None else str(top))


def assert_same_topology(a: Protein, b: Protein) -> None:
    for field in ("aatype", "atom_mask", "residue_index", "chain_id", "insertion_code"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def no_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp")


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("which", ["trp_cage", "dipeptide"])
def test_round_trip_in_chunks(tmp_path, suffix, which, request):
    protein = request.getfixturevalue(which)
    xyz = frames(protein, 6)
    times = np.array([0.0, 2.5, 5.0, 7.5, 10.0, 12.5])
    out = tmp_path / "run" / f"traj{suffix}"
    with TrajectoryWriter(out, protein) as writer:
        for a, b in ((0, 1), (1, 4), (4, 6)):
            writer.append(xyz[a:b], times[a:b])
        assert writer.frames_written == 6
    top = topology_path(out)
    assert (top is not None) == (suffix in (".xtc", ".dcd"))
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name] + ([top.name] if top else []))

    topology, positions = read_back(out, top)
    assert_same_topology(topology, protein)
    assert positions.shape == xyz.shape
    assert np.abs(positions - xyz).max() <= TOLERANCE[suffix]

    if suffix == ".h5":
        import h5py

        with h5py.File(out) as h:
            np.testing.assert_allclose(h["time"][:], times)
            assert h["time"].attrs["units"] == "picoseconds" and h["coordinates"].attrs["units"] == "nanometers"
            assert "cell_lengths" not in h
        pytest.importorskip("tables")  # mdtraj reads HDF5 with PyTables
    traj = mdtraj_load(out, top)
    assert traj.n_frames == 6 and traj.n_atoms == protein.atom_mask.sum()
    assert traj.unitcell_vectors is None
    assert np.abs(traj.xyz * 10 - xyz[:, protein.atom_mask]).max() <= TOLERANCE[suffix]
    if suffix in (".xtc", ".h5"):
        np.testing.assert_allclose(traj.time, times)  # ps


def test_walkers_naming():
    out = Path("runs/traj.xtc")
    assert walker_paths(out, 1) == [out]
    assert [p.name for p in walker_paths(out, 3)] == ["traj_w000.xtc", "traj_w001.xtc", "traj_w002.xtc"]
    assert walker_paths(out, 1001)[-1].name == "traj_w1000.xtc"
    assert all(p.parent == out.parent for p in walker_paths(out, 3))
    assert topology_path(out) == topology_path(out.with_name("traj_w002.xtc")) == Path("runs/traj_topology.pdb")
    assert topology_path(Path("traj.dcd")) == Path("traj_topology.pdb")
    assert topology_path(Path("traj.pdb")) is None and topology_path(Path("traj.h5")) is None


@pytest.mark.parametrize("suffix", [".xtc", ".h5"])
def test_walkers_write_one_file_each_and_share_the_topology(tmp_path, trp_cage, suffix):
    xyz = frames(trp_cage, 3, walkers=3)
    out = tmp_path / f"traj{suffix}"
    with TrajectoryWriter(out, trp_cage, walkers=3) as writer:
        writer.append(xyz[:, :2], [1.0, 2.0])
        writer.append(xyz[:, 2:], [3.0])
        with pytest.raises(ValueError, match="shape"):
            writer.append(xyz[0], [4.0, 5.0, 6.0])  # one walker's frames for three walkers
    expected = [f"traj_w00{i}{suffix}" for i in range(3)] + (["traj_topology.pdb"] if suffix == ".xtc" else [])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(expected)
    for w, path in enumerate(writer.paths):
        topology, positions = read_trajectory(path, topology_path(out))
        assert_same_topology(topology, trp_cage)
        assert np.abs(positions - xyz[w]).max() <= TOLERANCE[suffix]


def test_nothing_is_left_when_nothing_was_written(tmp_path, trp_cage):
    out = tmp_path / "new" / "deeper" / "traj.xtc"
    with TrajectoryWriter(out, trp_cage) as writer:
        pass
    bad = frames(trp_cage, 2)
    bad[1, 3, 0, 0] = np.nan
    with TrajectoryWriter(out, trp_cage) as writer:
        with pytest.raises(GenmolError, match="frame 1 has a non-finite coordinate"):
            writer.append(bad, [0.0, 1.0])
    assert writer.frames_written == 0
    assert list(tmp_path.iterdir()) == []


class Failure(RuntimeError):
    pass


def fail_at_fsync(monkeypatch, call: int, action=None):
    """Makes the ``call``-th os.fsync from now (1-based) fail (or run ``action`` and go on): a chunk interrupted
    after its bytes were written but before they were synced."""
    real, count = os.fsync, [0]

    def fsync(fd):
        count[0] += 1
        if count[0] == call:
            if action is None:
                raise Failure("disk on fire")
            action()
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return count


def snapshot(paths: list[Path]) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths}


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_an_exception_mid_chunk_rolls_back_to_the_complete_chunks(tmp_path, monkeypatch, trp_cage, suffix):
    xyz = frames(trp_cage, 7, walkers=2)
    out = tmp_path / f"traj{suffix}"
    writer = TrajectoryWriter(out, trp_cage, walkers=2)
    writer.append(xyz[:, :2], [0.0, 1.0])
    writer.append(xyz[:, 2:4], [2.0, 3.0])
    before = snapshot(writer.paths)
    fail_at_fsync(monkeypatch, call=2)  # the second walker's file: the first one already holds the chunk
    with pytest.raises(Failure):
        writer.append(xyz[:, 4:7], [4.0, 5.0, 6.0])
    monkeypatch.undo()
    assert writer.frames_written == 4
    if suffix != ".h5":  # HDF5 shrinks its datasets back but keeps the freed space in the file
        assert snapshot(writer.paths) == before
    for w, path in enumerate(writer.paths):
        _, positions = read_back(path, topology_path(out))
        assert np.abs(positions - xyz[w, :4]).max() <= TOLERANCE[suffix]
    writer.append(xyz[:, 4:7], [4.0, 5.0, 6.0])  # the writer goes on after a failed chunk
    for w, path in enumerate(writer.paths):
        _, positions = read_back(path, topology_path(out))
        assert np.abs(positions - xyz[w]).max() <= TOLERANCE[suffix]
    assert no_leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", [".xtc", ".h5"])
def test_a_failed_first_chunk_leaves_nothing(tmp_path, monkeypatch, trp_cage, suffix):
    out = tmp_path / "made" / f"traj{suffix}"
    writer = TrajectoryWriter(out, trp_cage, walkers=2)
    real, renames = os.replace, []

    def replace(src, dst):  # the last rename (walker 1) fails: the topology (xtc) and walker 0 are in place
        renames.append(dst)
        if len(renames) == (3 if suffix == ".xtc" else 2):
            raise Failure("disk on fire")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(Failure):
        writer.append(frames(trp_cage, 2, walkers=2), [0.0, 1.0])
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler for the test (a run started in the background inherits SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("suffix", [".dcd", ".pdb"])
@pytest.mark.usefixtures("python_sigint")
def test_sigint_mid_chunk_rolls_back_then_interrupts(tmp_path, monkeypatch, trp_cage, suffix):
    xyz = frames(trp_cage, 4)
    writer = TrajectoryWriter(tmp_path / f"traj{suffix}", trp_cage)
    writer.append(xyz[:2], [0.0, 1.0])
    before = snapshot(writer.paths)
    count = fail_at_fsync(monkeypatch, call=1, action=lambda: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        writer.append(xyz[2:], [2.0, 3.0])
    assert count[0] >= 2  # the rollback synced too
    monkeypatch.undo()
    assert snapshot(writer.paths) == before and writer.frames_written == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_with_a_handler_that_returns_gives_interrupted(tmp_path, monkeypatch, trp_cage):
    seen = []
    old = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        writer = TrajectoryWriter(tmp_path / "traj.xtc", trp_cage)
        writer.append(frames(trp_cage, 1), [0.0])
        fail_at_fsync(monkeypatch, call=1, action=lambda: os.kill(os.getpid(), signal.SIGTERM))
        with pytest.raises(Interrupted, match=r"interrupted \(SIGTERM\); the files keep the 1 frames"):
            writer.append(frames(trp_cage, 2), [1.0, 2.0])
        assert seen == [signal.SIGTERM]  # the caller's handler ran once, after the rollback
    finally:
        signal.signal(signal.SIGTERM, old)
    monkeypatch.undo()
    assert read_trajectory(writer.paths[0], writer.topology_path)[1].shape[0] == 1


KILLED_WRITER = """
import sys
import numpy as np
from genmol.io.structures import read_structure
from genmol.io.trajectory_writer import TrajectoryWriter

protein = read_structure(sys.argv[1])
out, chunk = sys.argv[2], int(sys.argv[3])
writers = [TrajectoryWriter(f"{out}/{s[1:]}{s}", protein) for s in (".xtc", ".dcd", ".pdb", ".h5")]
mask = protein.atom_mask[..., None]
k = 0
while True:
    xyz = np.where(mask, protein.positions + 0.01 * np.arange(k, k + chunk)[:, None, None, None], 0)
    for w in writers:
        w.append(xyz.astype(np.float32), np.arange(k, k + chunk, dtype=float))
    k += chunk
    if k == chunk:
        print("ready", flush=True)
"""


def test_a_writer_killed_by_sigterm_keeps_whole_chunks(tmp_path, trp_cage):
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(KILLED_WRITER))
    out, chunk = tmp_path / "out", 7
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen([sys.executable, str(script), str(FIX / "1l2y.pdb"), str(out), str(chunk)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
    lengths = {}
    for suffix in SUFFIXES:
        path = out / f"{suffix[1:]}{suffix}"
        _, positions = read_back(path, topology_path(path))
        n = positions.shape[0]
        assert n >= chunk and n % chunk == 0, (suffix, n)
        expected = np.where(trp_cage.atom_mask[..., None],
                            trp_cage.positions + 0.01 * np.arange(n)[:, None, None, None], 0)
        assert np.abs(positions - expected).max() <= TOLERANCE[suffix]
        lengths[suffix] = n
    assert max(lengths.values()) - min(lengths.values()) <= chunk  # the formats are written in turn
    assert no_leftovers(out) == []


def test_bad_outputs_are_one_sentence_naming_the_path(tmp_path, trp_cage):
    with pytest.raises(GenmolError, match=r"traj\.gro: unsupported trajectory type '\.gro'; use one of \.xtc"):
        check_output(tmp_path / "traj.gro")
    with pytest.raises(GenmolError, match=r"traj: unsupported trajectory type '\(none\)'"):
        check_output(tmp_path / "traj")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(GenmolError, match=rf"cannot write {blocker}/sub/traj\.xtc: {blocker} is not a folder"):
        TrajectoryWriter(blocker / "sub" / "traj.xtc", trp_cage)
    folder = tmp_path / "dir.xtc"
    folder.mkdir()
    with pytest.raises(GenmolError, match=r"dir\.xtc is a folder; give a trajectory file name"):
        check_output(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.xtc", "file.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder(tmp_path, trp_cage):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(GenmolError, match=rf"cannot write {tmp_path}/a/traj\.dcd: the folder {tmp_path} is "
                                              "not writable"):
            check_output(tmp_path / "a" / "traj.dcd")
    finally:
        tmp_path.chmod(0o700)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_unwritable_filesystem_is_found_by_the_probe():
    with pytest.raises(GenmolError, match=r"cannot write /proc/genmol-test/traj\.xtc: the folder /proc is not"):
        check_output("/proc/genmol-test/traj.xtc")


def test_existing_files_are_kept_unless_overwrite(tmp_path, trp_cage):
    out = tmp_path / "traj.xtc"
    out.write_bytes(b"old")
    with pytest.raises(GenmolError, match=r"traj\.xtc already exists; choose another output or overwrite it"):
        TrajectoryWriter(out, trp_cage)
    (tmp_path / "traj_topology.pdb").write_bytes(b"old")
    out.unlink()
    with pytest.raises(GenmolError, match=r"traj_topology\.pdb already exists"):
        check_output(tmp_path / "traj.xtc", walkers=2)
    out.write_bytes(b"old")
    writer = TrajectoryWriter(out, trp_cage, overwrite=True)
    assert out.read_bytes() == b"old"  # replaced by the first chunk, not before
    writer.append(frames(trp_cage, 1), [0.0])
    assert read_trajectory(out, writer.topology_path)[1].shape[0] == 1


def test_a_topology_pdb_cannot_hold_is_refused_up_front(tmp_path, trp_cage):
    import dataclasses

    long_chain = dataclasses.replace(trp_cage, chain_id=np.full(trp_cage.num_residues, "AB"))
    for name in ("traj.pdb", "traj.dcd"):
        with pytest.raises(GenmolError, match=rf"{name[:-4]}(_topology)?\.pdb: chain id 'AB' does not fit"):
            check_output(tmp_path / name, topology=long_chain)
    check_output(tmp_path / "traj.h5", topology=long_chain)
    assert list(tmp_path.iterdir()) == []


def test_a_file_changed_behind_the_writer_is_not_appended_to(tmp_path, trp_cage):
    writer = TrajectoryWriter(tmp_path / "traj.dcd", trp_cage)
    writer.append(frames(trp_cage, 1), [0.0])
    with open(writer.paths[0], "ab") as f:
        f.write(b"junk")
    with pytest.raises(GenmolError, match="changed on disk since the last chunk"):
        writer.append(frames(trp_cage, 1), [1.0])


@pytest.mark.parametrize("name", ["traj.xtc", "traj.dcd", "traj.h5"])
def test_insertion_codes_survive_a_trajectory(tmp_path, name):
    protein = read_structure(FIX / "set" / "1jmo_L.pdb")
    assert any(protein.insertion_code)
    writer = TrajectoryWriter(tmp_path / name, protein)
    writer.append(protein.positions[None], [0.0])
    topology, _ = read_trajectory(writer.paths[0], writer.topology_path)
    assert_same_topology(topology, protein)

