"""genmol evaluate dynamics and genmol data md, in process (genmol.cli.main): the embedded MD exported as XTC + PDB
and read back by mdtraj, walkers evaluated end to end against the embedded reference and against a file, and bad
input as one sentence with exit status 2."""

import contextlib
import io
import json
import warnings

import numpy as np
import pytest

from genmol.cli import main
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "proteins"


def top_pdb(work):
    """The topology PDB `genmol data md` writes beside its XTC."""
    return work / "md" / "ala2_300K_tail_topology.pdb"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out
    return code, out.out, out.err


def one_sentence(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``genmol data md --split tail`` (the 300 K held-out tail) and two walker files cut from it with mdtraj."""
    import mdtraj

    work = tmp_path_factory.mktemp("md")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["data", "md", "--out", str(work / "md"), "--split", "tail"])
    assert code == 0, out.getvalue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traj = mdtraj.load(str(work / "md" / "ala2_300K_tail.xtc"), top=str(top_pdb(work)))
        traj[:1500].save_xtc(str(work / "traj_w000.xtc"))
        traj[1500:3000].save_xtc(str(work / "traj_w001.xtc"))
        traj[3000:5000].save_xtc(str(work / "ref.xtc"))
        traj[:300].save_dcd(str(work / "traj.dcd"))
    return work, out.getvalue(), traj


def test_data_md_writes_a_readable_xtc_and_topology(exported, capsys):
    work, printed, traj = exported
    assert "14,976 frames" in printed and "ala2_300K_tail_topology.pdb" in printed
    assert traj.n_frames == 14_976 and traj.n_atoms == 10 and traj.n_residues == 3
    np.testing.assert_allclose(traj.time[:3], [59_904.0, 59_905.0, 59_906.0])  # ps from the start of the run
    from genmol.eval.dynamics import embedded_reference

    ref = embedded_reference("ala2:300")
    np.testing.assert_allclose(traj.xyz[:5] * 10, ref.positions[:5][:, ref.topology.atom_mask], atol=6e-3)
    code, _, err = run(capsys, "data", "md", "--out", work / "md")
    assert code == 2 and "already exists" in one_sentence(err)
    code, _, err = run(capsys, "data", "md", "--out", work / "hot", "--temperature", "400", "--split", "tail")
    assert code == 2 and "no tail frames" in one_sentence(err) and not (work / "hot").exists()
    code, _, err = run(capsys, "data", "md", "--out", work / "cold", "--temperature", "350")
    assert code == 2 and "300 and 400 K" in one_sentence(err)
    code, _, err = run(capsys, "data", "md", "--out", work / "x", "--system", "chignolin")
    assert code == 2 and "unknown embedded MD 'chignolin'" in one_sentence(err) and not (work / "x").exists()


def test_data_md_writes_the_trpcage_tail_whose_first_frame_simulate_reads(tmp_path, capsys):
    code, out, err = run(capsys, "data", "md", "--out", tmp_path / "trp", "--system", "trpcage", "--split", "tail")
    assert code == 0, err
    assert "trpcage (1l2y), 20 residues, 153 heavy atoms" in out and "at 320 K" in out
    from genmol.eval.dynamics import embedded_reference
    from genmol.io.structures import read_structure

    ref = embedded_reference("trpcage:320")
    first = read_structure(tmp_path / "trp" / "trpcage_320K_tail_topology.pdb")
    assert first.num_residues == 20 and np.array_equal(first.atom_mask, ref.topology.atom_mask)
    np.testing.assert_allclose(first.positions[first.atom_mask], ref.positions[0][ref.topology.atom_mask], atol=6e-3)
    assert sorted(p.name for p in (tmp_path / "trp").iterdir()) == ["trpcage_320K_tail.xtc",
                                                                     "trpcage_320K_tail_topology.pdb"]


def test_walkers_against_the_embedded_reference(exported, capsys):
    work, _, _ = exported
    code, out, err = run(capsys, "evaluate", "dynamics", work / "traj_w000.xtc", work / "traj_w001.xtc", "--top",
                         top_pdb(work), "--reference", "ala2:300", "--lag", "10", "--json",
                         work / "m.json", "--plots", work / "plots")
    assert code == 0, err
    assert "2 trajectories of ACE ALA NME" in out and "1 ps (time stamps)" in out and "noise floor" in out
    assert "held-out tail" in out and "αR↔β transitions at 10 ps" in out and "bond lengths" in out
    m = json.loads((work / "m.json").read_text())
    assert [t["interval_from"] for t in m["inputs"]["trajectories"]] == ["time stamps"] * 2
    assert m["inputs"]["reference"]["frames"] == 14_976
    assert [p["frames"] for p in m["basins"]["model"]["per_trajectory"]] == [1500, 1500]
    rows = {r["key"]: r for r in m["table"]}
    assert rows["phi_psi_jsd"]["noise_floor"] == pytest.approx(0.0141, abs=1e-4)  # halves of the 300 K tail
    assert rows["tic_fraction_outside"]["model"] is not None
    assert m["structure"]["bond_range_check"]["within"]
    assert (work / "plots" / "phi_psi_free_energy.png").is_file() and (work / "plots" / "time_series.png").is_file()


def test_reference_file_and_frame_interval(exported, capsys):
    work, _, _ = exported
    top = top_pdb(work)
    code, out, err = run(capsys, "evaluate", "dynamics", work / "traj.dcd", "--top", top, "--frame-interval", "1",
                         "--reference", work / "ref.xtc", "--json", work / "d.json")
    assert code == 0, err
    m = json.loads((work / "d.json").read_text())
    assert m["inputs"]["trajectories"][0]["interval_from"] == "given" and m["system"]["lag_ps"] == 1.0
    assert m["inputs"]["reference"]["interval_from"] == "time stamps"


def test_bad_input_is_one_sentence_and_exit_2(exported, capsys):
    work, _, _ = exported
    top = top_pdb(work)
    walker = work / "traj_w000.xtc"
    cases = [
        ((walker,), "needs its topology; pass --top"),
        ((walker, "--top", FIXTURES / "1l2y.pdb"), "holds 10 atoms per frame but its topology has 304"),
        ((walker, "--top", top, "--reference", "ala2:350", "--json", work / "never.json"),
         "unknown reference 'ala2:350'"),
        ((work / "traj.dcd", "--top", top), "pass the time between frames with --frame-interval"),
        ((walker, "--top", top, "--frame-interval", "10"), "time stamps say 1 ps between frames"),
        ((walker, "--top", top, "--reference", FIXTURES / "1l2y.xtc", "--reference-top", FIXTURES / "1l2y.pdb"),
         "the reference has other residues"),
        ((work / "missing.xtc", "--top", top), "does not exist"),
        ((walker, "--top", top, "--lag", "2.5"), "not a whole number of frames"),
    ]
    for args, message in cases:
        code, out, err = run(capsys, "evaluate", "dynamics", *args)
        assert code == 2 and message in one_sentence(err), (args, err)
    assert not (work / "never.json").exists()


@pytest.mark.parametrize("flag, value", [(f, v) for f in ("--frame-interval", "--reference-interval", "--lag")
                                         for v in ("0", "-1", "nan", "inf")]
                         + [("--bond-tolerance", v) for v in ("-0.1", "nan", "inf")])
def test_numeric_flags_at_their_boundaries(exported, capsys, flag, value):
    work, _, _ = exported
    code, _, err = run(capsys, "evaluate", "dynamics", work / "traj_w000.xtc", "--top", top_pdb(work),
                       flag, value)
    assert code == 2 and flag in one_sentence(err)


def test_multi_model_pdb_and_mdtraj_hdf5(tmp_path, capsys):
    code, out, err = run(capsys, "evaluate", "dynamics", FIXTURES / "1l2y.pdb", "--json", tmp_path / "p.json")
    assert code == 2 and "--frame-interval" in one_sentence(err)  # PDB models carry no time
    code, out, err = run(capsys, "evaluate", "dynamics", FIXTURES / "1l2y.pdb", "--frame-interval", "5", "--json",
                         tmp_path / "p.json")
    assert code == 0, err
    m = json.loads((tmp_path / "p.json").read_text())
    assert m["inputs"]["trajectories"][0]["frames"] == 3 and m["system"]["lag_ps"] == 5.0
    assert "20 residues (ASN LEU TYR ILE ... PRO SER)" in out
    assert m["structure"]["rmsd_to"] == "the first frame of " + str(FIXTURES / "1l2y.pdb")
    code, out, err = run(capsys, "evaluate", "dynamics", FIXTURES / "traj.h5", "--json", tmp_path / "h.json")
    assert code == 0, err  # the HDF5 file embeds its topology and its times (0.002 ps apart)
    m = json.loads((tmp_path / "h.json").read_text())
    assert m["inputs"]["trajectories"][0]["interval_from"] == "time stamps" and m["system"]["lag_ps"] == 0.002


def test_the_embedded_trpcage_references(tmp_path, capsys):
    """``--reference trpcage:320`` (the held-out 320 K tail) and ``trpcage:400`` (training data, said so), with the
    last 140 ps of the 400 K run as the trajectory evaluated."""
    import dataclasses

    from genmol.eval.dynamics import embedded_reference
    from genmol.io.trajectory_writer import TrajectoryWriter

    hot = embedded_reference("trpcage:400K")
    assert hot.name == "trpcage:400" and hot.num_frames == 140 and "training data" in hot.note
    cold = embedded_reference("trpcage:320")
    assert cold.num_frames == 140 and cold.interval_ps == 1.0 and "never trained on" in cold.note
    assert cold.topology.num_residues == 20 and np.array_equal(cold.topology.aatype, hot.topology.aatype)
    top = dataclasses.replace(hot.topology, positions=hot.positions[0], source="")
    with TrajectoryWriter(tmp_path / "t.xtc", top) as writer:  # and t_topology.pdb beside it
        writer.append(hot.positions, 560.0 + np.arange(hot.num_frames))
    code, out, err = run(capsys, "evaluate", "dynamics", tmp_path / "t.xtc", "--top", tmp_path / "t_topology.pdb",
                         "--reference", "trpcage:320", "--lag", "10", "--json", tmp_path / "m.json")
    assert code == 0, err
    assert "20 residues (ASN LEU TYR ILE ... PRO SER)" in out and "reference trpcage:320: 140 frames" in out
    assert "held-out tail of the 320 K run (frames 560–699), never trained on" in out
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["inputs"]["reference"]["frames"] == 140 and m["system"]["lag_ps"] == 10.0
    code, out, err = run(capsys, "evaluate", "dynamics", tmp_path / "t.xtc", "--top", tmp_path / "t_topology.pdb",
                         "--reference", "trpcage:350")
    assert code == 2 and "trpcage:320, trpcage:400" in one_sentence(err)
