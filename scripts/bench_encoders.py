"""Encoder speed on this machine at QM9 size.

For each encoder (e3schnet, nequip) and lmax (2, 5): forward and forward+backward
milliseconds per batch of 32 real QM9 molecules (5 Å radius graph), and edges/s; plus one
interaction layer of ours against a plain e3nn-jax reference layer (linen ``e3nn.flax``
modules, ``e3nn.tensor_product``, ``e3nn.scatter_sum``) of the same irreps, as a ratio
measured in the same run.

Usage: python scripts/bench_encoders.py [--channels 32] [--layers 3] [--reps 10] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import platform

import e3nn_jax as e3nn
import flax.linen as linen
import jax
from benchtools import median_ms
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmol.data.graph import Budget, pad_graphs
from genmol.data.molecules.species import molecule_to_graph
from genmol.data.molecules.qm9 import load_qm9
from genmol.errors import run_script
from genmol.nn import create_encoder, encoder_config, natural_irreps
from genmol.nn.interaction import Interaction
from genmol.nn.message_passing import edge_geometry
from genmol.nn.radial import envelope, radial_basis



class ReferenceLayer(linen.Module):
    """One NequIP-style layer written directly with e3nn-jax's linen modules."""

    irreps_out: e3nn.Irreps
    avg_num_neighbors: float

    @linen.compact
    def __call__(self, x, sh, radial, senders, receivers, edge_mask):
        irreps_out = e3nn.Irreps(self.irreps_out)
        h = e3nn.flax.Linear(x.irreps)(x)[senders]
        m = e3nn.concatenate([h.filter(keep=irreps_out), e3nn.tensor_product(h, sh, filter_ir_out=irreps_out)])
        m = m.regroup()
        w = e3nn.flax.MultiLayerPerceptron([32, m.irreps.num_irreps], act=jax.nn.silu, output_activation=False)(
            radial)
        w = w.array if isinstance(w, e3nn.IrrepsArray) else w
        dims = np.array([ir.dim for mul, ir in m.irreps for _ in range(mul)])
        m = e3nn.IrrepsArray(m.irreps, m.array * jnp.repeat(w, dims, axis=-1, total_repeat_length=m.irreps.dim))
        m = m * edge_mask[:, None]
        agg = e3nn.scatter_sum(m, dst=receivers, output_size=x.shape[0]) / self.avg_num_neighbors**0.5
        nonscalars = irreps_out.filter(drop=["0e", "0o"])
        gate_in = irreps_out.filter(keep=["0e"]) + e3nn.Irreps(f"{nonscalars.num_irreps}x0e") + nonscalars
        y = e3nn.flax.Linear(gate_in)(agg) + e3nn.flax.Linear(gate_in)(x)
        return e3nn.gate(y)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--molecules", type=int, default=32)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--out", default=None)
    args = p.parse_args()

    all_mols = load_qm9("embedded")
    pick = np.random.default_rng(0).choice(len(all_mols), args.molecules, replace=False)
    mols = [all_mols[i] for i in pick]
    graphs = [molecule_to_graph(m, 5.0) for m in mols]
    # A tight budget (one padding node, no spare edges) so the timings measure the encoder, not padding.
    budget = Budget(sum(g.num_nodes for g in graphs) + 1, sum(g.num_edges for g in graphs), args.molecules + 1)
    b = pad_graphs(graphs, budget)
    n_atoms, n_edges = int(b.node_mask.sum()), int(b.edge_mask.sum())
    arrays = [jnp.asarray(x) for x in (b.positions, b.species, b.senders, b.receivers, b.node_mask, b.edge_mask)]
    lines = [
        "# Encoder benchmark\n",
        f"Command: `python scripts/bench_encoders.py --channels {args.channels} --layers {args.layers} "
        f"--molecules {args.molecules} --reps {args.reps}`\n",
        f"Machine: {platform.processor() or platform.machine()}, {jax.device_count()} JAX CPU device(s), "
        f"jax {jax.__version__}, e3nn-jax {e3nn.__version__}. "
        f"Batch: {args.molecules} real QM9 molecules (random, seed 0), "
        f"{n_atoms} atoms ({n_atoms / args.molecules:.1f}/molecule), {n_edges} directed edges within 5 Å; "
        f"padded budget {budget.max_nodes} nodes / {budget.max_edges} edges; float32; median of {args.reps}.\n",
        "| encoder | lmax | params | forward ms | fwd+bwd ms | edges/s (forward) | one layer: ours ms | "
        "one layer: e3nn-jax reference ms | ours / reference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("e3schnet", "nequip"):
        for lmax in (2, 5):
            cfg = encoder_config(name, channels=args.channels, lmax=lmax, num_interactions=args.layers,
                                 avg_num_neighbors=n_edges / n_atoms)
            enc = create_encoder(cfg, rngs=nnx.Rngs(0))
            gd, state = nnx.split(enc)
            n_params = sum(x.size for x in jax.tree.leaves(nnx.state(enc, nnx.Param)))

            @jax.jit
            def fwd(state, *a):
                return nnx.merge(gd, state)(*a).array

            @jax.jit
            def fwd_bwd(state, *a):
                def f(state, pos):
                    return jnp.sum(nnx.merge(gd, state)(pos, *a[1:]).array ** 2)

                return jax.grad(f, argnums=(0, 1))(state, a[0])

            t_f = median_ms(fwd, state, *arrays, reps=args.reps)
            t_fb = median_ms(fwd_bwd, state, *arrays, reps=args.reps)

            # one layer, ours vs reference, on the hidden irreps
            hidden = natural_irreps(args.channels, lmax)
            x = e3nn.normal(hidden, jax.random.key(0), (budget.max_nodes,))
            lengths, sh = edge_geometry(arrays[0], arrays[2], arrays[3], arrays[5], lmax)
            rad = radial_basis(cfg.radial_basis, lengths, 8, 5.0) * envelope(cfg.envelope, lengths, 5.0)[:, None]
            layer = Interaction(hidden, hidden, sh_lmax=lmax, num_basis=8, radial_hidden=[32], filter="path",
                                self_connection=True, act=jax.nn.silu, avg_num_neighbors=n_edges / n_atoms,
                                rngs=nnx.Rngs(0))
            lgd, lstate = nnx.split(layer)
            ours = jax.jit(lambda s, *a: nnx.merge(lgd, s)(*a).array)
            ref = ReferenceLayer(hidden, n_edges / n_atoms)
            rparams = ref.init(jax.random.key(0), x, sh, rad, arrays[2], arrays[3], arrays[5])
            refj = jax.jit(lambda p, *a: ref.apply(p, *a).array)
            layer_args = (x, sh, rad, arrays[2], arrays[3], arrays[5])
            t_ours = median_ms(ours, lstate, *layer_args, reps=args.reps)
            t_ref = median_ms(refj, rparams, *layer_args, reps=args.reps)
            row = (f"| {name} | {lmax} | {n_params:,} | {t_f:.1f} | {t_fb:.1f} | {n_edges / (t_f / 1e3):,.0f} | "
                   f"{t_ours:.1f} | {t_ref:.1f} | {t_ours / t_ref:.2f} |")
            print(row, flush=True)
            lines.append(row)
    lines.append("\nThe layer comparison uses the NequIP-style (per-path) layer for both rows of an lmax; "
                 "the reference is the same algebra written with `e3nn.flax.Linear`, "
                 "`e3nn.flax.MultiLayerPerceptron`, `e3nn.tensor_product` and `e3nn.scatter_sum`.")
    text = "\n".join(lines) + "\n"
    if args.out:
        from genmol.io.atomic import atomic_write_text

        atomic_write_text(args.out, text)
    else:
        print(text)


if __name__ == "__main__":
    run_script(main)
