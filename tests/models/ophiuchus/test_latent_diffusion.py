"""Latent diffusion of proteins: the denoiser's symmetries, the training loss and sampling."""

from pathlib import Path

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genmol.config import load_config
from genmol.models.store import build_model, load_model, save_model
from helpers import ROOT, random_orthogonal


@pytest.fixture(scope="module")
def tiny_autoencoder(tmp_path_factory) -> Path:
    c = load_config(ROOT / "configs/ophiuchus/test.py")
    m = build_model(c)
    path = tmp_path_factory.mktemp("ae") / "model"
    save_model(c, nnx.to_pure_dict(nnx.state(m, nnx.Param)), path, {"note": "random weights for tests"})
    return path


@pytest.fixture(scope="module")
def task(tiny_autoencoder):
    from genmol.models.ophiuchus.latent_task import LatentDiffusionTask

    c = load_config(ROOT / "configs/ophiuchus/latent_diffusion_test.py", [f"data.autoencoder={tiny_autoencoder}"])
    return LatentDiffusionTask(c)


@pytest.fixture(scope="module")
def model(task):
    return task.create_model(nnx.Rngs(0))


def test_task_fills_the_config_from_the_autoencoder(task):
    mc = task.config.model
    assert mc.latent_irreps == "4x0e + 4x1o" and mc.residues_per_node == 4
    assert len(mc.feature_scale) == 8 and all(s > 0 for s in mc.feature_scale)
    # Normalised latents: unit RMS per channel over real nodes, scalars centred.
    f = task.features[task.mask]
    np.testing.assert_allclose(np.sqrt(np.mean(f[:, :4] ** 2, 0)), 1.0, rtol=1e-3)
    np.testing.assert_allclose(np.mean(f[:, :4], 0), 0.0, atol=1e-3)
    assert task.features.shape[1] == 12  # 48 residues / 4


def test_model_holds_the_autoencoder_weights(task, model, tiny_autoencoder):
    ae, _, _ = load_model(tiny_autoencoder, expect="ophiuchus")
    a = jax.tree.leaves(nnx.state(ae, nnx.Param))
    b = jax.tree.leaves(nnx.state(model.autoencoder, nnx.Param))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


_denoise = nnx.jit(lambda m, *a: m.denoiser(*a))


def test_denoiser_is_o3_equivariant_translation_equivariant_and_padding_invariant(task, model):
    rng = np.random.default_rng(0)
    b = task.train_batch(0, range(2))
    f, p, m = jnp.asarray(b.features), jnp.asarray(b.positions), jnp.asarray(b.mask)
    t = jnp.array([0.3, 0.8])
    f1, p1, _, _ = _denoise(model, f, p, m, t)
    q = jnp.asarray(random_orthogonal(rng, True), jnp.float32)
    irreps = e3nn.Irreps(task.config.model.latent_irreps)
    rot = lambda x: e3nn.IrrepsArray(irreps, x).transform_by_matrix(q).array  # noqa: E731
    f2, p2, _, _ = _denoise(model, rot(f), p @ q.T + jnp.array([1.0, -2.0, 0.5]), m, t)
    np.testing.assert_allclose(f2, rot(f1), atol=2e-4)
    np.testing.assert_allclose(jnp.where(m[..., None], p2 - jnp.array([1.0, -2.0, 0.5]), 0), p1 @ q.T, atol=2e-4)
    # Two more padding nodes with garbage change nothing on the real ones.
    pad = lambda x, v: jnp.concatenate([x, jnp.full(x.shape[:1] + (2,) + x.shape[2:], v, x.dtype)], 1)  # noqa: E731
    f3, p3, _, _ = _denoise(model, pad(f, 7.0), pad(p, 9.0), pad(m, False), t)
    np.testing.assert_allclose(f3[:, :-2], f1, atol=1e-5)
    np.testing.assert_allclose(p3[:, :-2], p1, atol=1e-5)


def test_preconditioned_prediction_is_the_input_at_the_data_end(task, model):
    """EDM preconditioning: x̂₁ → x_t as t → 1 (the untrained network's output is scaled away); at t = 0.5 it is not."""
    assert model.denoiser.preconditioning == "edm"
    b = task.train_batch(1, range(2))
    f, p, m = jnp.asarray(b.features), jnp.asarray(b.positions), jnp.asarray(b.mask)
    f1, p1, _, _ = _denoise(model, f, p, m, jnp.full((2,), 1 - 1e-6))
    np.testing.assert_allclose(f1, f, atol=1e-4)
    np.testing.assert_allclose(p1, p, atol=1e-4)
    f1, _, _, _ = _denoise(model, f, p, m, jnp.full((2,), 0.5))
    assert np.abs(np.asarray(f1 - f)).max() > 1e-2


def test_the_first_models_form_still_loads():
    """Models trained before preconditioning existed (no ``model.preconditioning`` in their config) keep x̂₁ = F."""
    model, _, _ = load_model(ROOT / "experiments/ophiuchus_proteins/models/latent_diffusion_step4000",
                             expect="protein_diffusion")
    assert model.denoiser.preconditioning == "none"
    np.testing.assert_array_equal(model.denoiser.scalings(jnp.array([0.9])), [[0.0], [1.0]])


def test_loss_is_finite_and_alignment_changes_the_target(task, model):
    batch = jax.tree.map(jnp.asarray, task.train_batch(3, range(2)))

    @nnx.jit
    def loss_and_grads(m, b):
        return nnx.value_and_grad(lambda m: (jnp.mean(task.loss(m, b, jax.random.key(0))["loss"]),
                                             task.loss(m, b, jax.random.key(0))), has_aux=True)(m)

    (_, out), grads = loss_and_grads(model, batch)
    assert set(out) >= {"loss", "position_mse", "feature_mse"}
    assert np.all(np.isfinite(out["loss"]))
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    task.config.model.target_alignment = "none"
    try:
        plain = nnx.jit(lambda m, b: task.loss(m, b, jax.random.key(0)))(model, batch)
    finally:
        task.config.model.target_alignment = "fisher"
    assert not np.allclose(plain["position_mse"], out["position_mse"])


def test_batches_are_a_function_of_step_and_slot(task):
    a = task.train_batch(5, range(0, 4))
    b = task.train_batch(5, range(2, 4))
    np.testing.assert_array_equal(a.positions[2:], b.positions)
    np.testing.assert_array_equal(a.t[2:], b.t)


def test_sampling_is_deterministic_and_independent_of_batching(model):
    from genmol.models.ophiuchus.sample import sample_proteins

    # One compiled shape (batch 4, one length bucket): the three together, then the second alone.
    a = sample_proteins(model, [16, 9, 13], seed=3, batch_size=4)
    assert [p.num_residues for p in a] == [16, 9, 13]
    for x in a:
        assert np.all(np.isfinite(x.positions)) and x.atom_mask[:, 1].all()
    alone = sample_proteins(model, [16, 9], seed=3, batch_size=4)  # request 1 is the same request
    np.testing.assert_allclose(alone[1].positions, a[1].positions, atol=1e-4)
    other = sample_proteins(model, [16], seed=4, batch_size=4)
    assert not np.allclose(other[0].positions, a[0].positions)
    churned = sample_proteins(model, [16, 9, 13], seed=3, batch_size=4, churn=1.0)  # the SDE: another sampler
    assert all(np.isfinite(x.positions).all() for x in churned)
    assert not np.allclose(churned[0].positions, a[0].positions)


def test_sampling_rejects_bad_lengths(model):
    from genmol.errors import GenmolError
    from genmol.models.ophiuchus.sample import sample_proteins

    with pytest.raises(GenmolError, match="2..1024"):
        sample_proteins(model, [1])
    with pytest.raises(GenmolError, match="--churn -1"):
        sample_proteins(model, [16], churn=-1.0)


def test_sample_proteins_command_writes_a_folder_and_refuses_bad_requests(task, model, tmp_path):
    from genmol.cli import main

    model_dir = tmp_path / "diffusion"
    save_model(task.config, nnx.to_pure_dict(nnx.state(model, nnx.Param)), model_dir, {"note": "test"})
    out = tmp_path / "samples"
    assert main(["sample", "proteins", "--num", "2", "--length", "12", "--batch", "4", "--out", str(out),
                 "--checkpoint", str(model_dir)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["sample_0000.pdb", "sample_0001.pdb", "summary.json"]
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["lengths"] == [12, 12] and "ca_ca_valid_fraction" in summary["metrics"]
    for argv in (["--num", "2", "--out", str(tmp_path / "a")],                       # no length
                 ["--num", "0", "--length", "12", "--out", str(tmp_path / "b")],     # nothing to sample
                 ["--num", "2", "--length", "5000", "--out", str(tmp_path / "c")],   # too long
                 ["--num", "2", "--length", "12", "--out", str(out)]):               # exists
        assert main(["sample", "proteins", *argv, "--checkpoint", str(model_dir)]) == 2
    assert not any((tmp_path / n).exists() for n in "abc")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_a_trained_model_continues_from_its_export(tiny_autoencoder, tmp_path):
    """``genmol train protein_diffusion`` runs, exports, and a second run starts from that export with
    ``--init-from`` (its latent statistics and autoencoder config are derived again, not compared)."""
    from genmol.cli import main
    from genmol.train.checkpoint import Checkpointer

    args = ["train", "protein_diffusion", "--config", str(ROOT / "configs/ophiuchus/latent_diffusion_test.py"),
            "--set", f"data.autoencoder={tiny_autoencoder}", "--set", "train.steps=2", "--no-progress"]
    assert main([*args, "--workdir", str(tmp_path / "a")]) == 0
    assert main(["export", str(tmp_path / "a"), "--out", str(tmp_path / "m")]) == 0
    assert main([*args, "--workdir", str(tmp_path / "b"), "--init-from", str(tmp_path / "m")]) == 0
    assert Checkpointer.latest_in(tmp_path / "b") == 2
    first, _, _ = load_model(tmp_path / "m", expect="protein_diffusion")
    assert first.config.feature_scale and first.config.residues_per_node == 4


def test_export_swaps_in_a_decoder_fine_tuned_with_the_encoder_frozen(tiny_autoencoder, tmp_path):
    """``genmol export RUN --decoder AE``: a decoder-only change is taken over; an autoencoder whose encoder differs
    is refused (exit 2, nothing written)."""
    from genmol.cli import main
    from genmol.models.ophiuchus.autoencoder import ENCODER_PARTS
    from genmol.models.store import flatten_params

    ae, ae_cfg, _ = load_model(tiny_autoencoder, expect="ophiuchus")
    pure = nnx.to_pure_dict(nnx.state(ae, nnx.Param))  # top-level keys: the model's parts

    def variant(name: str, parts) -> Path:
        changed = {k: (jax.tree.map(lambda v: v + 0.5, sub) if k in parts else sub) for k, sub in pure.items()}
        path = tmp_path / name
        save_model(ae_cfg, changed, path, {"note": name})
        return path

    new_decoder = variant("decoder", {"head", "from_latent"})
    new_encoder = variant("encoder", set(ENCODER_PARTS))
    run = tmp_path / "run"
    assert main(["train", "protein_diffusion", "--config", str(ROOT / "configs/ophiuchus/latent_diffusion_test.py"),
                 "--set", f"data.autoencoder={tiny_autoencoder}", "--set", "train.steps=1", "--no-progress",
                 "--workdir", str(run)]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "m"), "--decoder", str(new_decoder)]) == 0
    model, _, meta = load_model(tmp_path / "m", expect="protein_diffusion")
    assert meta["decoder"] == str(new_decoder)
    got = flatten_params(nnx.to_pure_dict(nnx.state(model.autoencoder, nnx.Param)))
    want = flatten_params(nnx.to_pure_dict(nnx.state(load_model(new_decoder)[0], nnx.Param)))
    assert all(np.array_equal(got[k], want[k]) for k in want)
    assert main(["export", str(run), "--out", str(tmp_path / "bad"), "--decoder", str(new_encoder)]) == 2
    assert not (tmp_path / "bad").exists()
