"""Warm starts (train.init_from): the exported weights are the starting point; another architecture is
one clear error."""

import json
from pathlib import Path

import numpy as np
import pytest

from genmol.config import load_config
from genmol.errors import GenmolError
from genmol.models.property import PropertyTask
from genmol.train.export import load_run_model
from genmol.train.trainer import train_and_evaluate
from genmol.train.warm_start import init_fresh, prior_steps

TEST_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "property" / "test.py"


def _config(*overrides):
    return load_config(TEST_CONFIG, list(overrides))


def jax_leaves(tree):
    import jax

    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_init_from_exported_model_starts_from_its_weights(tmp_path):
    from flax import nnx

    from genmol.models.store import save_model

    cfg = _config("data.limit=24", "data.num_valid=8", "train.steps=30", "train.batch_size=8",
                  "optim.learning_rate=3e-3", "optim.schedule='constant'", "train.checkpoint_every=1000")
    first = train_and_evaluate(PropertyTask(cfg), cfg, tmp_path / "a", progress=False)
    trained = load_run_model(cfg, tmp_path / "a", use_ema=False)
    save_model(cfg, nnx.to_pure_dict(nnx.state(trained, nnx.Param)), tmp_path / "model")

    warm = _config("data.limit=24", "data.num_valid=8", "train.steps=1", "train.batch_size=8",
                   "optim.learning_rate=0.0", "optim.schedule='constant'", "train.checkpoint_every=1000")
    warm.train.init_from = str(tmp_path / "model")
    cold = _config("data.limit=24", "data.num_valid=8", "train.steps=1", "train.batch_size=8",
                   "optim.learning_rate=0.0", "optim.schedule='constant'", "train.checkpoint_every=1000")
    w = train_and_evaluate(PropertyTask(warm), warm, tmp_path / "b", progress=False)
    c = train_and_evaluate(PropertyTask(cold), cold, tmp_path / "c", progress=False)
    assert any(not np.array_equal(x, y) for x, y in zip(jax_leaves(c.params), jax_leaves(first.params)))
    for x, y in zip(jax_leaves(w.params), jax_leaves(first.params)):
        np.testing.assert_array_equal(x, y)  # learning rate 0: the exported weights, untouched
    assert json.loads((tmp_path / "b" / "config.json").read_text())["train"]["init_from"] == str(tmp_path / "model")


def test_init_from_a_different_architecture_is_a_clear_error(tmp_path):
    from flax import nnx

    from genmol.models.store import save_model

    cfg = _config("train.steps=2", "train.checkpoint_every=1000")
    train_and_evaluate(PropertyTask(cfg), cfg, tmp_path / "a", progress=False)
    model = load_run_model(cfg, tmp_path / "a")
    save_model(cfg, nnx.to_pure_dict(nnx.state(model, nnx.Param)), tmp_path / "model")
    other = _config("train.steps=2", f"model.encoder.channels={cfg.model.encoder.channels * 2}")
    other.train.init_from = str(tmp_path / "model")
    with pytest.raises(GenmolError, match="model.encoder.channels|encoder.channels"):
        train_and_evaluate(PropertyTask(other), other, tmp_path / "b", progress=False)
    other.train.init_from = str(tmp_path / "nowhere")
    with pytest.raises(GenmolError, match="not a genmol model directory"):
        train_and_evaluate(PropertyTask(other), other, tmp_path / "c", progress=False)


def test_init_fresh_and_prior_steps_read_the_config_and_metadata():
    cfg = _config()
    assert init_fresh(cfg) == ()
    cfg.train.init_fresh = " focus_encoder, focus_hidden ,"
    assert init_fresh(cfg) == ("focus_encoder", "focus_hidden")
    assert prior_steps({}) == 0 and prior_steps({"step": 7}) == 7 and prior_steps({"step": 7, "steps_total": 20}) == 20


def test_a_fresh_head_may_change_the_fields_that_configure_only_it(tmp_path):
    """Symphony's position head (``coeffs``) starts fresh with another position lmax; the focus head is loaded as it
    was, and a field of a loaded part still has to match."""
    from flax import nnx

    from genmol.models.store import build_model, flatten_params, save_model
    from genmol.train.warm_start import check_init_from, initial_params

    sym = Path(__file__).resolve().parents[2] / "configs" / "symphony" / "test.py"
    cfg = load_config(sym)
    save_model(cfg, nnx.to_pure_dict(nnx.state(build_model(cfg), nnx.Param)), tmp_path / "model")
    new = load_config(sym, [f"model.position_lmax={cfg.model.position_lmax + 1}",
                            f"loss.target_lmax={cfg.model.position_lmax + 1}"])
    new.train.init_from = str(tmp_path / "model")
    with pytest.raises(GenmolError, match="position_lmax"):
        check_init_from(tmp_path / "model", new)
    new.train.init_fresh = "coeffs"
    like = nnx.to_pure_dict(nnx.state(build_model(new, seed=1), nnx.Param))
    params, _ = initial_params(tmp_path / "model", new, like)
    stored, got, fresh = (flatten_params(t) for t in (
        nnx.to_pure_dict(nnx.state(build_model(cfg), nnx.Param)), params, like))
    for k, v in got.items():
        want = fresh[k] if k.startswith("coeffs") else stored[k]
        np.testing.assert_array_equal(np.asarray(v), np.asarray(want))
    new.model.focus_hidden = cfg.model.focus_hidden * 2  # a loaded part's field
    with pytest.raises(GenmolError, match="focus_hidden"):
        check_init_from(tmp_path / "model", new)
