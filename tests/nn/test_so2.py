"""SO(2) edge convolution (genmol.nn.so2): exactly O(3)-equivariant at every degree, and with mmax = lmax as
expressive as the Clebsch–Gordan convolution it replaces."""

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from genmol.errors import ConfigError
from genmol.nn.linear import Linear
from genmol.nn.so2 import SO2Convolution, edge_rotations
from tests.helpers import random_orthogonal


def _irreps(mul_natural: int, mul_other: int, lmax: int) -> e3nn.Irreps:
    """``mul_natural x l(natural parity) + mul_other x l(other parity)`` for l = 0 … lmax (0o, 1e, 2o, … included)."""
    parts = []
    for l in range(lmax + 1):
        p = (-1) ** l
        parts += [(mul_natural, (l, p)), (mul_other, (l, -p))]
    return e3nn.Irreps([(m, ir) for m, ir in parts if m]).simplify()


def _inputs(conv: SO2Convolution, edges: int, seed: int):
    g = np.random.default_rng(seed)
    h = e3nn.IrrepsArray(conv.irreps_in, jnp.asarray(g.normal(size=(edges, conv.irreps_in.dim)), jnp.float32))
    v = jnp.asarray(g.normal(size=(edges, 3)) * 2.0, jnp.float32)
    rad = jnp.asarray(g.normal(size=(edges, conv.num_radial)), jnp.float32)
    return h, v, rad


@pytest.mark.parametrize("lmax", [1, 2, 3, 4, 5, 6])
def test_o3_equivariance_at_every_degree(lmax):
    """A random rotation or rotation-reflection of features and edges transforms the messages (f32, 1e-5)."""
    conv = SO2Convolution(_irreps(3, 2, lmax), _irreps(2, 1, lmax), mmax=lmax, rngs=nnx.Rngs(lmax))
    h, v, rad = _inputs(conv, 9, lmax)
    apply = jax.jit(lambda h, v, r: conv(e3nn.IrrepsArray(conv.irreps_in, h), edge_rotations(v, conv.lmax), r).array)
    y = e3nn.IrrepsArray(conv.irreps_out, apply(h.array, v, rad))
    assert float(jnp.abs(y.array).max()) > 0.1
    for reflect in (False, True):
        q = jnp.asarray(random_orthogonal(lmax, reflect=reflect), jnp.float32)
        y2 = apply(h.transform_by_matrix(q).array, v @ q.T, rad)
        np.testing.assert_allclose(y2, y.transform_by_matrix(q).array, atol=1e-5)


def test_truncated_orders_stay_equivariant_and_parity_forbids_paths():
    """mmax < lmax is still exact; 0e -> 0o has no path (zero message); 1o ⊗ 1o -> 1e is a cross product (only B)."""
    conv = SO2Convolution(_irreps(2, 1, 3), _irreps(2, 1, 3), mmax=1, rngs=nnx.Rngs(0))
    h, v, rad = _inputs(conv, 6, 0)
    q = jnp.asarray(random_orthogonal(3, reflect=True), jnp.float32)
    y = conv(h, edge_rotations(v, 3), rad)
    y2 = conv(h.transform_by_matrix(q), edge_rotations(v @ q.T, 3), rad)
    np.testing.assert_allclose(y2.array, y.transform_by_matrix(q).array, atol=1e-5)
    odd = SO2Convolution("4x0e", "3x0o", mmax=0, rngs=nnx.Rngs(0))
    h, v, rad = _inputs(odd, 5, 1)
    np.testing.assert_array_equal(odd(h, edge_rotations(v, 0), rad).array, 0.0)
    cross = SO2Convolution("1x1o", "1x1e", mmax=1, rngs=nnx.Rngs(0))
    sym, anti = cross._path_masks(1)
    assert not sym.any() and anti.all()
    assert not cross._path_masks(0)[0].any()


def _fit(target_fn, conv, h, rots, steps: int = 600) -> float:
    """Relative RMS error of the SO(2) convolution (unit radial weights) fitted to ``target_fn`` by Adam."""
    target = target_fn()
    graphdef, params = nnx.split(conv, nnx.Param)
    ones = jnp.ones((h.shape[0], conv.num_radial))

    def loss(p, x):  # x: the array of h, passed in (a closed-over IrrepsArray would cache traced chunks)
        return jnp.mean((nnx.merge(graphdef, p)(e3nn.IrrepsArray(h.irreps, x), rots, ones).array - target) ** 2)

    tx = optax.adam(3e-2)
    state = tx.init(params)

    @jax.jit
    def step(p, s, x):
        value, g = jax.value_and_grad(loss)(p, x)
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s, value

    for _ in range(steps):
        params, state, _ = step(params, state, h.array)
    return float(jnp.sqrt(loss(params, h.array) / jnp.mean(target**2)))


def test_full_orders_span_the_clebsch_gordan_convolution():
    """A fixed random CG convolution (h ⊗ Y(r̂) over filter degrees 0 … 4, then a linear map per path) is fitted
    exactly by an SO(2) convolution with mmax = lmax, and not by one truncated to mmax = 0."""
    irreps_in, irreps_out = _irreps(2, 1, 2), _irreps(2, 0, 2)
    h_irreps = e3nn.Irreps(irreps_in)
    g = np.random.default_rng(7)
    edges = 64
    h = e3nn.IrrepsArray(h_irreps, jnp.asarray(g.normal(size=(edges, h_irreps.dim)), jnp.float32))
    v = jnp.asarray(g.normal(size=(edges, 3)), jnp.float32)
    sh = e3nn.spherical_harmonics(e3nn.Irreps.spherical_harmonics(4), v, normalize=True, normalization="component")
    tp = e3nn.tensor_product(h, sh, filter_ir_out=e3nn.Irreps(irreps_out))
    lin = Linear(tp.irreps, irreps_out, rngs=nnx.Rngs(3))
    target = lambda: lin(tp).array  # noqa: E731
    rots = edge_rotations(v, 2)
    full = _fit(target, SO2Convolution(irreps_in, irreps_out, mmax=2, rngs=nnx.Rngs(1)), h, rots)
    truncated = _fit(target, SO2Convolution(irreps_in, irreps_out, mmax=0, rngs=nnx.Rngs(1)), h, rots)
    assert full < 1e-2, full
    assert truncated > 0.2, truncated


def test_bfloat16_maps_stay_equivariant_to_bfloat16_precision_and_close_to_float32():
    """``matmul_dtype="bfloat16"`` rounds the per-order maps' operands (~3 significant digits): the message is
    equivariant and equal to the float32 one to that precision, not to 1e-5."""
    lmax = 3
    irreps = _irreps(4, 2, lmax)
    f32 = SO2Convolution(irreps, irreps, mmax=lmax, rngs=nnx.Rngs(0))
    bf16 = SO2Convolution(irreps, irreps, mmax=lmax, rngs=nnx.Rngs(0), matmul_dtype="bfloat16")
    h = e3nn.normal(irreps, jax.random.key(1), (64,))
    v = jax.random.normal(jax.random.key(2), (64, 3))
    radial = jax.random.normal(jax.random.key(3), (64, f32.num_radial))
    q = jnp.asarray(random_orthogonal(4, reflect=True), jnp.float32)
    out = bf16(h, edge_rotations(v, lmax), radial)
    scale = float(jnp.sqrt(jnp.mean(out.array ** 2)))
    rotated = bf16(h.transform_by_matrix(q), edge_rotations(v @ q.T, lmax), radial)
    assert out.dtype == jnp.float32
    err = float(jnp.max(jnp.abs(rotated.array - out.transform_by_matrix(q).array))) / scale
    assert 1e-6 < err < 3e-2  # bfloat16 rounding, visible and small
    ref = f32(h, edge_rotations(v, lmax), radial)
    assert float(jnp.max(jnp.abs(ref.array - out.array))) / scale < 3e-2
    with pytest.raises(ConfigError, match="matmul_dtype"):
        SO2Convolution(irreps, irreps, mmax=lmax, rngs=nnx.Rngs(0), matmul_dtype="float16")


def _uniform(mul: int, lmax: int) -> e3nn.Irreps:
    """``mul x`` every degree ``0 … lmax`` in both parities (what the channel-wise form needs: one multiplicity)."""
    return e3nn.Irreps([(mul, (l, p)) for l in range(lmax + 1) for p in (1, -1)]).simplify()


@pytest.mark.parametrize("lmax", [1, 2, 3, 4, 5, 6])
def test_channelwise_is_o3_equivariant_at_every_degree(lmax):
    """``mix=False``: a random rotation or rotation-reflection of features and edges transforms the messages."""
    conv = SO2Convolution(_uniform(2, lmax), _uniform(2, lmax), mmax=lmax, rngs=nnx.Rngs(0), mix=False)
    h, v, rad = _inputs(conv, 9, lmax)
    apply = jax.jit(lambda h, v, r: conv(e3nn.IrrepsArray(conv.irreps_in, h), edge_rotations(v, conv.lmax), r).array)
    y = e3nn.IrrepsArray(conv.irreps_out, apply(h.array, v, rad))
    assert 0.3 < float(jnp.std(y.array)) < 3.0  # unit-variance coefficients and inputs: order-one messages
    for reflect in (False, True):
        q = jnp.asarray(random_orthogonal(lmax, reflect=reflect), jnp.float32)
        y2 = apply(h.transform_by_matrix(q).array, v @ q.T, rad)
        # 1e-5 of the messages' scale (f32; the reference's own degree-6 Wigner matrices round at ~1e-6)
        np.testing.assert_allclose(y2, y.transform_by_matrix(q).array, atol=1e-5 * float(jnp.abs(y.array).max()))


def test_channelwise_keeps_channels_apart_and_has_no_parameters():
    """Channel c of the message depends on channel c of the input alone; every coefficient comes from ``radial``
    (C per allowed path per order), so the module holds no parameters."""
    irreps = _uniform(3, 2)
    conv = SO2Convolution(irreps, irreps, mmax=2, rngs=nnx.Rngs(0), mix=False)
    assert not jax.tree.leaves(nnx.state(conv, nnx.Param))
    assert conv.num_radial % 3 == 0
    h, v, rad = _inputs(conv, 4, 0)
    rots = edge_rotations(v, 2)
    jac = jax.jacobian(lambda x: conv(e3nn.IrrepsArray(irreps, x), rots, rad).array)(h.array)  # [E, out, E, in]
    chan = lambda ir: np.concatenate([np.repeat(np.arange(mul), i.dim) for mul, i in ir])  # noqa: E731
    jac = np.asarray(jac).transpose(0, 2, 1, 3)  # [E, E, out, in]
    assert np.abs(jac).max() > 0.1
    np.testing.assert_array_equal(jac[:, :, chan(irreps)[:, None] != chan(irreps)[None, :]], 0.0)


def test_channelwise_spans_the_channelwise_clebsch_gordan_convolution():
    """Per edge, the channel-wise form's coefficients can reproduce any channel-wise CG convolution
    ``Σ_path w_path (h ⊗ Y_lf(r̂))`` (every filter degree; NequIP's per-path weights): for fixed edges and many
    inputs, a least-squares fit of the coefficients leaves no residual; with mmax = 0 it does."""
    irreps = _uniform(1, 2)
    g = np.random.default_rng(3)
    edges, samples = 5, 40
    v = jnp.asarray(g.normal(size=(edges, 3)), jnp.float32)
    hs = jnp.asarray(g.normal(size=(samples, edges, irreps.dim)), jnp.float32)
    sh = e3nn.spherical_harmonics(e3nn.Irreps.spherical_harmonics(4), v, normalize=True, normalization="component")

    w = np.random.default_rng(11).normal(size=128)

    def target(h):  # one random weight per CG path (the same for every edge and input), paths summed per output
        tp = e3nn.tensor_product(e3nn.IrrepsArray(irreps, h), sh, filter_ir_out=irreps)
        out, k = {ir: 0.0 for _, ir in irreps}, 0
        for (mul, ir), c in zip(tp.irreps, tp.chunks):  # c [E, paths into ir, 2l+1]
            out[ir] = out[ir] + jnp.einsum("epi,p->ei", c, jnp.asarray(w[k:k + mul], jnp.float32))
            k += mul
        return jnp.concatenate([out[ir] for _, ir in irreps], axis=-1)

    y = jnp.stack([target(h) for h in hs])  # [S, E, out]
    for mmax, fits in ((2, True), (0, False)):
        conv = SO2Convolution(irreps, irreps, mmax=mmax, rngs=nnx.Rngs(0), mix=False)
        rots = edge_rotations(v, 2)
        # the message is linear in the coefficients: per edge, solve [S·out, coefficients] x = y
        design = jax.vmap(lambda h: jax.jacobian(
            lambda r: conv(e3nn.IrrepsArray(irreps, h), rots, r).array)(jnp.zeros((edges, conv.num_radial))))(hs)
        resid = []
        for e in range(edges):
            a = np.asarray(design[:, e, :, e, :]).reshape(-1, conv.num_radial)
            b = np.asarray(y[:, e]).reshape(-1)
            x, *_ = np.linalg.lstsq(a, b, rcond=None)
            resid.append(np.linalg.norm(a @ x - b) / np.linalg.norm(b))
        assert (max(resid) < 1e-4) == fits, (mmax, resid)


def test_channelwise_rejects_mixed_multiplicities_and_bfloat16():
    with pytest.raises(ConfigError, match="one multiplicity"):
        SO2Convolution("2x0e + 1x1o", "2x0e + 2x1o", mmax=1, rngs=nnx.Rngs(0), mix=False)
    with pytest.raises(ConfigError, match="float32"):
        SO2Convolution("2x0e", "2x0e", mmax=0, rngs=nnx.Rngs(0), mix=False, matmul_dtype="bfloat16")


def test_edge_rotations_equal_e3nns_wigner_matrices():
    """The factored construction ``Y(α) J Y(β) Jᵀ`` gives e3nn's ``D_from_angles(α, β, 0)`` at every degree, edges
    along ±ŷ included, and takes ŷ to the edge direction."""
    g = np.random.default_rng(0)
    v = jnp.asarray(g.normal(size=(40, 3)), jnp.float32)
    v = v.at[0].set(jnp.array([0.0, 1.0, 0.0])).at[1].set(jnp.array([0.0, -2.0, 0.0]))
    rots = jax.jit(lambda v: edge_rotations(v, 6))(v)
    alpha, beta = e3nn.xyz_to_angles(v)
    for l in range(7):
        ref = e3nn.Irrep(l, 1).D_from_angles(alpha, beta, jnp.zeros_like(alpha))
        np.testing.assert_allclose(rots[l], ref, atol=1e-5)
    y = jnp.einsum("eij,j->ei", rots[1], jnp.array([0.0, 1.0, 0.0]))  # e3nn-jax's 1o components are (x, y, z)
    np.testing.assert_allclose(y, v / jnp.linalg.norm(v, axis=1, keepdims=True), atol=1e-5)
