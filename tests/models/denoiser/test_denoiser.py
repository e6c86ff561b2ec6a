"""Point-cloud denoiser: ``genmol train denoiser`` with configs/denoiser/test.py trains and exports through the CLI,
and the model is E(3)-equivariant (rotations, reflections, translations per molecule) and permutation-equivariant."""

import dataclasses
import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genmol.config import load_config, read_config_json
from genmol.data.graph import Graph
from genmol.models.denoiser import PointCloudDenoiser
from genmol.models.store import load_model
from genmol.train.export import load_run_model
from genmol.train.metrics_writer import read_jsonl
from tests.helpers import ROOT, padded_batch, random_orthogonal

TEST_CONFIG = ROOT / "configs" / "denoiser" / "test.py"


def genmol(*args):
    return subprocess.run([sys.executable, "-m", "genmol.cli", *args], capture_output=True, text=True, cwd=ROOT)


def _complete_graph(seed: int, n: int, sigma: float, num_species: int = 5) -> Graph:
    """A random cloud of ``n`` atoms (about molecule-sized) on the complete graph, as the denoiser task builds it."""
    rng = np.random.default_rng(seed)
    ii, jj = np.nonzero(~np.eye(n, dtype=bool))
    return Graph((rng.normal(size=(n, 3)) * 1.3).astype(np.float32), rng.integers(0, num_species, n).astype(np.int32),
                 jj.astype(np.int32), ii.astype(np.int32), graph_features={"sigma": np.float32(sigma)})


@nnx.jit
def _denoise(model, batch):
    return model(batch, batch.graph_features["sigma"])


@pytest.fixture(scope="module")
def model():
    return PointCloudDenoiser(load_config(TEST_CONFIG).model, rngs=nnx.Rngs(3))


@pytest.fixture(scope="module")
def graphs():
    return [_complete_graph(0, 10, 0.4), _complete_graph(1, 7, 0.9)]


def test_cli_trains_and_exports(tmp_path):
    work, out = tmp_path / "run", tmp_path / "model"
    run = genmol("train", "denoiser", "--config", str(TEST_CONFIG), "--workdir", str(work), "--no-progress",
                 "--set", "train.steps=4", "--set", "train.checkpoint_every=2", "--set", "train.batch_size=4")
    assert run.returncode == 0, run.stderr
    assert "trained to step 4" in run.stderr
    rows = [r for r in read_jsonl(work / "metrics.jsonl") if "train/loss" in r]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(np.isfinite(r["train/loss"]) and np.isfinite(r["train/mse"]) for r in rows)
    exp = genmol("export", str(work), "--out", str(out))
    assert exp.returncode == 0, exp.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["model_name"] == "denoiser" and meta["step"] == 4

    # the exported model is the run's last checkpoint, and it denoises
    exported, cfg, _ = load_model(out, expect="denoiser")
    from_run = load_run_model(read_config_json(work / "config.json"), work)
    batch = padded_batch([_complete_graph(5, 10, 0.5)])
    got = np.asarray(_denoise(exported, batch))
    np.testing.assert_array_equal(got, np.asarray(_denoise(from_run, batch)))
    assert got.shape == (batch.positions.shape[0], 3) and np.all(np.isfinite(got))
    assert np.all(got[~np.asarray(batch.node_mask)] == 0)  # padding atoms stay at the origin
    fresh = load_run_model(cfg, work)  # (the config stored in the model directory rebuilds the same model)
    np.testing.assert_array_equal(np.asarray(_denoise(fresh, batch)), got)


@pytest.mark.parametrize("reflect", [False, True])
def test_rotation_and_translation_equivariance(model, graphs, reflect):
    """D(Q y + t_g) = Q D(y) + t_g for Q in O(3) (the output is a 1o vector per atom) and a shift per molecule."""
    batch = padded_batch(graphs)
    out = np.asarray(_denoise(model, batch))
    q = random_orthogonal(11, reflect)
    shifts = np.array([[3.0, -7.0, 11.0], [-5.0, 2.0, 0.5], [0.0, 0.0, 0.0]], np.float32)  # last: the padding graph
    t = shifts[np.asarray(batch.node_graph)] * np.asarray(batch.node_mask)[:, None]
    moved = dataclasses.replace(batch, positions=jnp.asarray(np.asarray(batch.positions) @ q.T.astype(np.float32) + t))
    out_moved = np.asarray(_denoise(model, moved))
    scale = float(np.abs(out).max())
    assert scale > 0.1
    # the network part matters: the output is not just the rescaled input c_skip(σ) y
    assert np.abs(out - np.asarray(_skip_only(model, batch))).max() > 1e-3
    np.testing.assert_allclose(out_moved, out @ q.T + t, rtol=0, atol=1e-5 * max(1.0, scale))


@nnx.jit
def _skip_only(model, batch):
    from genmol.models.denoiser import edm_coefficients

    sigma = batch.graph_features["sigma"][batch.node_graph]
    _, c_skip, _, _ = edm_coefficients(sigma, model.sigma_data)
    w = batch.node_mask.astype(jnp.float32)
    count = jax.ops.segment_sum(w, batch.node_graph, batch.graph_mask.shape[0])
    centre = jax.ops.segment_sum(batch.positions * w[:, None], batch.node_graph, batch.graph_mask.shape[0])
    centre = (centre / jnp.maximum(count, 1)[:, None])[batch.node_graph]
    return (c_skip[:, None] * (batch.positions - centre) + centre) * w[:, None]


def _permuted(g: Graph, perm: np.ndarray) -> Graph:
    """``g`` with atom ``i`` of the result being atom ``perm[i]`` of ``g``."""
    inv = np.argsort(perm)
    return Graph(g.positions[perm], g.species[perm], inv[g.senders].astype(np.int32),
                 inv[g.receivers].astype(np.int32), graph_features=dict(g.graph_features))


def test_permutation_equivariance(model, graphs):
    perms = [np.random.default_rng(i).permutation(g.num_nodes) for i, g in enumerate(graphs)]
    out = np.asarray(_denoise(model, padded_batch(graphs)))
    out_p = np.asarray(_denoise(model, padded_batch([_permuted(g, p) for g, p in zip(graphs, perms)])))
    n0 = graphs[0].num_nodes
    expected = np.concatenate([out[:n0][perms[0]], out[n0:n0 + graphs[1].num_nodes][perms[1]]])
    np.testing.assert_allclose(out_p[:len(expected)], expected, rtol=0, atol=1e-5)
