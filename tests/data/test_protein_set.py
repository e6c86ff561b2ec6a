"""The protein set (genmol.data.proteins.dataset) and padded residue batches (genmol.data.proteins.batch)."""

import dataclasses
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmol.data.proteins import residues as rc
from genmol.data.proteins.batch import (PAD_TOKEN, ProteinBatch, crop_window, pad_proteins, random_crop_batch,
                                        slot_rng)
from genmol.data.proteins.dataset import SPLITS, ProteinSet, split_by_cluster
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.io.structures import read_structure, write_pdb
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "proteins"
SET_FIXTURES = FIXTURES / "set"  # three structures of the embedded set, byte for byte, with a manifest
FIELDS = ("aatype", "atom_mask", "residue_index", "insertion_code", "chain_id")


@pytest.fixture(scope="module")
def embedded():
    return ProteinSet.load()


def assert_same_protein(a: Protein, b: Protein, exact: bool = True, dropped: bool = True):
    for field in FIELDS:
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    if exact:
        assert np.array_equal(a.positions, b.positions)
    else:
        np.testing.assert_allclose(a.positions, b.positions, atol=1e-3)
    assert a.dropped == b.dropped or not dropped


# ---------------------------------------------------------------------------------------------- embedded set


def test_embedded_counts_match_the_manifest(embedded):
    # numbers from shared/data/proteins/set/manifest.csv (627 rows, one per cluster40, n_residues <= 300)
    assert len(embedded) == 627 and len(np.unique(embedded.clusters)) == 627
    assert int(embedded.lengths.sum()) == 103_483
    assert embedded.lengths.min() == 32 and embedded.lengths.max() == 300
    assert int((embedded.tiers == "A").sum()) == 319 and int((embedded.tiers == "B").sum()) == 308
    assert [int((embedded.splits == s).sum()) for s in SPLITS] == [501, 63, 63]
    assert set(np.unique(embedded.info["sse_class"])) == {"alpha/beta mixed", "mainly-alpha", "mainly-beta",
                                                          "few-SSE"}
    assert embedded.info["frac_helix"].dtype == np.float32 and np.all((embedded.info["frac_helix"] >= 0)
                                                                      & (embedded.info["frac_helix"] <= 1))
    assert all(len(p.chains()) == 1 for p in embedded)
    assert embedded.dropped.extra_atoms == 257 and embedded.dropped.waters == 0  # OXT atoms; the files were cleaned
    assert "627 proteins" in embedded.summary() and "257 extra atoms" in embedded.summary()


def test_embedded_entries_equal_their_pdb_files(embedded):
    """The npz reproduces read_structure exactly for real entries (tiers A and B, insertion codes)."""
    for path in sorted(SET_FIXTURES.glob("*.pdb")):
        protein = embedded[embedded.index(path.stem)]
        assert_same_protein(protein, read_structure(path))
        assert protein.source == f"set.npz:{path.stem}"
    assert (embedded[embedded.index("1jmo_L")].insertion_code != "").any()


def test_embedded_entries_written_and_read_back_as_pdb(embedded, tmp_path):
    for i in (0, 100, 626):
        write_pdb(tmp_path / "x.pdb", embedded[i])  # without OXT, hence other dropped counts
        assert_same_protein(read_structure(tmp_path / "x.pdb"), embedded[i], exact=False, dropped=False)


def test_npz_round_trip_is_exact(tmp_path):
    proteins = ProteinSet.load(SET_FIXTURES)
    proteins.save_npz(tmp_path / "s.npz")
    back = ProteinSet.load(tmp_path / "s.npz")
    assert list(back.names) == list(proteins.names)
    for a, b in zip(back, proteins):
        assert_same_protein(a, b)
    for key in ("clusters", "splits", "tiers"):
        assert np.array_equal(getattr(back, key), getattr(proteins, key))
    assert back.dropped == proteins.dropped and np.array_equal(back.info["file"], proteins.info["file"])


def test_bad_npz_is_a_clear_error(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(GenmolError, match="junk.npz"):
        ProteinSet.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", positions=np.zeros((3, 3)))
    with pytest.raises(GenmolError, match="other.npz is not a genmol protein set"):
        ProteinSet.load(tmp_path / "other.npz")


# ---------------------------------------------------------------------------------------------- splits


def test_splits_are_disjoint_by_cluster_and_deterministic():
    rng = np.random.default_rng(1)
    clusters = rng.permutation(np.repeat(np.arange(97), rng.integers(1, 8, size=97))).astype(str)  # 97 clusters
    labels = split_by_cluster(clusters)
    assert np.array_equal(labels, split_by_cluster(clusters))
    for c in np.unique(clusters):
        assert len(set(labels[clusters == c].tolist())) == 1  # a cluster never spans two splits
    per_split = [len(np.unique(clusters[labels == s])) for s in SPLITS]
    assert per_split == [77, 10, 10]  # round(97 / 10) = 10
    perm = rng.permutation(len(clusters))  # entry order does not matter
    assert np.array_equal(split_by_cluster(clusters[perm]), labels[perm])
    assert not np.array_equal(split_by_cluster(clusters, seed=1), labels)
    assert set(split_by_cluster(["a", "b", "c"]).tolist()) == {"train"}


def test_embedded_split_is_the_rule(embedded):
    assert np.array_equal(embedded.splits, split_by_cluster(embedded.clusters))
    parts = [embedded.split(s) for s in SPLITS]
    assert sum(len(p) for p in parts) == len(embedded)
    cluster_sets = [set(p.clusters.tolist()) for p in parts]
    assert not (cluster_sets[0] & cluster_sets[1] or cluster_sets[0] & cluster_sets[2]
                or cluster_sets[1] & cluster_sets[2])
    with pytest.raises(GenmolError, match="unknown split 'val'"):
        embedded.split("val")


def test_filters(embedded):
    short = embedded.filter(max_length=50)
    assert len(short) and np.all(short.lengths <= 50)
    mid = embedded.filter(min_length=100, max_length=200, tier="A")
    assert np.all((mid.lengths >= 100) & (mid.lengths <= 200)) and set(mid.tiers.tolist()) == {"A"}
    assert len(embedded.filter(tier=("A", "B"))) == len(embedded)
    assert mid.info["frac_helix"].shape == (len(mid),)
    with pytest.raises(GenmolError, match="no tier labels"):
        ProteinSet.load(FIXTURES / "1l2y.pdb").filter(tier="A")


# ---------------------------------------------------------------------------------------------- directories


def _two_chain_pdb(path):
    """A two-chain PDB built from 1l2y (chain B = chain A shifted by 30 Å)."""
    a = read_structure(FIXTURES / "1l2y.pdb")
    b = dataclasses.replace(a, positions=a.positions + np.float32(30), chain_id=np.full(a.num_residues, "B"))
    both = Protein(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in
                     ("aatype", "positions", "atom_mask", "residue_index", "insertion_code", "chain_id")))
    write_pdb(path, both)
    return a


def test_directory_every_chain_is_an_entry(tmp_path):
    shutil.copy(FIXTURES / "1l2y.pdb", tmp_path / "1l2y.pdb")
    (tmp_path / "sub").mkdir()
    a = _two_chain_pdb(tmp_path / "sub" / "dimer.pdb")
    (tmp_path / "notes.txt").write_text("not a structure")
    s = ProteinSet.load(tmp_path)
    assert list(s.names) == ["1l2y.pdb:A", "sub/dimer.pdb:A", "sub/dimer.pdb:B"]
    assert list(s.clusters) == ["1l2y.pdb", "sub/dimer.pdb", "sub/dimer.pdb"]  # cluster = file
    assert s.splits[1] == s.splits[2]
    assert all(len(p.chains()) == 1 for p in s) and s[2].chains() == ["B"]
    np.testing.assert_allclose(s[2].positions, np.where(a.atom_mask[..., None], a.positions + 30, 0), atol=1e-3)
    assert s.dropped.hydrogens == read_structure(FIXTURES / "1l2y.pdb").dropped.hydrogens  # counted once per file
    assert "3 proteins" in s.summary() and "hydrogens" in s.summary()


def test_directory_manifest_clusters(tmp_path):
    shutil.copy(FIXTURES / "1l2y.pdb", tmp_path / "1l2y.pdb")
    _two_chain_pdb(tmp_path / "dimer.pdb")
    (tmp_path / "manifest.csv").write_text("file,chain,cluster40,tier,note\n1l2y.pdb,A,7,A,x\ndimer.pdb,A,7,B,y\n"
                                           "dimer.pdb,B,9,B,z\n")
    s = ProteinSet.load(tmp_path)
    assert list(s.clusters) == ["7", "7", "9"] and list(s.tiers) == ["A", "B", "B"]
    assert list(s.info["note"]) == ["x", "y", "z"] and s.splits[0] == s.splits[1]
    (tmp_path / "manifest.csv").write_text("file,chain,cluster40\n1l2y.pdb,,1\ndimer.pdb,,2\n")  # all chains
    assert list(ProteinSet.load(tmp_path).clusters) == ["1", "2", "2"]
    (tmp_path / "manifest.csv").write_text("file,chain,cluster40\n1l2y.pdb,A,1\ndimer.pdb,A,2\n")
    with pytest.raises(GenmolError, match="no row for file 'dimer.pdb' chain 'B'"):
        ProteinSet.load(tmp_path)
    (tmp_path / "manifest.csv").write_text("file,chain,cluster40\n1l2y.pdb,,1\ndimer.pdb,,2\ngone.pdb,A,3\n")
    with pytest.raises(GenmolError, match="manifest.csv:4: file 'gone.pdb' chain 'A' is not among"):
        ProteinSet.load(tmp_path)
    (tmp_path / "manifest.csv").write_text("file,cluster\n1l2y.pdb,1\n")
    with pytest.raises(GenmolError, match="lacks the column"):
        ProteinSet.load(tmp_path)


def test_directory_matches_embedded(embedded):
    s = ProteinSet.load(SET_FIXTURES)
    assert len(s) == 3
    for name, protein, cluster, tier in zip(s.info["file"], s, s.clusters, s.tiers):
        i = embedded.index(name.removesuffix(".pdb"))
        assert_same_protein(protein, embedded[i])
        assert cluster == embedded.clusters[i] and tier == embedded.tiers[i]


def test_bad_file_in_directory_names_it(tmp_path):
    shutil.copy(FIXTURES / "1l2y.pdb", tmp_path / "good.pdb")
    (tmp_path / "broken.cif").write_text("data_x\nloop_\n_atom_site.id\n")
    with pytest.raises(GenmolError, match="broken.cif"):
        ProteinSet.load(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenmolError, match="holds no structure files"):
        ProteinSet.load(tmp_path / "empty")
    with pytest.raises(GenmolError, match="does not exist"):
        ProteinSet.load(tmp_path / "missing")


def test_load_formats_agree(tmp_path):
    pdb = ProteinSet.load(FIXTURES / "1l2y.pdb")
    bcif = ProteinSet.load(FIXTURES / "1l2y.bcif")
    assert len(pdb) == len(bcif) == 1 and list(pdb.names) == ["1l2y.pdb:A"]
    for field in FIELDS[:3]:
        assert np.array_equal(getattr(pdb[0], field), getattr(bcif[0], field))


# ---------------------------------------------------------------------------------------------- crops


def test_crop_windows_lie_inside_and_are_uniform(embedded):
    protein = embedded[embedded.index("1jmo_L")]  # 47 residues
    r, length = protein.num_residues, 20
    rng = np.random.default_rng(0)
    starts = []
    for _ in range(2800):
        crop = crop_window(protein, length, rng)
        assert crop.num_residues == length
        start = int(np.flatnonzero((protein.residue_index == crop.residue_index[0])
                                   & (protein.insertion_code == crop.insertion_code[0]))[0])
        assert_same_protein(crop, protein.crop(start, length))
        starts.append(start)
    counts = np.bincount(starts, minlength=r - length + 1)
    assert len(counts) == r - length + 1  # every start possible, none outside
    expected = len(starts) / len(counts)  # 100 per start
    assert counts.min() > 0.5 * expected and counts.max() < 1.5 * expected
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 60  # 27 degrees of freedom: p ~ 3e-4
    assert crop_window(protein, 100, rng) is protein  # shorter than the window: whole
    assert crop_window(protein, length).residue_index[0] == protein.residue_index[(r - length) // 2]  # central
    with pytest.raises(GenmolError, match="at least 1"):
        crop_window(protein, 0, rng)


# ---------------------------------------------------------------------------------------------- batches


def test_pad_proteins_masks_and_centring(embedded):
    a, b = embedded[embedded.index("1qfd_A")], embedded[embedded.index("2ooa_A")]
    mask = b.atom_mask.copy()
    mask[3, rc.CA_SLOT] = False  # a residue without its Cα
    b_gap = Protein(b.aatype, b.positions, mask, b.residue_index, b.insertion_code, b.chain_id, source="b")
    batch = pad_proteins([a, b_gap], length=48, size=4)
    assert batch.aatype.shape == (4, 48) and batch.aatype.dtype == np.int32
    assert batch.positions.shape == (4, 48, 14, 3) and batch.positions.dtype == np.float32
    assert batch.atom_mask.shape == (4, 48, 14) and batch.atom_mask.dtype == bool
    assert batch.residue_index.dtype == np.int32 and batch.example_mask.tolist() == [True, True, False, False]
    assert batch.size == 4 and batch.length == 48
    ra, rb = a.num_residues, b.num_residues
    assert batch.residue_mask[0].tolist() == [True] * ra + [False] * (48 - ra)
    assert batch.residue_mask[1, :rb].sum() == rb - 1 and not batch.residue_mask[1, 3]
    assert not batch.residue_mask[2:].any() and not batch.atom_mask[2:].any() and not batch.positions[2:].any()
    assert np.all(batch.residue_index[0, ra:] == -1) and np.all(batch.aatype[0, ra:] == PAD_TOKEN)
    assert np.array_equal(batch.residue_index[0, :ra], a.residue_index)
    assert np.array_equal(batch.atom_mask[1, :rb], b_gap.atom_mask)
    for i, p in enumerate([a, b_gap]):
        ca = batch.positions[i, batch.residue_mask[i], rc.CA_SLOT]
        np.testing.assert_allclose(ca.mean(axis=0), 0, atol=1e-4)  # centred on the present Cα atoms
        assert not batch.positions[i][~batch.atom_mask[i]].any()
        shift = p.positions[p.atom_mask] - batch.positions[i, :p.num_residues][p.atom_mask]
        np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-4)  # a translation


def test_too_long_protein_is_an_error(embedded):
    protein = embedded[embedded.index("1jmo_L")]
    with pytest.raises(GenmolError, match="set.npz:1jmo_L has 47 residues, more than the batch length 40"):
        pad_proteins([protein], length=40, size=2)
    with pytest.raises(GenmolError, match="do not fit a batch of 1"):
        pad_proteins([protein, protein], length=64, size=1)


def test_batches_are_pytrees_that_jit_accepts(embedded):
    batch = random_crop_batch(embedded, length=32, seed=3, step=0, slots=range(4), size=6)
    leaves = jax.tree_util.tree_leaves(batch)
    assert len(leaves) == 6

    @jax.jit
    def masked_ca_mean(b: ProteinBatch):
        w = b.residue_mask[..., None] & b.example_mask[:, None, None]
        return jnp.sum(jnp.where(w, b.positions[:, :, rc.CA_SLOT], 0), axis=1) / jnp.maximum(w.sum(axis=1), 1)

    np.testing.assert_allclose(masked_ca_mean(batch), 0, atol=1e-4)
    as_jax = jax.tree_util.tree_map(jnp.asarray, batch)
    assert isinstance(as_jax, ProteinBatch) and as_jax.positions.shape == (6, 32, 14, 3)


def test_random_crop_batch_depends_only_on_seed_step_slot(embedded):
    train = embedded.split("train")
    whole = random_crop_batch(train, 64, seed=5, step=11, slots=range(6))
    halves = [random_crop_batch(train, 64, seed=5, step=11, slots=range(k, k + 3)) for k in (0, 3)]
    for field in ("aatype", "positions", "atom_mask", "residue_mask", "residue_index", "example_mask"):
        assert np.array_equal(getattr(whole, field), np.concatenate([getattr(h, field) for h in halves]))
    other = random_crop_batch(train, 64, seed=5, step=12, slots=range(6))
    assert not np.array_equal(whole.aatype, other.aatype)
    g = slot_rng(5, 11, 2)
    picked = train[int(g.integers(len(train)))]
    crop = crop_window(picked, 64, g)
    assert np.array_equal(whole.aatype[2, :crop.num_residues], crop.aatype)
    assert whole.residue_mask.any(axis=1).all()
