"""Symphony model and losses: equivariance, normalisation, KL properties."""

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmol.data.graph import Budget, pad_graphs
from genmol.models.symphony.loss import (focus_species_kl, position_kl, position_kl_from_coefficients, radial_support,
                                         target_position_log_density)
from genmol.models.symphony.model import SymphonyModel, combine_channels, grid_log_weights
from tests.helpers import random_molecule_graph, random_orthogonal, tiny_symphony_config


def _model():
    c = tiny_symphony_config()
    return SymphonyModel(c, rngs=nnx.Rngs(0))


def _batch(positions=None):
    g = random_molecule_graph(0, n=7)
    if positions is not None:
        g.positions = positions.astype(np.float32)
    return jax.tree.map(jnp.asarray, pad_graphs([g], Budget(8, 60, 2))), g


def test_focus_probabilities_invariant_and_position_density_equivariant():
    model = _model()
    b, g = _batch()
    q = random_orthogonal(4, False)
    br, _ = _batch(g.positions @ q.T)
    np.testing.assert_allclose(model.focus_logits(br)[:7], model.focus_logits(b)[:7], atol=1e-5)
    focus, species = jnp.array([2, 0]), jnp.array([1, 0])
    c = model.position_coefficients(b, focus, species)
    cr = model.position_coefficients(br, focus, species)
    v = jnp.asarray(np.random.default_rng(0).normal(size=(20, 3)), jnp.float32)
    v = v / jnp.linalg.norm(v, axis=-1, keepdims=True)

    def logp(coeffs, pts):  # log-density of graph 0 at directions pts, all radial bins
        vals = jax.vmap(lambda p: e3nn.to_s2point(coeffs[0], e3nn.IrrepsArray("1o", p)).array)(pts)  # [P, C, R, 1]
        return jax.nn.logsumexp(vals, axis=1)

    np.testing.assert_allclose(logp(cr, v @ jnp.asarray(q.T, jnp.float32)), logp(c, v), atol=1e-4)
    # grid level: the rotated model density is not the unrotated one (the check is not vacuous)
    assert float(jnp.abs(logp(c, v @ jnp.asarray(q.T, jnp.float32)) - logp(c, v)).max()) > 1e-3


def test_position_kl_zero_at_target_and_positive_elsewhere():
    lw = grid_log_weights(30, 59)
    radii = jnp.linspace(0.9, 2.0, 32)
    t = jnp.array([[1.0, 0.5, -0.3], [0.2, -1.1, 0.4]])
    lq = target_position_log_density(t, radii, lw, radial_var=1e-3, beta=10.0, lmax=4)
    np.testing.assert_allclose(jnp.sum(jnp.exp(lq + lw), axis=(1, 2, 3)), 1.0, atol=1e-4)
    kw = dict(radial_var=1e-3, beta=10.0, lmax=4)
    np.testing.assert_allclose(position_kl(lq, t, radii, lw, **kw), 0.0, atol=1e-4)
    assert np.all(np.asarray(position_kl(lq[::-1], t, radii, lw, **kw)) > 1.0)


def test_radial_support_keeps_every_bin_that_carries_target_weight():
    """The bins left out of the KL's cross term weigh below e^-40 of the largest, for targets anywhere (between
    bins, on one, beyond either end); Symphony's settings keep 4 of 64 bins, a wide target keeps more."""
    assert radial_support(64, 1.1 / 63, 1e-5) == 4 and radial_support(64, 1.1 / 63, 1e-3) == 33
    assert radial_support(3, 0.5, 1.0) == 3 and radial_support(1, 0.1, 1e-5) == 1
    for num, lo, hi, var in ((64, 0.9, 2.0, 1e-5), (64, 0.9, 2.03, 1e-5), (32, 0.9, 2.0, 1e-3), (16, 1.0, 1.5, 4e-4)):
        radii = np.linspace(lo, hi, num)
        k = radial_support(num, (hi - lo) / (num - 1), var)
        r = np.linspace(0.0, hi + 1.0, 4001)
        log_w = -((radii[None] - r[:, None]) ** 2) / (2 * var)
        ranked = np.sort(log_w, axis=1)[:, ::-1]
        if k < num:
            assert np.all(ranked[:, k] - ranked[:, 0] <= -40.0 + 1e-6), (num, var)


def test_position_kl_from_coefficients_equals_the_kl_of_the_full_log_density():
    """Same values and gradients as :func:`position_kl` on the channels' combined grid (random coefficients,
    targets between bins, on a bin and beyond the last one)."""
    model = _model()
    g, c, r = 4, model.num_channels, model.num_radii
    coeffs = jax.random.normal(jax.random.key(0), (g, c, r, model.s2_irreps.dim))
    step = float(model.radii[1] - model.radii[0])
    u = jax.random.normal(jax.random.key(1), (g, 3))
    lengths = jnp.array([float(model.radii[3]) + 0.5 * step, float(model.radii[5]), float(model.radii[-1]) + 0.3, 1.2])
    t = lengths[:, None] * u / jnp.linalg.norm(u, axis=-1, keepdims=True)
    lw = grid_log_weights(model.res_beta, model.res_alpha)
    kw = dict(radial_var=1e-5, beta=20.0, lmax=model.lmax)
    k = radial_support(r, step, 1e-5)
    assert k < r

    def full(x):
        return position_kl(combine_channels(model.position_channel_grid(x), axis=1), t, model.radii, lw, **kw)

    def fast(x):
        return position_kl_from_coefficients(x, model.position_channel_grid, t, model.radii, lw, near_radii=k, **kw)

    np.testing.assert_allclose(fast(coeffs), full(coeffs), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.grad(lambda x: fast(x).sum())(coeffs), jax.grad(lambda x: full(x).sum())(coeffs),
                               rtol=1e-4, atol=1e-6)
    # too few bins for a target between two of them: the check is not vacuous
    half = position_kl_from_coefficients(coeffs, model.position_channel_grid, t, model.radii, lw, near_radii=1, **kw)
    assert float(jnp.abs(half - full(coeffs))[0]) > 1e-3


def test_focus_kl():
    node_graph = jnp.array([0, 0, 1])
    mask = jnp.array([True, True, True])
    q = jnp.array([[0, 1.0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    perfect = jnp.array([[-40, 40.0, -40, -40, -40], [-40.0] * 5, [-40.0] * 5])
    np.testing.assert_allclose(focus_species_kl(perfect, q, jnp.array([False, True]), node_graph, mask, 2), 0.0,
                               atol=1e-5)
    flat = jnp.zeros((3, 5))
    kl = focus_species_kl(flat, q, jnp.array([False, True]), node_graph, mask, 2)
    np.testing.assert_allclose(kl, [np.log(11.0), np.log(6.0)], rtol=1e-5)  # uniform over 10+1 and 5+1 choices


def test_position_logits_on_a_grid_of_even_longitudes_match_the_odd_grids_density():
    """The grid's longitudes are summed by a matmul, not an FFT: an even count works, and a point both grids
    share (the north pole row's first longitude) has the same log-density."""
    model = _model()
    b, _ = _batch()
    focus, species = jnp.array([2, 0]), jnp.array([1, 0])
    even = model.position_logits(b, focus, species, 10, 20)
    odd = model.position_logits(b, focus, species, 10, 21)
    assert even.shape[-1] == 20 and bool(jnp.all(jnp.isfinite(even)))
    np.testing.assert_allclose(even[..., 0], odd[..., 0], atol=1e-4)
