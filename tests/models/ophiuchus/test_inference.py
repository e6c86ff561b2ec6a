"""Inference with the protein autoencoder (genmol.models.ophiuchus.inference) on a tiny random-weight model:
the latent of a chain does not depend on its padding bucket, batch or frame; chains are encoded apart and keep
their ids and numbering; residues without Cα are left out of the output; latent files round-trip and bad ones are
refused naming the file.

Shapes compiled: (1, 32), (2, 32) and (1, 64) residues."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from genmol.data.proteins import residues as rc
from genmol.errors import GenmolError
from genmol.io.structures import read_structure
from genmol.models.ophiuchus import inference as inf
from tests.helpers import ROOT

TRP = ROOT / "tests" / "fixtures" / "proteins" / "1l2y.pdb"


@pytest.fixture(scope="module")
def model():
    from genmol.config import load_config
    from genmol.models.store import build_model

    return build_model(load_config(ROOT / "configs" / "ophiuchus" / "test.py"))


@pytest.fixture(scope="module")
def trp():
    return read_structure(TRP)


@pytest.fixture(scope="module")
def trp_latent(model, trp):
    return inf.encode_proteins(model, [trp])[0]


def moved(p, shift, chain=None, first=None):
    """``p`` translated by ``shift`` Å, optionally renamed to ``chain`` and renumbered from ``first``."""
    out = dataclasses.replace(p, positions=np.where(p.atom_mask[..., None], p.positions + np.float32(shift), 0))
    if chain is not None:
        out = dataclasses.replace(out, chain_id=np.full(p.num_residues, chain))
    if first is not None:
        out = dataclasses.replace(out, residue_index=np.arange(first, first + p.num_residues))
    return out


def joined(*ps):
    fields = ("aatype", "positions", "atom_mask", "residue_index", "insertion_code", "chain_id")
    return dataclasses.replace(ps[0], **{f: np.concatenate([getattr(p, f) for p in ps]) for f in fields})


@pytest.mark.parametrize("kernels,strides", [((4, 4), (2, 2)), ((4, 4, 4), (2, 2, 2)), ((5, 3), (3, 1)), ((), ())])
def test_latent_length_is_the_node_count_of_any_long_enough_padding(kernels, strides):
    m = SimpleNamespace(kernels=kernels, strides=strides)
    for r in range(1, 80):
        length = inf.padded_length(m, r)
        assert length % inf.BUCKET == 0 and length >= r
        for extra in (0, 32, 96):  # more padding adds no node
            mask = np.arange(length + extra) < r
            for k, s in zip(kernels, strides):  # coarse_mask's rule in numpy (jax would compile every length)
                padded = np.pad(mask, (0, -len(mask) % s))
                mask = padded.reshape(-1, s).any(-1)
            assert int(mask.sum()) == inf.latent_length(m, r)
            assert bool(mask[:inf.latent_length(m, r)].all())


def test_reconstruction_keeps_numbering_and_predicts_types(model, trp, trp_latent):
    (rec,) = inf.decode_latents(model, [trp_latent])
    assert rec.num_residues == 20 and rec.source == str(TRP)
    assert np.array_equal(rec.residue_index, trp.residue_index) and np.array_equal(rec.chain_id, trp.chain_id)
    assert np.array_equal(rec.atom_mask, rc.ATOM_MASK[rec.aatype])  # every atom of the predicted type
    assert trp_latent.features.shape == (5, model.latent_irreps.dim) and trp_latent.mask.all()
    assert trp_latent.irreps == str(model.latent_irreps) and trp_latent.model == inf.model_fingerprint(model)
    again = inf.reconstruct_proteins(model, [trp])[0]
    np.testing.assert_array_equal(again.positions, rec.positions)


def test_the_latent_does_not_depend_on_the_bucket(model, trp, trp_latent):
    wide = inf.encode_proteins(model, [trp], bucket=64)[0]
    np.testing.assert_allclose(wide.features, trp_latent.features, atol=1e-5)
    np.testing.assert_allclose(wide.positions, trp_latent.positions, atol=1e-4)
    a, b = inf.decode_latents(model, [trp_latent])[0], inf.decode_latents(model, [wide], bucket=64)[0]
    np.testing.assert_allclose(a.positions, b.positions, atol=1e-4)


def test_latent_and_reconstruction_are_in_the_input_frame(model, trp, trp_latent):
    shift = np.array([100.0, -50.0, 20.0])
    far = inf.encode_proteins(model, [moved(trp, shift)])[0]
    np.testing.assert_allclose(far.features, trp_latent.features, atol=1e-4)
    np.testing.assert_allclose(far.positions, trp_latent.positions + shift, atol=1e-3)
    a, b = inf.decode_latents(model, [trp_latent, far])
    np.testing.assert_allclose(b.positions, np.where(b.atom_mask[..., None], a.positions + shift, 0), atol=2e-3)
    # the latent nodes sit among the residues they stand for
    ca = trp.positions[:, rc.CA_SLOT]
    assert np.linalg.norm(trp_latent.positions.mean(0) - ca.mean(0)) < 10.0


def test_chains_are_encoded_apart_and_keep_their_ids(model, trp, trp_latent):
    two = joined(trp, moved(trp, [40.0, 0, 0], chain="B", first=101))
    record = inf.encode_proteins(model, [two], batch_size=8)[0]
    assert record.num_nodes == 10 and record.num_residues == 40
    np.testing.assert_allclose(record.features[:5], trp_latent.features, atol=1e-5)
    np.testing.assert_allclose(record.features[5:], trp_latent.features, atol=1e-4)
    (rec,) = inf.decode_latents(model, [record])
    assert rec.chains() == ["A", "B"] and list(rec.residue_index[20:]) == list(range(101, 121))
    alone = inf.decode_latents(model, [trp_latent])[0]
    np.testing.assert_allclose(rec.positions[:20], alone.positions, atol=1e-4)
    np.testing.assert_allclose(rec.positions[20:], np.where(alone.atom_mask[..., None], alone.positions + [40, 0, 0],
                                                            0), atol=2e-3)
    # batches of one give the same latents as the batch of two
    single = inf.encode_proteins(model, [two], batch_size=1)[0]
    np.testing.assert_allclose(single.features, record.features, atol=1e-5)


def test_residues_without_a_ca_are_encoded_as_gaps_and_not_written(model, trp):
    mask = trp.atom_mask.copy()
    mask[5, rc.CA_SLOT] = False
    holed = dataclasses.replace(trp, atom_mask=mask)
    record = inf.encode_proteins(model, [holed])[0]
    assert record.num_residues == 20 and not record.residue_mask[5] and record.residue_mask.sum() == 19
    (rec,) = inf.decode_latents(model, [record])
    ref = inf.encoded_residues(holed)
    assert rec.num_residues == ref.num_residues == 19 and 6 not in rec.residue_index.tolist()
    assert np.array_equal(rec.residue_index, ref.residue_index)


def test_latent_file_round_trip(tmp_path, model, trp, trp_latent):
    other = inf.encode_proteins(model, [moved(trp, [5.0, 0, 0], chain="Z")])[0]
    inf.save_latents(tmp_path / "z.npz", [trp_latent, other])
    assert [p.name for p in tmp_path.iterdir()] == ["z.npz"]  # no temporary file left behind
    back = inf.load_latents(tmp_path / "z.npz")
    for a, b in zip(back, [trp_latent, other]):
        for f in dataclasses.fields(inf.LatentRecord):
            x, y = getattr(a, f.name), getattr(b, f.name)
            assert np.array_equal(x, y) if isinstance(y, np.ndarray) else x == y, f.name
    np.testing.assert_allclose(inf.decode_latents(model, back)[0].positions,  # a batch of 2, not 1: float noise
                               inf.decode_latents(model, [trp_latent])[0].positions, atol=1e-4)


def test_bad_latent_files_and_records_are_refused(tmp_path, model, trp_latent):
    with pytest.raises(GenmolError, match="nothing.npz does not exist"):
        inf.load_latents(tmp_path / "nothing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(GenmolError, match="other.npz is not a genmol protein latent file"):
        inf.load_latents(tmp_path / "other.npz")
    inf.save_latents(tmp_path / "z.npz", [trp_latent])
    d = dict(np.load(tmp_path / "z.npz"))
    d["residue_offsets"] = np.array([0, 25])
    np.savez(tmp_path / "bad.npz", **d)
    with pytest.raises(GenmolError, match="bad.npz .*residue_mask has shape"):
        inf.load_latents(tmp_path / "bad.npz")
    with pytest.raises(GenmolError, match="encoded by another model"):
        inf.decode_latents(model, [dataclasses.replace(trp_latent, irreps="8x0e + 2x1o")])
    with pytest.raises(GenmolError, match="4 latent nodes for 20 residues; the model expects 5"):
        short = dataclasses.replace(trp_latent, features=trp_latent.features[:4], positions=trp_latent.positions[:4],
                                    mask=trp_latent.mask[:4])
        inf.decode_latents(model, [short])
    with pytest.raises(GenmolError, match="no latents"):
        inf.save_latents(tmp_path / "none.npz", [])
    assert not (tmp_path / "none.npz").exists()


def test_length_budget_names_the_file_chain_and_length(model, trp):
    with pytest.raises(GenmolError, match=r"1l2y.pdb, chain 'A': 20 residues, more than the 10 "):
        inf.check_lengths([trp], max_residues=10)
    with pytest.raises(GenmolError, match="chain 'A': 20 residues"):
        inf.encode_proteins(model, [trp], max_residues=19)
    no_ca = dataclasses.replace(trp, atom_mask=trp.atom_mask & (np.arange(14) != rc.CA_SLOT))
    with pytest.raises(GenmolError, match="no residue has a Cα atom"):
        inf.check_lengths([no_ca])


def test_fingerprint_follows_the_weights(model):
    from genmol.config import load_config
    from genmol.models.store import build_model

    cfg = load_config(ROOT / "configs" / "ophiuchus" / "test.py")
    assert inf.model_fingerprint(build_model(cfg)) == inf.model_fingerprint(model)
    assert inf.model_fingerprint(build_model(cfg, seed=1)) != inf.model_fingerprint(model)
