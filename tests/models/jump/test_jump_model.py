"""The jump simulator's networks: symmetries, conditioning, padding, and that one jump keeps the frame whole."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genmol.config import load_config
from genmol.data.proteins import residues as rc
from genmol.io.structures import read_structure
from genmol.models.jump.model import JumpModel, noise_frame
from helpers import ROOT, random_orthogonal


def _model(path: str, **overrides) -> JumpModel:
    c = load_config(ROOT / "configs/jump/test.py")
    c.model.path = path
    c.model.k = 4  # fewer neighbours than residues: the kNN graph is a real choice
    c.model.update(overrides)
    return JumpModel(c.model, rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def chain():
    """Trp-cage (1L2Y, 20 residues) as a batch of one, and a perturbed copy as the moving frame."""
    p = read_structure(ROOT / "tests/fixtures/proteins/1l2y.pdb")
    mask = p.atom_mask[None]
    g = np.random.default_rng(0)
    src = np.where(mask[..., None], p.positions[None], 0).astype(np.float32)
    xt = np.where(mask[..., None], src + g.normal(size=src.shape) * 0.7, 0).astype(np.float32)
    return dict(aatype=p.aatype[None].astype(np.int32), source=src, x_t=xt, atom_mask=mask,
                residue_mask=mask[..., rc.CA_SLOT], temperature=np.float32([300.0]), delta=np.float32([10.0]),
                t=np.float32([0.4]))


_call = nnx.jit(lambda m, a, s, x, am, rm, temp, d, t: m(a, s, x, am, rm, temp, d, t))
_jump = nnx.jit(lambda m, k, a, s, am, rm, temp, d, churn=0.0: m.jump(k, a, s, am, rm, temp, d, churn=churn),
                static_argnames="churn")


def _run(model, c, source=None, x_t=None, temperature=None, delta=None):
    return _call(model, c["aatype"], c["source"] if source is None else source, c["x_t"] if x_t is None else x_t,
                 c["atom_mask"], c["residue_mask"], c["temperature"] if temperature is None else temperature,
                 c["delta"] if delta is None else delta, c["t"])


@pytest.mark.parametrize("reflect", [False, True])
def test_prediction_is_o3_and_translation_equivariant(chain, reflect):
    model = _model("stochastic")
    q = random_orthogonal(3, reflect).astype(np.float32)
    shift = np.float32([3.0, -7.0, 11.0])
    m = chain["atom_mask"][..., None]
    x1, z = _run(model, chain)
    x1r, zr = _run(model, chain, source=np.where(m, chain["source"] @ q.T, 0), x_t=np.where(m, chain["x_t"] @ q.T, 0))
    np.testing.assert_allclose(x1r, np.where(m, np.asarray(x1) @ q.T, 0), atol=2e-4)
    np.testing.assert_allclose(zr, np.where(m, np.asarray(z) @ q.T, 0), atol=2e-4)
    x1s, zs = _run(model, chain, source=np.where(m, chain["source"] + shift, 0),
                   x_t=np.where(m, chain["x_t"] + shift, 0))
    np.testing.assert_allclose(x1s, np.where(m, np.asarray(x1) + shift, 0), atol=2e-4)
    np.testing.assert_allclose(zs, z, atol=2e-4)
    assert np.all(np.asarray(x1)[~chain["atom_mask"]] == 0)


def test_padding_residues_and_batch_neighbours_change_nothing(chain):
    model = _model("flow")
    x1, _ = _run(model, chain)
    pad = lambda x, n=5: np.concatenate([x, np.zeros((1, n) + x.shape[2:], x.dtype)], 1)  # noqa: E731
    padded = {k: (pad(v) if k in ("aatype", "source", "x_t", "atom_mask", "residue_mask") else v)
              for k, v in chain.items()}
    x1p, _ = _run(model, padded)
    np.testing.assert_allclose(np.asarray(x1p)[:, :20], x1, atol=2e-5)
    assert np.all(np.asarray(x1p)[:, 20:] == 0)
    # A second example in the batch (another conformation) leaves the first one's prediction alone.
    two = {k: np.concatenate([v, v * 1.1 if k in ("source", "x_t") else v], 0) for k, v in chain.items()}
    x12, _ = _run(model, two)
    np.testing.assert_allclose(np.asarray(x12)[:1], x1, atol=2e-5)


def test_temperature_and_jump_size_condition_the_prediction(chain):
    model = _model("flow")
    x1, _ = _run(model, chain)
    hot, _ = _run(model, chain, temperature=np.float32([400.0]))
    long, _ = _run(model, chain, delta=np.float32([100.0]))
    assert np.abs(np.asarray(hot) - x1).max() > 1e-3
    assert np.abs(np.asarray(long) - x1).max() > 1e-3


def test_noise_frame_is_orthogonal_and_turns_with_the_input(chain):
    f = np.asarray(noise_frame(jnp.asarray(chain["source"]), jnp.asarray(chain["atom_mask"])))[0]
    np.testing.assert_allclose(f.T @ f, np.eye(3), atol=1e-5)
    for reflect in (False, True):
        q = random_orthogonal(5, reflect).astype(np.float32)
        fr = np.asarray(noise_frame(jnp.asarray(chain["source"] @ q.T), jnp.asarray(chain["atom_mask"])))[0]
        np.testing.assert_allclose(fr, q @ f, atol=1e-4)


@pytest.mark.parametrize("path, churn", [("flow", 0.0), ("flow", 2.0), ("stochastic", 0.0)])
def test_a_jump_turns_with_its_input_for_a_fixed_key_and_keeps_the_frame_whole(chain, path, churn):
    model = _model(path)
    key = jax.random.key(7)
    m = chain["atom_mask"]
    args = (chain["aatype"], chain["source"], m, chain["residue_mask"], chain["temperature"], chain["delta"])
    y = np.asarray(_jump(model, key, *args, churn=churn))
    assert np.isfinite(y).all() and np.all(y[~m] == 0)
    np.testing.assert_allclose(y[m].mean(0), chain["source"][m].mean(0), atol=1e-3)  # centroid kept
    q = random_orthogonal(11, True).astype(np.float32)
    yr = np.asarray(_jump(model, key, chain["aatype"], np.where(m[..., None], chain["source"] @ q.T, 0), m,
                          chain["residue_mask"], chain["temperature"], chain["delta"], churn=churn))
    np.testing.assert_allclose(yr, np.where(m[..., None], y @ q.T, 0), atol=2e-3, rtol=1e-4)
    # Same key, same output; another key, another sample; the churned SDE is another sampler than the ODE.
    np.testing.assert_array_equal(np.asarray(_jump(model, key, *args, churn=churn)), y)
    assert np.abs(np.asarray(_jump(model, jax.random.key(8), *args, churn=churn)) - y).max() > 1e-3
    if churn:
        assert np.abs(np.asarray(_jump(model, key, *args)) - y).max() > 1e-3
