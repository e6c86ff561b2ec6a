"""Sequence convolutions and the self-interaction: O(3) equivariance, translation, the length rule, window coverage,
and that masked or padding nodes cannot change the real nodes' outputs."""

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genmol.errors import ConfigError
from genmol.nn.self_interaction import SelfInteraction
from genmol.nn.sequence import (MixingBlock, SequenceConv, TransposeSequenceConv, check_window, coarse_length,
                                coarse_mask, window_index)
from tests.helpers import random_module, random_orthogonal

# Tiny irreps, but with every parity case: odd scalars, polar and axial vectors, an even l = 2.
IRREPS = e3nn.Irreps("4x0e + 1x0o + 2x1o + 1x1e + 1x2e")
IRREPS_OUT = e3nn.Irreps("3x0e + 2x1o + 1x1e + 1x2e")
SQUARE = "2x0e + 2x1o + 1x2e"
SPAN = 3.8 * 3
WINDOWS = [(1, 1), (3, 1), (5, 1), (2, 2), (4, 2), (6, 2), (3, 3), (5, 3), (4, 4)]


LENGTH = 12  # every test runs on one shape (compiled once per model), plus the padded shape


def _chain(seed: int, length: int = LENGTH):
    """Random features and a random-walk chain (3.8 Å steps) far from the origin, for three chains of ``length``,
    ``length - 1`` and ``length - 2`` real nodes (divisible by 2 and 3 or not), the first with a missing node."""
    rng = np.random.default_rng(seed)
    batch = 3
    x = rng.normal(size=(batch, length, IRREPS.dim)).astype(np.float32)
    step = rng.normal(size=(batch, length, 3))
    pos = np.cumsum(3.8 * step / np.linalg.norm(step, axis=-1, keepdims=True), axis=1)
    pos = pos + rng.normal(size=(batch, 1, 3)) * 5
    mask = np.arange(length)[None, :] < np.array([length, length - 1, length - 2])[:, None]
    mask[0, length // 2] = False  # a missing residue inside the chain
    return e3nn.IrrepsArray(IRREPS, jnp.asarray(x)), jnp.asarray(pos, jnp.float32), jnp.asarray(mask)


def _rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-6))


def _garbage(x: e3nn.IrrepsArray, pos, mask, seed: int, extra: int):
    """Appends ``extra`` padding nodes and overwrites every masked node with large random features/positions."""
    rng = np.random.default_rng(seed)
    b, length = mask.shape
    xa = np.concatenate([np.asarray(x.array), np.zeros((b, extra, x.irreps.dim), np.float32)], axis=1)
    pa = np.concatenate([np.asarray(pos), np.zeros((b, extra, 3), np.float32)], axis=1)
    ma = np.concatenate([np.asarray(mask), np.zeros((b, extra), bool)], axis=1)
    xa = np.where(ma[..., None], xa, rng.normal(size=xa.shape) * 30).astype(np.float32)
    pa = np.where(ma[..., None], pa, rng.normal(size=pa.shape) * 100).astype(np.float32)
    return e3nn.IrrepsArray(x.irreps, jnp.asarray(xa)), jnp.asarray(pa), jnp.asarray(ma)


@pytest.fixture(scope="module")
def models():
    """The blocks with generic parameters (all drawn from N(0, 1), see ``random_module``): the coarse positions'
    member weights then depend on the features, which the equivariance tests need to exercise."""
    builders = dict(
        si=lambda: SelfInteraction(IRREPS, SQUARE, rngs=nnx.Rngs(0)),
        conv1=lambda: SequenceConv(IRREPS, IRREPS_OUT, kernel=3, stride=1, span=SPAN, rngs=nnx.Rngs(0)),
        conv2=lambda: SequenceConv(IRREPS, IRREPS_OUT, kernel=4, stride=2, span=SPAN, rngs=nnx.Rngs(0)),
        conv3=lambda: SequenceConv(IRREPS, IRREPS_OUT, kernel=5, stride=3, span=SPAN, norm=False, rngs=nnx.Rngs(0)),
        up2=lambda: TransposeSequenceConv(IRREPS, IRREPS_OUT, kernel=4, stride=2, span=3.8, rngs=nnx.Rngs(0)),
        up3=lambda: TransposeSequenceConv(IRREPS, IRREPS_OUT, kernel=5, stride=3, span=3.8, norm=False,
                                          rngs=nnx.Rngs(0)),
        mix=lambda: MixingBlock(IRREPS, square=SQUARE, kernel=5, span=SPAN, rngs=nnx.Rngs(0)),
    )
    return {name: random_module(build, seed) for seed, (name, build) in enumerate(builders.items())}


UP = {"up2": (4, 2), "up3": (5, 3)}


@pytest.fixture(scope="module")
def apply(models):
    """Jitted calls, compiled once per model and shape: ``apply[name](*inputs)`` with :func:`_inputs`."""
    fns = {"si": lambda x, pos, mask: models["si"](x)}
    for name in ("conv1", "conv2", "conv3", "mix", "up2", "up3"):
        fns[name] = (lambda n: lambda *a: models[n](*a))(name)
    return {name: jax.jit(fn) for name, fn in fns.items()}


def _coarse(x, pos, mask, kernel, stride, garbage_seed=None):
    """Coarse inputs of a transposed convolution made from a chain: every ``stride``-th node, the coarse mask, and
    garbage (large random values) in the coarse nodes that do not exist."""
    cm = coarse_mask(mask, kernel, stride)
    xc, pc = np.asarray(x.array)[:, ::stride], np.asarray(pos)[:, ::stride]
    if garbage_seed is not None:
        rng = np.random.default_rng(garbage_seed)
        keep = np.asarray(cm)[..., None]
        xc = np.where(keep, xc, rng.normal(size=xc.shape) * 30).astype(np.float32)
        pc = np.where(keep, pc, rng.normal(size=pc.shape) * 100).astype(np.float32)
    return e3nn.IrrepsArray(x.irreps, jnp.asarray(xc)), jnp.asarray(pc), cm


def _run(apply, name, x, pos, mask, garbage_seed=None):
    """``name`` on a chain as ``(features, positions or None, mask)``; the mask is the output nodes that exist."""
    if name in UP:
        xc, pc, cm = _coarse(x, pos, mask, *UP[name], garbage_seed=garbage_seed)
        y, p = apply[name](xc, pc, cm, mask)
        return y, p, mask
    out = apply[name](x, pos, mask)
    if isinstance(out, e3nn.IrrepsArray):
        return out, None, mask
    return out


ALL = ["si", "conv1", "conv2", "conv3", "up2", "up3", "mix"]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("reflect", [False, True])
def test_equivariance(apply, name, reflect):
    x, pos, mask = _chain(1)
    r = random_orthogonal(2 if reflect else 3, reflect).astype(np.float32)
    y, p, m = _run(apply, name, x, pos, mask)
    ry, rp, rm = _run(apply, name, x.transform_by_matrix(r), pos @ r.T, mask)
    assert _rel_err(ry.array, y.transform_by_matrix(r).array) < 2e-5
    assert np.abs(np.asarray(y.array)).max() > 1e-2  # not trivially zero
    if p is not None:
        assert _rel_err(rp, np.asarray(p) @ r.T) < 2e-5
    np.testing.assert_array_equal(np.asarray(m), np.asarray(rm))


@pytest.mark.parametrize("name", ALL)
def test_translation(apply, name):
    """Features are translation-invariant, positions translation-equivariant (on the nodes that exist)."""
    x, pos, mask = _chain(4)
    t = jnp.asarray([12.0, -7.0, 30.0])
    y, p, m = _run(apply, name, x, pos, mask)
    ty, tp, _ = _run(apply, name, x, pos + t, mask)
    assert _rel_err(ty.array, y.array) < 2e-5
    if p is not None:
        real = np.asarray(m)
        np.testing.assert_allclose(np.asarray(tp)[real], (np.asarray(p) + np.asarray(t))[real], rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", ALL)
def test_padding_and_masked_nodes_do_not_leak(apply, name):
    """Padding appended after the chains, and masked nodes inside them, with garbage features and positions: the real
    nodes' outputs are unchanged, as many output nodes exist as without padding, and padding outputs are zero.
    (Chain lengths divisible by the strides matter: a window that starts in the padding can reach back into the
    chain.)"""
    extra = 6
    x, pos, mask = _chain(5)
    y, p, m = _run(apply, name, x, pos, mask)
    gx, gp, gm = _garbage(x, pos, mask, seed=6, extra=extra)
    if name in UP:  # garbage goes into the coarse nodes that do not exist (see _coarse), not into the subsample
        gx, gp, _ = _garbage(x, pos, np.ones_like(mask), seed=6, extra=extra)
    gy, gpos, gmask = _run(apply, name, gx, gp, gm, garbage_seed=7)
    n = y.shape[1]  # output nodes of the unpadded chain
    real, greal = np.asarray(m), np.asarray(gmask)
    np.testing.assert_array_equal(greal[:, :n], real)
    assert not greal[:, n:].any()
    np.testing.assert_allclose(np.asarray(gy.array)[:, :n][real], np.asarray(y.array)[real], rtol=1e-5, atol=1e-5)
    if p is not None:
        np.testing.assert_allclose(np.asarray(gpos)[:, :n][real], np.asarray(p)[real], rtol=1e-5, atol=1e-4)
    if name != "si":
        np.testing.assert_array_equal(np.asarray(gy.array)[~greal], 0.0)


@pytest.mark.parametrize("kernel,stride", WINDOWS)
def test_windows_cover_every_node(kernel, stride):
    pad = (kernel - stride) // 2
    for length in range(1, 30):
        idx, inside = window_index(length, kernel, stride)
        assert idx.shape == inside.shape == (coarse_length(length, stride), kernel)
        assert idx.min() >= 0 and idx.max() < length
        assert set(idx[inside].tolist()) == set(range(length))
        # window j stands for nodes j·s … j·s + s − 1, in the middle of its slots
        for j in range(idx.shape[0]):
            block = np.arange(j * stride, min((j + 1) * stride, length))
            np.testing.assert_array_equal(idx[j, pad:pad + block.size], block)
            assert inside[j, pad:pad + block.size].all()


@pytest.mark.parametrize("kernel,stride", WINDOWS)
def test_coarse_mask_follows_the_length_rule(kernel, stride):
    """``L`` real nodes, wherever the padding ends, give ``ceil(L / s)`` real coarse nodes; a coarse node exists iff
    one of the nodes it stands for does."""
    total = 24
    lengths = np.arange(total + 1)
    mask = lengths[:, None] > np.arange(total)[None, :]  # [25, 24]: chain L padded to 24
    cm = np.asarray(coarse_mask(jnp.asarray(mask), kernel, stride))
    assert cm.shape == (total + 1, coarse_length(total, stride))
    np.testing.assert_array_equal(cm.sum(-1), [coarse_length(n, stride) for n in lengths])
    holes = np.random.default_rng(7).random((50, total)) < 0.5
    cm = np.asarray(coarse_mask(jnp.asarray(holes), kernel, stride))
    padded = np.concatenate([holes, np.zeros((50, -total % stride), bool)], 1)
    np.testing.assert_array_equal(cm, padded.reshape(50, -1, stride).any(-1))


def test_length_rule_of_the_convolutions(models):
    """``SequenceConv``: ``L -> ceil(L / s)`` nodes for every ``L``; ``TransposeSequenceConv`` returns exactly ``L``
    (shapes only, traced without compiling); a coarse chain of the wrong length is refused."""
    for down, up in (("conv1", None), ("conv2", "up2"), ("conv3", "up3")):
        conv = models[down]
        for length in (1, 2, 3, 5, 6, 7, 17):
            x = e3nn.IrrepsArray(IRREPS, jnp.zeros((1, length, IRREPS.dim)))
            pos, mask = jnp.zeros((1, length, 3)), jnp.ones((1, length), bool)
            y, p, m = jax.eval_shape(conv, x, pos, mask)
            coarse = coarse_length(length, conv.stride)
            assert y.shape == (1, coarse, IRREPS_OUT.dim) and p.shape == (1, coarse, 3) and m.shape == (1, coarse)
            if up is None:
                continue
            yc = e3nn.IrrepsArray(IRREPS, jnp.zeros((1, coarse, IRREPS.dim)))
            pc, cm = jnp.zeros((1, coarse, 3)), jnp.ones((1, coarse), bool)
            fx, fp = jax.eval_shape(models[up], yc, pc, cm, mask)
            assert fx.shape == (1, length, IRREPS_OUT.dim) and fp.shape == (1, length, 3)
            longer = coarse * conv.stride + 1  # needs one more coarse node
            with pytest.raises(ValueError, match="coarse nodes cannot make"):
                jax.eval_shape(models[up], yc, pc, cm, jnp.ones((1, longer), bool))


def test_transposed_conv_places_every_real_node(apply):
    """Every real fine node has a parent that exists, so it gets a position (and nothing else does)."""
    x, pos, mask = _chain(8)
    for name in UP:
        _, p, _ = _run(apply, name, x, pos, mask)
        np.testing.assert_array_equal(np.linalg.norm(np.asarray(p), axis=-1) > 0, np.asarray(mask))


def test_coarse_position_is_a_weighted_mean_of_members(apply):
    """Identical member positions give that position back (weights sum to 1); in general it lies in the hull."""
    x, pos, mask = _chain(9)
    same = jnp.broadcast_to(jnp.asarray([3.0, -2.0, 7.0]), pos.shape)
    _, p, m = apply["conv2"](x, same, mask)
    np.testing.assert_allclose(np.asarray(p)[np.asarray(m)], np.broadcast_to([3.0, -2.0, 7.0], p.shape)[np.asarray(m)],
                               atol=1e-5)


@pytest.mark.parametrize("kernel,stride", [(3, 2), (2, 1), (1, 2), (4, 0), (0, 0), (5, 2)])
def test_bad_windows_raise_config_error(kernel, stride):
    with pytest.raises(ConfigError, match="kernel >= stride >= 1"):
        check_window(kernel, stride)
    with pytest.raises(ConfigError):
        window_index(10, kernel, stride)
    with pytest.raises(ConfigError):
        SequenceConv("1x0e", "1x0e", kernel=kernel, stride=stride, span=1.0, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError):
        TransposeSequenceConv("1x0e", "1x0e", kernel=kernel, stride=stride, span=1.0, rngs=nnx.Rngs(0))
    if stride == 1:
        with pytest.raises(ConfigError):
            MixingBlock("1x0e", square="1x0e", kernel=kernel, span=1.0, rngs=nnx.Rngs(0))
