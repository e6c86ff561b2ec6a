"""Encoders: O(3) equivariance, translation invariance, permutation equivariance, padding."""

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genmol.data.graph import Budget, pad_graphs
from genmol.nn import create_encoder, encoder_config
from tests.helpers import random_molecule_graph, random_orthogonal

CASES = [("e3schnet", 2), ("nequip", 2), ("e3schnet", 5), ("nequip", 5), ("nequip+rms", 3), ("nequip+so2", 3),
         ("e3schnet+so2", 2), ("nequip+so2m1", 4), ("e3schnet+res", 2), ("nequip+so2cw", 5), ("e3schnet+so2cw", 2)]
SUFFIXES = {"+rms": dict(norm="rms"), "+so2": dict(conv="so2"), "+so2m1": dict(conv="so2", mmax=1),
            "+so2cw": dict(conv="so2", so2_mix=False),
            "+res": dict(embedding_residual=True)}


def _encoder(name, lmax, **kw):
    for suffix, extra in SUFFIXES.items():
        if name.endswith(suffix):
            name, kw = name.removesuffix(suffix), dict(kw, **extra)
    cfg = encoder_config(name, channels=8, lmax=lmax, num_interactions=2, **kw)
    return create_encoder(cfg, rngs=nnx.Rngs(1))


@nnx.jit
def _apply(enc, *args):
    return enc(*args)


def _run(enc, g, positions=None, species=None):
    pos = jnp.asarray(g.positions if positions is None else positions, jnp.float32)
    sp = jnp.asarray(g.species if species is None else species)
    return _apply(enc, pos, sp, jnp.asarray(g.senders), jnp.asarray(g.receivers), jnp.ones(g.num_nodes, bool),
                  jnp.ones(g.num_edges, bool))


@pytest.mark.parametrize("name,lmax", CASES)
@pytest.mark.parametrize("reflect", [False, True])
def test_o3_equivariance(name, lmax, reflect):
    enc = _encoder(name, lmax)
    g = random_molecule_graph(0)
    q = random_orthogonal(3, reflect)
    out = _run(enc, g)
    out_rot = _run(enc, g, positions=g.positions @ q.T)
    expected = out.array @ out.irreps.D_from_matrix(jnp.asarray(q, jnp.float32)).T
    scale = float(jnp.abs(out.array).max())
    assert scale > 1e-3  # outputs are not trivially zero
    assert float(jnp.abs(out_rot.array - expected).max()) <= 1e-5 * max(1.0, scale)
    if reflect:  # odd irreps really flip sign: parity is carried by the irreps
        odd = out.filter(keep=["1o"]).array
        assert float(jnp.abs(odd).max()) > 1e-4


@pytest.mark.parametrize("name,lmax", CASES[:2] + CASES[4:6])
def test_translation_invariance(name, lmax):
    enc = _encoder(name, lmax)
    g = random_molecule_graph(1)
    out = _run(enc, g)
    out_t = _run(enc, g, positions=g.positions + np.array([3.0, -7.0, 11.0], np.float32))
    np.testing.assert_allclose(out_t.array, out.array, atol=2e-5)


@pytest.mark.parametrize("name,lmax", CASES[:2] + CASES[4:6] + CASES[8:])
def test_permutation_equivariance(name, lmax):
    enc = _encoder(name, lmax)
    g = random_molecule_graph(2)
    perm = np.random.default_rng(0).permutation(g.num_nodes)
    inv = np.argsort(perm)
    out = _run(enc, g)
    gp = random_molecule_graph(2)
    gp.positions, gp.species = g.positions[perm], g.species[perm]
    gp.senders, gp.receivers = inv[g.senders].astype(np.int32), inv[g.receivers].astype(np.int32)
    out_p = _run(enc, gp)
    np.testing.assert_allclose(out_p.array, out.array[perm], atol=1e-5)


@pytest.mark.parametrize("name,lmax", CASES[:2] + CASES[4:6] + CASES[8:])
def test_padding_changes_nothing(name, lmax):
    enc = _encoder(name, lmax)
    graphs = [random_molecule_graph(s, n=n) for s, n in [(3, 9), (4, 14)]]
    single = [_run(enc, g).array for g in graphs]
    for budget in [Budget(24, 300, 3), Budget(64, 600, 8)]:
        b = pad_graphs(graphs, budget)
        out = _apply(enc, jnp.asarray(b.positions), jnp.asarray(b.species), jnp.asarray(b.senders),
                  jnp.asarray(b.receivers), jnp.asarray(b.node_mask), jnp.asarray(b.edge_mask)).array
        np.testing.assert_allclose(out[:9], single[0], atol=1e-5)
        np.testing.assert_allclose(out[9:23], single[1], atol=1e-5)
        assert np.all(np.asarray(out[23:]) == 0)


def test_parameters_do_not_depend_on_size():
    enc = _encoder("nequip", 2)
    n_params = sum(x.size for x in jax_leaves(nnx.state(enc, nnx.Param)))
    small, large = random_molecule_graph(0, n=5), random_molecule_graph(0, n=40)
    assert _run(enc, small).shape[0] == 5 and _run(enc, large).shape[0] == 40
    assert sum(x.size for x in jax_leaves(nnx.state(enc, nnx.Param))) == n_params


def jax_leaves(tree):
    import jax

    return jax.tree.leaves(tree)


def test_irreps_input_features():
    """Protein-style input: an IrrepsArray of scalars and vectors instead of species."""
    cfg = encoder_config("nequip", channels=8, lmax=2, num_interactions=1, irreps_in="3x0e + 2x1o")
    enc = create_encoder(cfg, rngs=nnx.Rngs(0))
    g = random_molecule_graph(5, n=7)
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(7, 9)).astype(np.float32)
    q = random_orthogonal(1, False)
    x = e3nn.IrrepsArray("3x0e + 2x1o", jnp.asarray(feats))
    out = _apply(enc, jnp.asarray(g.positions), x, jnp.asarray(g.senders),
                 jnp.asarray(g.receivers), jnp.ones(7, bool), jnp.ones(g.num_edges, bool))
    xr = x.transform_by_matrix(jnp.asarray(q, jnp.float32))
    out_r = _apply(enc, jnp.asarray(g.positions @ q.T), xr, jnp.asarray(g.senders), jnp.asarray(g.receivers),
                jnp.ones(7, bool), jnp.ones(g.num_edges, bool))
    np.testing.assert_allclose(out_r.array, out.transform_by_matrix(jnp.asarray(q, jnp.float32)).array, atol=1e-5)


def test_unknown_encoder_name():
    with pytest.raises(ValueError, match="unknown encoder 'schnett'"):
        encoder_config("schnett")
    cfg = encoder_config("e3schnet")
    cfg.name = "painn"
    with pytest.raises(ValueError, match="unknown encoder 'painn'"):
        create_encoder(cfg, rngs=nnx.Rngs(0))


def test_rms_norm_normalises_each_degree():
    from genmol.nn.norm import EquivariantRMSNorm

    irreps = e3nn.Irreps("4x0e + 4x1o + 4x2e")
    x = e3nn.normal(irreps, jax.random.key(0), (3,)) * 7.0
    y = EquivariantRMSNorm(irreps)(x)
    for chunk in y.chunks:
        np.testing.assert_allclose(np.mean(np.asarray(chunk) ** 2, axis=(-2, -1)), 1.0, rtol=1e-4)
    with pytest.raises(Exception, match="unknown norm"):
        _encoder("nequip", 2, norm="layer")


@pytest.mark.parametrize("name,lmax", [("e3schnet", 2), ("nequip+rms", 3), ("nequip+so2", 3), ("e3schnet+so2", 2),
                                       ("nequip+so2cw", 3)])
def test_features_at_chosen_nodes_equal_the_full_encoders_rows(name, lmax):
    """``at=nodes``: the last layer runs only over the edges into ``nodes`` (bounded by ``max_edges_at``), and
    the rows equal the full encoder's, repeated and padding nodes included."""
    enc = _encoder(name, lmax)
    g = pad_graphs([random_molecule_graph(2), random_molecule_graph(3)], Budget(60, 400, 3))
    args = [jnp.asarray(x) for x in (g.positions, g.species, g.senders, g.receivers, g.node_mask, g.edge_mask)]
    full = _apply(enc, *args)
    nodes = jnp.asarray([0, 5, 5, int(g.n_node[0]) + 1, 59])  # a repeat and the padding node
    degree = int(np.max(np.bincount(np.asarray(g.receivers)[np.asarray(g.edge_mask)])))
    at = nnx.jit(lambda enc, *a: enc(*a, at=nodes, max_edges_at=len(nodes) * degree))(enc, *args)
    np.testing.assert_allclose(np.asarray(at.array), np.asarray(full.array[nodes]), atol=1e-5, rtol=1e-5)
    assert float(jnp.abs(at.array[:4]).max()) > 1e-3 and float(jnp.abs(at.array[4]).max()) == 0.0


@pytest.mark.parametrize("residual", [False, True])
def test_an_isolated_nodes_features_know_its_species_only_with_the_embedding_residual(residual):
    """E3SchNet's first interaction maps the scalar embedding to more irreps, so it is not residual; with no
    neighbours its output is then the same for every species (the one-atom seed of a sampled molecule: the
    focus head cannot tell an H seed from a C seed). ``embedding_residual`` adds the embedding back, as the
    original Symphony's E3SchNet does."""
    enc = create_encoder(encoder_config("e3schnet", channels=8, lmax=2, num_interactions=2,
                                        embedding_residual=residual), rngs=nnx.Rngs(1))
    pos = jnp.zeros((5, 3))
    out = _apply(enc, pos, jnp.arange(5), jnp.zeros(1, jnp.int32), jnp.zeros(1, jnp.int32), jnp.ones(5, bool),
                 jnp.zeros(1, bool)).array  # five isolated atoms of five species
    spread = float(jnp.abs(out - out[:1]).max())
    assert (spread > 1e-3) if residual else (spread < 1e-6), spread


def test_embedding_residual_needs_the_input_irreps_in_the_output():
    from genmol.errors import ConfigError
    from genmol.nn.interaction import Interaction

    with pytest.raises(ConfigError, match="residual='pad'"):
        Interaction("8x0e + 8x1o", "4x0e + 8x1o", sh_lmax=1, num_basis=4, radial_hidden=[8], filter="channel",
                    self_connection=False, act=jax.nn.silu, avg_num_neighbors=1.0, rngs=nnx.Rngs(0), residual="pad")
