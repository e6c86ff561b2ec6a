"""mdCATH-layout MD data (genmol.data.mdcath): both key styles, frame validation, frame intervals, training pairs
(Δ, replica boundaries, validity, held-out tail, crop), the domain split, NME C/CH3, one GenmolError sentence for
missing groups and damaged files, the embedded alanine-dipeptide and Trp-cage files, scripts/prepare_md.py. Fixtures
are synthesised in tmp_path from tests/fixtures/proteins (tests/data/mdcath_fixtures.py); nothing here reads the
shared data."""

import importlib.util
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genmol.data.mdcath import (
    ALA2_HELD_OUT, ALL_ZERO, MAX_ABS_COORD, NON_FINITE, OUT_OF_RANGE, TRPCAGE_HELD_OUT, VALID, HeldOutTail, MdcathFile,
    MdcathSet, TrajectoryKey, align_target, embedded_ala2, embedded_md, embedded_trpcage, frame_status,
    parse_temperature, split_domains,
)
from genmol.data.proteins import residues as rc
from genmol.errors import GenmolError
from genmol.io.structures import read_trajectory
from tests.data.mdcath_fixtures import (
    CORRUPTED, FIX, INVALID_COUNTS, MDCATH_TEMPERATURES, alanine_dipeptide, build_standard, offset, trpcage,
    write_domain,
)
from tests.helpers import ROOT, random_orthogonal

NS = 1000.0  # ps per mdCATH frame
ACE, ALA, NME = rc.ACE, rc.RESIDUE_INDEX["ALA"], rc.NME


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("mdcath")
    paths = build_standard(d)
    return d, paths


@pytest.fixture(scope="module")
def trpcage_reference():
    """1L2Y's frames in the slot layout as the trajectory reader gives them (the reference for the mapping)."""
    _, positions = read_trajectory(FIX / "1l2y.xtc", FIX / "1l2y.pdb")
    return positions


def one_sentence(e: GenmolError, *parts: str) -> None:
    text = str(e)
    assert "\n" not in text and "Traceback" not in text
    for p in parts:
        assert p in text, (p, text)


# ---------------------------------------------------------------------------------------------- reading


def test_parse_temperature_both_styles():
    assert parse_temperature("320") == 320.0 and parse_temperature("sims320K") == 320.0
    assert parse_temperature("sims413K") == 413.0 and parse_temperature("coords") is None


@pytest.mark.parametrize("domain,group", [("1l2yA00", "/1l2yA00/320/0"), ("1l2yB00", "/1l2yB00/sims320K/0")])
def test_every_key_style_reads_the_same_trajectories(files, trpcage_reference, domain, group):
    _, paths = files
    f = MdcathFile(paths[domain], frame_interval_ps=NS)
    assert f.domains() == [domain]
    keys = f.trajectories(domain)
    assert keys == [TrajectoryKey(domain, float(t), r) for t in MDCATH_TEMPERATURES for r in (0, 1)]
    key = keys[0]
    assert f.group(key) == group and f.num_frames(key) == 38 and f.num_frames(keys[1]) == 30
    top = f.topology(domain)
    assert top.num_residues == 20 and top.dropped.hydrogens > 0
    assert top.source.endswith(f":/{domain}")
    mask = top.atom_mask
    frames = f.frames(key)
    assert frames.shape == (38, 20, 14, 3) and frames.dtype == np.float32
    # the slot mapping is the one of the trajectory reader; the fixture shifted the frames by offset()
    np.testing.assert_allclose(np.where(mask[..., None], frames - offset(320, 0), 0), trpcage_reference,
                               atol=1e-4)
    np.testing.assert_array_equal(f.frames(key, 3, 20, 4), frames[3:20:4])  # lazy strided slice
    np.testing.assert_allclose(top.positions, frames[0], atol=0)


def test_nme_methyl_c_and_ch3_both_map(files):
    _, paths = files
    f = MdcathFile(paths["ala2"])
    assert f.domains() == ["ala2", "ala2ch3"]
    for domain in f.domains():
        top = f.topology(domain)
        assert top.aatype.tolist() == [ACE, ALA, NME]
        assert top.atom_mask[2].tolist() == [True, True] + [False] * 12  # NME N and the methyl in slot 1
        assert top.atom_mask[0, 1:4].all() and top.atom_mask[1, :5].all()
        assert top.dropped.hydrogens == 12 and top.dropped.extra_atoms == 0
    a, frames = alanine_dipeptide(120, 1, "CH3")
    methyl = np.flatnonzero((a.res_name == "NME") & (a.atom_name == "CH3"))[0]
    key = f.trajectories("ala2ch3")[0]
    np.testing.assert_allclose(f.frames(key, 0, 1)[0, 2, 1], frames[0, methyl] + offset(300, 0), atol=1e-5)


def test_forces_in_slot_layout_and_missing_forces(files):
    _, paths = files
    f = MdcathFile(paths["1l2yA00"], frame_interval_ps=NS)
    key = f.trajectories()[0]
    assert f.forces(key, 0, 4).shape == (4, 20, 14, 3)
    g = MdcathFile(paths["1l2yB00"], frame_interval_ps=NS)
    with pytest.raises(GenmolError) as e:
        g.forces(g.trajectories()[0])
    one_sentence(e.value, str(paths["1l2yB00"]), "/1l2yB00/sims320K/0", "'forces'")


# ---------------------------------------------------------------------------------------------- validation


def test_frame_status_reasons():
    x = np.ones((5, 4, 3), np.float32)
    x[1, 0, 0] = np.nan
    x[2, 1, 2] = 2.1e7
    x[3] = 0
    x[4, 2, 1] = -np.inf
    assert frame_status(x).tolist() == [VALID, NON_FINITE, OUT_OF_RANGE, ALL_ZERO, NON_FINITE]
    x[0, 0, 0] = MAX_ABS_COORD  # the bound itself is allowed
    assert frame_status(x[:1]).tolist() == [VALID]


def test_invalid_frames_are_counted_in_the_summary(files):
    _, paths = files
    s = MdcathSet([paths["1l2yA00"], paths["1l2yB00"], paths["ala2"]], frame_interval_ps=NS)
    summary = s.summary()
    counts = {(t.key.domain, int(t.key.temperature_K), t.key.replica): t for t in summary.trajectories}
    assert len(counts) == 24 and summary.num_invalid == 4 == len(CORRUPTED)
    for key, t in counts.items():
        expected = INVALID_COUNTS.get(key, {})
        assert {r: n for r, n in t.invalid.items() if n} == expected, key
    assert counts[("1l2yA00", 320, 1)].invalid_frames == (28, 29)
    text = str(summary)
    assert "4 invalid frames (1 non-finite, 2 beyond 10000 Å, 1 all-zero)" in text
    assert "1l2yA00 320 K replica 1" in text and "/1l2yA00/320/1): 2 of 30 frames invalid" in text
    assert "1l2yB00 450 K replica 0" in text and "at frame 37" in text
    assert "1 ps (timestep_ps attribute) for 4 trajectories; 1000 ps (given) for 20 trajectories" in text


def test_frames_refuse_invalid_frames_unless_asked(files):
    _, paths = files
    f = MdcathFile(paths["1l2yA00"], frame_interval_ps=NS)
    key = TrajectoryKey("1l2yA00", 413.0, 0)
    assert f.status(key)[5] == NON_FINITE and f.valid(key).sum() == 37
    with pytest.raises(GenmolError) as e:
        f.frames(key, 0, 10)
    one_sentence(e.value, str(paths["1l2yA00"]), "frame 5 of /1l2yA00/413/0/coords is invalid (non-finite)")
    assert f.frames(key, 6, 10).shape == (4, 20, 14, 3)
    assert np.isnan(f.frames(key, 0, 10, allow_invalid=True)).any()


def test_status_cache_on_disk_is_used_and_invalidated(files, tmp_path, monkeypatch):
    _, paths = files
    path = tmp_path / "a.h5"
    path.write_bytes(paths["1l2yA00"].read_bytes())
    first = MdcathFile(path, frame_interval_ps=NS, cache_dir=tmp_path / "cache").summary()
    assert len(list((tmp_path / "cache" / "mdcath").glob("a-*.npz"))) == 1
    part = MdcathFile(path, frame_interval_ps=NS, cache_dir=tmp_path / "partial")
    part.valid(part.trajectories()[0])
    assert not list((tmp_path / "partial").rglob("*.npz"))  # written once the file is complete, or on close
    part.close()
    assert len(list((tmp_path / "partial").rglob("*.npz"))) == 1

    def no_scan(*args):
        raise AssertionError("scanned although cached")

    monkeypatch.setattr(MdcathFile, "_scan", no_scan)
    again = MdcathFile(path, frame_interval_ps=NS, cache_dir=tmp_path / "cache").summary()
    assert again.invalid_counts() == first.invalid_counts()
    with h5py.File(path, "a") as h:  # a changed file is scanned again
        h["1l2yA00/320/0/coords"][0] = 0.0
    with pytest.raises(AssertionError, match="scanned although cached"):
        MdcathFile(path, frame_interval_ps=NS, cache_dir=tmp_path / "cache").summary()


# ---------------------------------------------------------------------------------------------- frame interval


def test_frame_interval_from_attribute_argument_or_error(files):
    _, paths = files
    f = MdcathFile(paths["ala2"])
    assert all(f.frame_interval_ps(k) == 1.0 for k in f.trajectories())
    # the attribute (our 1 ps files) takes precedence over a default given for attribute-less mdCATH files
    g = MdcathFile(paths["ala2"], frame_interval_ps=NS)
    assert g.frame_interval_ps(g.trajectories()[0]) == 1.0 and g.frame_interval_source(g.trajectories()[0]) == (
        "timestep_ps")
    h = MdcathFile(paths["1l2yA00"], frame_interval_ps=NS)
    assert h.frame_interval_ps(h.trajectories()[0]) == NS and h.frame_interval_source(h.trajectories()[0]) == "given"
    bare = MdcathFile(paths["1l2yA00"])
    with pytest.raises(GenmolError) as e:
        bare.frame_interval_ps(bare.trajectories()[0])
    one_sentence(e.value, str(paths["1l2yA00"]), "/1l2yA00/320/0 has no timestep_ps attribute",
                 "frame_interval_ps")
    with pytest.raises(GenmolError, match="no timestep_ps attribute"):
        MdcathSet(paths["1l2yA00"])  # checked for every trajectory up front
    assert "unknown (no timestep_ps, none given) for 10 trajectories" in str(bare.summary())


def test_bad_timestep_attribute_and_interval_argument(tmp_path):
    a, frames = alanine_dipeptide(10, 0)
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as h:
        write_domain(h, "ala2", a, {(300, 0): frames}, timestep_ps=-1.0)
    with pytest.raises(GenmolError, match=r"bad.h5: group /ala2/300/0 has timestep_ps -1.0"):
        MdcathFile(path)
    with pytest.raises(GenmolError, match="frame_interval_ps must be a positive number"):
        MdcathFile(path, frame_interval_ps=0.0)


# ---------------------------------------------------------------------------------------------- pairs


@pytest.fixture(scope="module")
def trp_set(files):
    _, paths = files
    return MdcathSet([paths["1l2yA00"], paths["1l2yB00"]], frame_interval_ps=NS)


def test_pairs_respect_delta_replicas_and_validity(trp_set):
    rng = np.random.default_rng(1)
    seen_keys, seen_deltas = set(), set()
    for _ in range(300):
        p = trp_set.sample_pair(rng, [1000.0, 5000.0, 20000.0])
        f = trp_set.file(p.key.domain)
        k = round(p.delta_ps / NS)
        assert p.target_frame - p.source_frame == k and p.delta_ps in (1000.0, 5000.0, 20000.0)
        assert 0 <= p.source_frame and p.target_frame < f.num_frames(p.key)  # inside this replica
        valid = f.valid(p.key)
        assert valid[p.source_frame] and valid[p.target_frame]
        np.testing.assert_array_equal(p.source, f.frames(p.key, p.source_frame, p.source_frame + 1)[0])
        np.testing.assert_array_equal(p.target, f.frames(p.key, p.target_frame, p.target_frame + 1)[0])
        assert p.temperature_K == p.key.temperature_K and p.aatype.shape == (20,)
        seen_keys.add(p.key)
        seen_deltas.add(p.delta_ps)
    assert len(seen_keys) == 20 and seen_deltas == {1000.0, 5000.0, 20000.0}


def test_pairs_exclude_invalid_frames_exactly(trp_set):
    # replica 1 at 320 K: 30 frames, 28 and 29 invalid -> pairs one frame apart start at 0..26
    key = TrajectoryKey("1l2yA00", 320.0, 1)
    assert trp_set.pair_starts(key, NS).tolist() == list(range(27))
    key = TrajectoryKey("1l2yA00", 413.0, 0)  # frame 5 NaN: neither end may be 5
    starts = trp_set.pair_starts(key, 2 * NS)
    assert 5 not in starts and 3 not in starts and len(starts) == 36 - 2
    key = TrajectoryKey("1l2yB00", 450.0, 0)  # frame 37 all-zero
    assert trp_set.pair_starts(key, NS).tolist() == list(range(36))
    assert trp_set.num_pairs(NS) == 5 * (37 + 29) * 2 - 2 - 2 - 1  # 2 at 320/1, 2 at 413/0, 1 at 450/0
    with pytest.raises(GenmolError, match="no pair of valid frames 38000 ps apart"):
        trp_set.sample_pair(np.random.default_rng(0), [38000.0])


def test_pairs_are_pure_functions_of_the_rng(files, trp_set):
    _, paths = files
    fresh = MdcathSet([paths["1l2yA00"], paths["1l2yB00"]], frame_interval_ps=NS)  # no caches yet

    def draw(s):
        return [(p.key, p.source_frame, p.delta_ps, p.residue_start) for p in
                (s.sample_pair(np.random.default_rng((7, i)), [1000.0, 3000.0], crop=6) for i in range(40))]

    assert draw(fresh) == draw(trp_set) == draw(fresh)


def test_delta_must_be_a_whole_number_of_frames(trp_set):
    with pytest.raises(GenmolError) as e:
        trp_set.sample_pair(np.random.default_rng(0), [1500.0])
    one_sentence(e.value, "jump 1500 ps is not a whole number of frames", "one frame every 1000 ps")
    with pytest.raises(GenmolError, match="jump sizes must be positive"):
        trp_set.sample_pair(np.random.default_rng(0), [0.0])
    with pytest.raises(GenmolError, match="at least one jump size"):
        trp_set.sample_pair(np.random.default_rng(0), [])


def test_crop_is_a_contiguous_window(trp_set):
    rng = np.random.default_rng(3)
    starts = set()
    for _ in range(30):
        p = trp_set.sample_pair(rng, [1000.0], crop=8)
        full = trp_set.file(p.key.domain).frames(p.key, p.source_frame, p.source_frame + 1)[0]
        r0 = p.residue_start
        assert p.source.shape == (8, 14, 3) and p.atom_mask.shape == (8, 14)
        np.testing.assert_array_equal(p.source, full[r0:r0 + 8])
        assert p.residue_index.tolist() == list(range(r0 + 1, r0 + 9))  # 1L2Y numbers its residues from 1
        starts.add(r0)
    assert len(starts) > 3 and max(starts) <= 12
    assert trp_set.sample_pair(rng, [1000.0], crop=50).source.shape == (20, 14, 3)  # shorter: not cropped


def test_held_out_tail_is_never_sampled(files):
    _, paths = files
    tail = HeldOutTail(0.2, temperatures=(300,), domains=("ala2",))
    s = MdcathSet(paths["ala2"], held_out_tail=tail)
    key300, key400 = TrajectoryKey("ala2", 300.0, 0), TrajectoryKey("ala2", 400.0, 0)
    assert tail.cut(120) == 96 and s.window(key300) == (0, 96) and s.window(key400) == (0, 120)
    rng = np.random.default_rng(0)
    late400 = 0
    for _ in range(400):
        p = s.sample_pair(rng, [1.0, 5.0, 20.0])
        if p.key == key300:
            assert p.target_frame < 96
        late400 += p.key.temperature_K == 400.0 and p.target_frame >= 96
    assert late400 > 0  # other temperatures and domains keep their tails
    assert s.pair_starts(key300, 1.0).max() == 94
    held = s.view("tail")
    assert held.trajectories() == [key300] and held.window(key300) == (96, 120)
    for _ in range(50):
        p = held.sample_pair(rng, [1.0, 5.0])
        assert p.key == key300 and p.source_frame >= 96 and p.target_frame < 120
    summary = s.summary()
    assert "held out of training: last 20% of the frames at 300 K (ala2): 24 frames" in str(summary)
    with pytest.raises(GenmolError, match="fraction must lie in"):
        HeldOutTail(1.0)


def test_domain_split_is_deterministic_and_disjoint(files):
    names = [f"{i}abc{j}00" for i in range(1, 10) for j in "ABCDEFGHIJ"]
    split = split_domains(names, 0.1, seed=5)
    assert split == split_domains(list(reversed(names)), 0.1, seed=5)
    assert set(split["train"]).isdisjoint(split["valid"]) and sorted(split["train"] + split["valid"]) == sorted(names)
    assert len(split["valid"]) == 9 and split_domains(names, 0.1, seed=6)["valid"] != split["valid"]
    grown = split_domains(names + ["9zzzA00"], 0.1, seed=5)  # adding a domain moves at most one
    assert len(set(grown["valid"]) ^ set(split["valid"])) <= 2
    assert split_domains(names, 0.0)["valid"] == []
    with pytest.raises(GenmolError, match="cannot hold out"):
        split_domains(["ala2"], 0.2)
    _, paths = files
    sets = [MdcathSet(list(paths.values()), valid_fraction=0.25, seed=3, frame_interval_ps=NS) for _ in range(2)]
    assert sets[0].domain_split == sets[1].domain_split
    train, valid = sets[0].domains(), sets[0].view("valid").domains()
    assert len(valid) == 1 and set(train).isdisjoint(valid) and len(train) == 3
    jump = 1.0 if valid[0].startswith("ala2") else NS  # one frame of the valid domain
    assert {p.key.domain for p in (sets[0].view("valid").sample_pair(np.random.default_rng(i), [jump])
                                   for i in range(10))} == set(valid)


def test_directory_sources(files):
    d, paths = files
    s = MdcathSet(d, frame_interval_ps=NS)  # mdcath_dataset_*.h5 only (mdCATH's mdcath_source.h5 is no data file)
    assert s.view("all").domains() == ["1l2yA00", "1l2yB00"]
    s = MdcathSet(d, frame_interval_ps=NS, pattern="*.h5")
    assert s.view("all").domains() == ["1l2yA00", "1l2yB00", "ala2", "ala2ch3"]
    with pytest.raises(GenmolError, match="is in both"):
        MdcathSet([paths["ala2"], paths["ala2"]])


def test_open_handles_are_bounded(files):
    _, paths = files
    s = MdcathSet([paths["1l2yA00"], paths["1l2yB00"]], frame_interval_ps=NS, max_open_files=1)
    assert not any(f.is_open for f in s.files)  # indexed, then closed
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = s.sample_pair(rng, [NS])
        assert sum(f.is_open for f in s.files) == 1 and s.file(p.key.domain).is_open
    s.close()
    assert not any(f.is_open for f in s.files)


def test_num_frames_attribute_mismatch_is_noted(tmp_path):
    a, frames = alanine_dipeptide(12, 0)
    path = tmp_path / "n.h5"
    with h5py.File(path, "w") as h:
        write_domain(h, "ala2", a, {(300, 0): frames}, timestep_ps=1.0)
        h["ala2/300/0"].attrs["numFrames"] = 20
    with MdcathFile(path) as f:
        assert f.num_frames(f.trajectories()[0]) == 12
        assert "/ala2/300/0 has numFrames 20 but coords holds 12 frames" in str(f.summary())


def test_align_target_superimposes():
    pytest.importorskip("jax")
    _, frames = trpcage()
    rng = np.random.default_rng(0)
    x = frames[0][:60]
    mask = rng.random(60) > 0.2
    rot = random_orthogonal(0, reflect=False)
    target = x @ rot.T + np.float32(3.0)
    out = align_target(x.reshape(20, 3, 3), target.reshape(20, 3, 3), mask.reshape(20, 3))
    np.testing.assert_allclose(out.reshape(60, 3)[mask], x[mask], atol=2e-3)


# ---------------------------------------------------------------------------------------------- errors


def test_missing_groups_and_datasets_are_one_sentence(files, tmp_path):
    _, paths = files
    path = tmp_path / "m.h5"
    path.write_bytes(paths["1l2yA00"].read_bytes())
    f = MdcathFile(path, frame_interval_ps=NS)
    with pytest.raises(GenmolError) as e:
        f.topology("9xyzA00")
    one_sentence(e.value, str(path), "has no group /9xyzA00")
    with pytest.raises(GenmolError) as e:
        f.frames(TrajectoryKey("1l2yA00", 300.0, 0))
    one_sentence(e.value, str(path), "no trajectory 1l2yA00 300 K replica 0", "/1l2yA00/300/0")
    f.close()
    with h5py.File(path, "a") as h:
        del h["1l2yA00/pdbProteinAtoms"]
    with pytest.raises(GenmolError) as e, MdcathFile(path, frame_interval_ps=NS) as g:
        g.topology("1l2yA00")
    one_sentence(e.value, str(path), "group /1l2yA00 has no dataset 'pdbProteinAtoms'")
    with h5py.File(path, "a") as h:
        del h["1l2yA00/348/1/coords"]
    with pytest.raises(GenmolError) as e:
        MdcathFile(path, frame_interval_ps=NS)
    one_sentence(e.value, str(path), "group /1l2yA00/348/1 has no dataset 'coords'")


def test_inconsistent_layouts_are_errors(tmp_path):
    a, frames = alanine_dipeptide(10, 0)
    cases = {
        "twice.h5": lambda h: (write_domain(h, "d", a, {(300, 0): frames}, timestep_ps=1.0),
                               h["d"].create_group("sims300K/0").create_dataset("coords", data=frames)),
        "replica.h5": lambda h: write_domain(h, "d", a, {(300, "first"): frames}, timestep_ps=1.0),
        "atoms.h5": lambda h: write_domain(h, "d", a, {(300, 0): frames[:, :20]}, timestep_ps=1.0),
        "shape.h5": lambda h: write_domain(h, "d", a, {(300, 0): frames[:, :, :2]}, timestep_ps=1.0),
        "replicas.h5": lambda h: write_domain(h, "d", a, {(300, 0): frames, (300, 1): frames[:, :21]},
                                              timestep_ps=1.0),
        "temperature.h5": lambda h: (write_domain(h, "d", a, {(300, 0): frames}, timestep_ps=1.0),
                                     h["d/300/0"].attrs.modify("temperature", 310)),
    }
    messages = {"twice.h5": "domain d holds 300 K twice", "replica.h5": "group /d/300/first is not a replica",
                "atoms.h5": "pdbProteinAtoms holds 22 atoms but /d/300/0/coords holds 20",
                "shape.h5": "/d/300/0/coords has shape (10, 22, 2)",
                "replicas.h5": "pdbProteinAtoms holds 22 atoms but /d/300/1/coords holds 21",
                "temperature.h5": "group /d/300/0 has temperature attribute 310 K but its name says 300 K"}
    for name, make in cases.items():
        with h5py.File(tmp_path / name, "w") as h:
            make(h)
        with pytest.raises(GenmolError) as e:
            MdcathFile(tmp_path / name).summary()
        one_sentence(e.value, str(tmp_path / name), messages[name])
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(GenmolError, match="text.h5 is not a readable HDF5 file"):
        MdcathFile(tmp_path / "text.h5")


@pytest.fixture(scope="module")
def small_file_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "small.h5"
    a, frames = alanine_dipeptide(40, 0)
    with h5py.File(path, "w") as h:
        write_domain(h, "ala2", a, {(300, 0): frames, (400, 0): frames}, timestep_ps=1.0, compress=True)
    return path.read_bytes()


@settings(max_examples=60)
@given(data=st.data())
def test_damaged_files_give_genmol_errors(small_file_bytes, data):
    b = bytearray(small_file_bytes)
    kind = data.draw(st.sampled_from(["truncate", "garble", "flip"]))
    if kind == "truncate":
        b = b[:data.draw(st.integers(0, len(b) - 1))]
    elif kind == "garble":
        pos = data.draw(st.integers(0, len(b) - 1))
        junk = data.draw(st.binary(min_size=1, max_size=64))
        b[pos:pos + len(junk)] = junk
    else:
        for pos in data.draw(st.lists(st.integers(0, len(b) - 1), min_size=1, max_size=8)):
            b[pos] ^= 1 << data.draw(st.integers(0, 7))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "damaged.h5"
        path.write_bytes(bytes(b))
        try:
            with MdcathFile(path) as f:
                f.summary()
                for key in f.trajectories():
                    f.frames(key, allow_invalid=True)
                    f.topology(key.domain)
        except GenmolError as e:
            assert "\n" not in str(e) and str(path) in str(e)


# ---------------------------------------------------------------------------------------------- embedded data


EMBEDDED = ROOT / "data" / "md" / "ala2_mdcath.h5"


def test_embedded_alanine_dipeptide():
    assert embedded_ala2().resolve() == EMBEDDED.resolve()
    f = MdcathFile(EMBEDDED)
    keys = f.trajectories()
    assert keys == [TrajectoryKey("ala2", 300.0, 0), TrajectoryKey("ala2", 400.0, 0)]
    assert [f.num_frames(k) for k in keys] == [74880, 76900]
    assert [f.frame_interval_ps(k) for k in keys] == [1.0, 1.0]  # 1 ps per frame, from the file
    top = f.topology("ala2")
    assert top.aatype.tolist() == [ACE, ALA, NME] and top.atom_mask.sum() == 10 and top.dropped.hydrogens == 0
    assert EMBEDDED.stat().st_size <= 10_000_000
    with h5py.File(EMBEDDED) as h:
        assert "forces" not in h["ala2/300/0"] and h["ala2/300/0/coords"].scaleoffset == 3
    s = MdcathSet(EMBEDDED, held_out_tail=ALA2_HELD_OUT)
    assert s.window(keys[0]) == (0, 59904) and s.window(keys[1]) == (0, 76900)
    assert s.summary().num_invalid == 0


TRPCAGE = ROOT / "data" / "md" / "trpcage_mdcath.h5"


def test_embedded_trpcage():
    assert embedded_trpcage().resolve() == TRPCAGE.resolve()
    f = MdcathFile(TRPCAGE)
    keys = f.trajectories()
    assert keys == [TrajectoryKey("1l2y", 320.0, 0), TrajectoryKey("1l2y", 400.0, 0)]
    assert [f.num_frames(k) for k in keys] == [700, 700]
    assert [f.frame_interval_ps(k) for k in keys] == [1.0, 1.0]
    top = f.topology("1l2y")
    trp = read_trajectory(FIX / "1l2y.xtc", FIX / "1l2y.pdb")[0]
    assert np.array_equal(top.aatype, trp.aatype) and np.array_equal(top.atom_mask, trp.atom_mask)
    assert top.atom_mask.sum() == 153 and top.dropped.hydrogens == 0  # 154 heavy atoms: OXT has no slot
    assert TRPCAGE.stat().st_size <= 2_000_000
    with h5py.File(TRPCAGE) as h:
        assert "forces" not in h["1l2y/320/0"] and h["1l2y/320/0/coords"].scaleoffset == 3
    s = embedded_md("trpcage")
    assert s.held_out_tail == TRPCAGE_HELD_OUT
    assert s.window(keys[0]) == (0, 560) and s.window(keys[1]) == (0, 700)
    assert s.view("tail").window(keys[0]) == (560, 700) and s.summary().num_invalid == 0
    assert embedded_md("ala2").held_out_tail == ALA2_HELD_OUT
    with pytest.raises(GenmolError, match="unknown embedded MD 'villin'; choose one of ala2, trpcage"):
        embedded_md("villin")


def _prepare_md_script():
    spec = importlib.util.spec_from_file_location("prepare_md", ROOT / "scripts" / "prepare_md.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_prepare_md_script(tmp_path):
    script = _prepare_md_script()
    a, frames = alanine_dipeptide(50, 2)
    src = tmp_path / "all_atom.h5"
    with h5py.File(src, "w") as h:
        write_domain(h, "ala2", a, {(300, 0): frames + 20.0, (400, 0): frames[:30] + 20.0}, timestep_ps=1.0)
    stats = script.prepare(src, tmp_path / "out.h5")  # the only domain
    assert stats["domain"] == "ala2" and stats["atoms"] == 10
    assert stats["frames"] == {"300/0": 50, "400/0": 30} and stats["max_error"] <= 5.1e-4
    f = MdcathFile(tmp_path / "out.h5")
    top = f.topology("ala2")
    assert top.atom_mask.sum() == 10 and top.dropped.hydrogens == 0
    with h5py.File(tmp_path / "out.h5") as h:
        assert h["ala2/element"].shape == (10,) and h["ala2/300/0/coords"].shape == (50, 10, 3)
        assert h["ala2"].attrs["numProteinAtoms"] == 10 and "forces" not in h["ala2/300/0"]
    ref = MdcathFile(src)
    for key in f.trajectories():
        np.testing.assert_allclose(f.frames(key), ref.frames(key), atol=5.1e-4)
    script.prepare(src, tmp_path / "again.h5", "ala2")
    assert (tmp_path / "again.h5").read_bytes() == (tmp_path / "out.h5").read_bytes()  # byte-reproducible


def test_prepare_md_script_on_a_protein_and_on_several_domains(tmp_path):
    script = _prepare_md_script()
    atoms, frames = trpcage()
    src = tmp_path / "protein.h5"
    with h5py.File(src, "w") as h:
        write_domain(h, "1l2y", atoms, {(320, 0): frames[:12], (400, 0): frames[:9]}, timestep_ps=1.0)
    stats = script.prepare(src, tmp_path / "out.h5")
    assert stats["domain"] == "1l2y" and stats["atoms"] == 154 and stats["frames"] == {"320/0": 12, "400/0": 9}
    f = MdcathFile(tmp_path / "out.h5")
    top = f.topology("1l2y")
    assert top.num_residues == 20 and top.atom_mask.sum() == 153 and top.dropped.hydrogens == 0  # OXT: no slot
    ref = MdcathFile(src)
    for key in f.trajectories():
        np.testing.assert_allclose(f.frames(key), ref.frames(key), atol=1.1e-3)
    two = tmp_path / "two.h5"
    with h5py.File(two, "w") as h:
        write_domain(h, "1l2y", atoms, {(320, 0): frames[:3]}, timestep_ps=1.0)
        h.create_group("other")  # a second domain
    with pytest.raises(GenmolError, match="holds 2 domains .*--domain"):
        script.prepare(two, tmp_path / "no.h5")
    assert not (tmp_path / "no.h5").exists()
