"""Encoder speed on this machine at QM9 size.

For each encoder (e3schnet, nequip) and lmax (2, 5): forward and forward+backward
milliseconds per batch of 32 real QM9 molecules (5 Å radius graph), and edges/s; plus one
interaction layer of ours against a plain e3nn-jax reference layer (linen ``e3nn.flax``
modules, ``e3nn.tensor_product``, ``e3nn.scatter_sum``) of the same irreps, as a ratio
measured in the same run.

With ``--conv-sweep`` it times instead one NequIP-style interaction layer with the Clebsch–Gordan tensor
product (``cg``) against the same layer with the eSCN SO(2) convolution (``so2``, every order: ``mmax = lmax``;
``so2`` with ``mmax = 2``, eSCN's truncation; and the channel-wise ``so2``, ``so2_mix=False``, every order)
for lmax 1 … 6, forward and forward+backward (gradient of the parameters and the node features), interleaved in
one run, with XLA's FLOPs and bytes accessed per edge
(``compiled.cost_analysis()``), and states where ``so2`` becomes cheaper.

Usage: python scripts/bench_encoders.py [--channels 32] [--layers 3] [--reps 10] [--out FILE.md]
       python scripts/bench_encoders.py --conv-sweep [--channels 32] [--molecules 8] [--lmax 6] [--reps 5]
                                        [--out FILE.md]
"""

from __future__ import annotations

import argparse

import e3nn_jax as e3nn
import flax.linen as linen
import jax
from benchtools import cpu_name, median_ms, xla_cost
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmol.data.graph import Budget, pad_graphs
from genmol.data.molecules.species import molecule_to_graph
from genmol.data.molecules.qm9 import load_qm9
from genmol.errors import run_script
from genmol.nn import create_encoder, encoder_config, natural_irreps
from genmol.nn.interaction import Interaction
from genmol.nn.message_passing import edge_geometry, edge_vectors
from genmol.nn.radial import envelope, radial_basis
from genmol.nn.so2 import edge_rotations



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


def conv_sweep(args, arrays, n_atoms: int, n_edges: int, budget) -> list[str]:
    """Rows of the cg-vs-so2 table (module docstring)."""
    lines = [
        "| lmax | conv | mmax | channel mixing | layer params | forward ms | fwd+bwd ms | forward MFLOP / edge | "
        "fwd+bwd MFLOP / edge | fwd+bwd kB accessed / edge | fwd+bwd ms, so2 / cg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    crossover = None
    for lmax in range(1, args.lmax + 1):
        hidden = natural_irreps(args.channels, lmax)
        x = e3nn.normal(hidden, jax.random.key(0), (budget.max_nodes,))
        vec = edge_vectors(arrays[0], arrays[2], arrays[3], arrays[5])
        lengths, sh = edge_geometry(arrays[0], arrays[2], arrays[3], arrays[5], lmax)
        rad = radial_basis("bessel", lengths, 8, 5.0) * envelope("polynomial", lengths, 5.0)[:, None]
        variants = ([("cg", None, True), ("so2", lmax, True)] + ([("so2", 2, True)] if lmax > 2 else [])
                    + [("so2", lmax, False)])
        results = {}
        for conv, mmax, mix in variants:
            layer = Interaction(hidden, hidden, sh_lmax=lmax, num_basis=8, radial_hidden=[32], filter="path",
                                self_connection=True, act=jax.nn.silu, avg_num_neighbors=n_edges / n_atoms,
                                rngs=nnx.Rngs(0), conv=conv, mmax=mmax, so2_mix=mix)
            gd, state = nnx.split(layer)
            n_params = sum(v.size for v in jax.tree.leaves(nnx.state(layer, nnx.Param)))

            def run(state, xa, pos, gd=gd, conv=conv):  # the rotations are part of the so2 layer's cost
                rot = edge_rotations(vec if pos is None else pos, lmax) if conv == "so2" else None
                return nnx.merge(gd, state)(e3nn.IrrepsArray(hidden, xa), sh, rad, arrays[2], arrays[3],
                                             arrays[5], rot).array

            fwd = jax.jit(lambda s, xa, v: run(s, xa, v))
            fwd_bwd = jax.jit(jax.grad(lambda s, xa, v: jnp.sum(run(s, xa, v) ** 2), argnums=(0, 1)))
            results[(conv, mmax, mix)] = dict(params=n_params, fwd=fwd, fwd_bwd=fwd_bwd, state=state,
                                         cost_f=xla_cost(fwd, state, x.array, vec),
                                         cost_fb=xla_cost(fwd_bwd, state, x.array, vec), t_f=[], t_fb=[])
        for _ in range(args.reps):  # interleaved: every variant sees the same machine state
            for r in results.values():
                r["t_f"].append(median_ms(r["fwd"], r["state"], x.array, vec, reps=1))
                r["t_fb"].append(median_ms(r["fwd_bwd"], r["state"], x.array, vec, reps=1))
        base = float(np.median(results[("cg", None, True)]["t_fb"]))
        for (conv, mmax, mix), r in results.items():
            t_f, t_fb = float(np.median(r["t_f"])), float(np.median(r["t_fb"]))
            if conv == "so2" and mmax == lmax and mix and t_fb < base and crossover is None:
                crossover = lmax
            ratio = "" if conv == "cg" else f"{t_fb / base:.2f}"
            mixing = "" if conv == "cg" else ("per edge (eSCN)" if mix else "channel-wise (NequIP-eSCN)")
            row = (f"| {lmax} | {conv} | {'' if mmax is None else mmax} | {mixing} | {r['params']:,} | {t_f:.1f} | "
                   f"{t_fb:.1f} | "
                   f"{r['cost_f'][0] / n_edges / 1e6:.3f} | {r['cost_fb'][0] / n_edges / 1e6:.3f} | "
                   f"{r['cost_fb'][1] / n_edges / 1e3:.1f} | {ratio} |")
            print(row, flush=True)
            lines.append(row)
    lines.append("")
    lines.append(f"Crossover: the exact so2 layer (mmax = lmax) is first faster than cg (fwd+bwd) at lmax {crossover}."
                 if crossover else "Crossover: the exact so2 layer was not faster than cg at any lmax measured.")
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--molecules", type=int, default=32)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--conv-sweep", action="store_true")
    p.add_argument("--lmax", type=int, default=6, help="highest lmax of --conv-sweep")
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
    machine = (f"Machine: {cpu_name()}, {jax.device_count()} JAX CPU device(s), "
               f"jax {jax.__version__}, e3nn-jax {e3nn.__version__}. "
               f"Batch: {args.molecules} real QM9 molecules (random, seed 0), "
               f"{n_atoms} atoms ({n_atoms / args.molecules:.1f}/molecule), {n_edges} directed edges within 5 Å; "
               f"padded budget {budget.max_nodes} nodes / {budget.max_edges} edges; float32; median of {args.reps}.\n")
    if args.conv_sweep:
        lines = ["# Edge convolutions: Clebsch–Gordan (cg) against SO(2) (so2)\n",
                 f"Command: `python scripts/bench_encoders.py --conv-sweep --channels {args.channels} "
                 f"--molecules {args.molecules} --lmax {args.lmax} --reps {args.reps}`\n",
                 machine,
                 f"One NequIP-style interaction layer, `{args.channels}x(0e+1o+…)` in and out, per-path radial "
                 "weights for cg and per-channel-per-order radial weights for so2, the so2 layer's Wigner "
                 "matrices included in its time. Timings interleaved across variants.\n"]
        lines += conv_sweep(args, arrays, n_atoms, n_edges, budget)
        _write(args.out, "\n".join(lines) + "\n")
        return
    lines = [
        "# Encoder benchmark\n",
        f"Command: `python scripts/bench_encoders.py --channels {args.channels} --layers {args.layers} "
        f"--molecules {args.molecules} --reps {args.reps}`\n",
        machine,
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
    _write(args.out, "\n".join(lines) + "\n")


def _write(out, text: str) -> None:
    if out:
        from genmol.io.atomic import atomic_write_text

        atomic_write_text(out, text)
    else:
        print(text)


if __name__ == "__main__":
    run_script(main)
