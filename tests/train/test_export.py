"""Exporting a run: the exported weights are the run's EMA (or raw) weights as orbax stored them."""

import json

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from genmol.config import load_config
from genmol.errors import GenmolError
from genmol.models.property import PropertyTask
from genmol.models.store import flatten_params
from genmol.train.export import export_run
from genmol.train.trainer import train_and_evaluate
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    cfg = load_config(ROOT / "configs" / "property" / "test.py",
                      ["train.steps=6", "train.checkpoint_every=6", "train.ema_decay=0.5", "optim.learning_rate=1e-2"])
    train_and_evaluate(PropertyTask(cfg), cfg, d / "run", progress=False)
    return d / "run"


def _stored(run, key):
    """The parameters under ``key`` of the last checkpoint, read with orbax alone (not with genmol)."""
    raw = ocp.StandardCheckpointer().restore((run / "checkpoints" / "6" / "default").absolute())
    return flatten_params(jax.tree.map(np.asarray, raw[key]))


@pytest.mark.parametrize("ema,key", [(True, "ema"), (False, "params")])
def test_exported_weights_are_the_checkpointed_ones(run, tmp_path, ema, key):
    meta = export_run(run, tmp_path / "m", use_ema=ema)
    assert meta["step"] == 6 and meta["steps_total"] == 6 and meta["ema"] is ema
    with np.load(tmp_path / "m" / "params.npz") as f:
        exported = {k: f[k] for k in f.files}
    expected = _stored(run, key)
    assert sorted(exported) == sorted(expected)
    for k in expected:
        np.testing.assert_array_equal(exported[k], expected[k])
    other = _stored(run, "params" if ema else "ema")  # and they are not the other set
    assert any(not np.array_equal(exported[k], other[k]) for k in expected)
    assert json.loads((tmp_path / "m" / "metadata.json").read_text())["model_name"] == "property"


def test_export_refuses_what_it_cannot_record(run, tmp_path):
    with pytest.raises(GenmolError, match="has no sampling settings"):
        export_run(run, tmp_path / "m", sampling={"focus_temperature": 0.5})
    with pytest.raises(GenmolError, match="holds no checkpoint"):
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "config.json").write_text((run / "config.json").read_text())
        export_run(tmp_path / "empty", tmp_path / "m2")
    assert not (tmp_path / "m").exists() and not (tmp_path / "m2").exists()
    assert not (tmp_path / "empty" / "checkpoints").exists()  # reading a run creates nothing in it
