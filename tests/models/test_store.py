"""Model directories (save/load round trip, bad directories) and the family registry."""

import json

import jax
import numpy as np
import pytest
from flax import nnx

from genmol.config import load_config
from genmol.errors import GenmolError
from genmol.models.store import FAMILIES, build_model, family, load_model, model_class, save_model, task_class
from genmol.pretrained import PRETRAINED
from tests.helpers import ROOT


@pytest.fixture()
def saved(tmp_path):
    cfg = load_config(ROOT / "configs" / "property" / "test.py")
    model = build_model(cfg, seed=3)
    params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    save_model(cfg, params, tmp_path / "m", {"step": 4, "note": "x"})
    return tmp_path / "m", params


def test_round_trip_gives_the_saved_weights_and_metadata(saved):
    path, params = saved
    model, cfg, meta = load_model(path, expect="property")
    got = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    assert jax.tree.structure(got) == jax.tree.structure(params)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert cfg.model_name == "property" and meta["step"] == 4 and meta["model_name"] == "property"
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "metadata.json", "params.npz"]


def test_bad_model_directories_are_one_clear_error(saved, tmp_path):
    path, _ = saved
    with pytest.raises(GenmolError, match="holds a 'property' model, not a 'symphony' model"):
        load_model(path, expect="symphony")
    with pytest.raises(GenmolError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(GenmolError, match="it is a file"):
        load_model(tmp_path / "file")
    (path / "metadata.json").write_text("{not json")
    with pytest.raises(GenmolError, match="metadata.json is not valid JSON"):
        load_model(path)
    (path / "metadata.json").write_text("{}")
    (path / "params.npz").write_bytes(b"garbage")
    with pytest.raises(GenmolError, match="params.npz cannot be read"):
        load_model(path)
    cfg = json.loads((path / "config.json").read_text())
    cfg["model_name"] = "nosuchmodel"
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenmolError, match="names no known model family"):
        load_model(path)


def test_weights_of_another_architecture_are_refused(saved):
    path, _ = saved
    cfg = json.loads((path / "config.json").read_text())
    cfg["model"]["encoder"]["channels"] *= 2
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenmolError, match="has shape"):
        load_model(path)


def test_registry_resolves_every_family():
    for name, fam in FAMILIES.items():
        assert task_class(name).__name__.endswith("Task") and model_class(name) is not None
        assert fam.pretrained is None or fam.pretrained in PRETRAINED
        if fam.settings is not None:
            assert fam.settings_class().from_record({}) is not None
    names = "denoiser, jump, ophiuchus, property, protein_diffusion, symphony"
    with pytest.raises(GenmolError, match=f"unknown model 'nope'; choose one of {names}"):
        family("nope")
