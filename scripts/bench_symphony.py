"""Symphony speed on this machine: training steps/s and fragments/s, sampling molecules/s.

For each config (default: the shipped CPU config and the paper-size config): the jitted
training step the trainer runs (forward + backward + optimizer + EMA) on real QM9 fragment
batches, the host-side fragment batching alone, and sampling ``--num`` molecules (one count per
config). Sampling cost depends on how many atoms each molecule grows to, so the first config
samples from ``--checkpoint`` (default: the shipped model, with its recorded temperatures; the
same molecules as ``genmol sample molecules --num N --seed 0``, saved with ``--save-samples``);
the others from freshly initialised weights (the mean size is reported next to the speed).

With ``--priors-cost N`` it only times sampling ``N`` molecules from the shipped (or
``--checkpoint``) model with its recorded settings, once with each sampler prior
(``min_distance``, ``even_electrons``, ``valence_guard``) switched off and once as recorded, in
one run, and reports the ratio.

With ``--shard-vmap-cost`` it only times the training step of each config with the loss called
on the single shard directly (what the trainer does on one device) and ``vmap``ped over a size-1
shard axis (what it did before), interleaved in one run, and reports the ratio.

With ``--packing-cost`` it only times the training step of each config with ``data.packing`` fixed
and dynamic, interleaved in one run, and reports fragments per step, padding and fragments/s.

With ``--sampling-cost ATOMS`` it only times sampling molecules grown to exactly ATOMS atoms
(``min_atoms``) with freshly initialised weights: the first molecule from a cold start, the
compiled rate, the compilation, and XLA's cost analysis (FLOPs, bytes) of one growth step.

With ``--grid-cost`` it only times the S² grid and position KL (forward + backward) with the
longitude sum by FFT and by a matmul over the orders, and as the training loss computes it from the
coefficients, interleaved in one run.

Usage: python scripts/bench_symphony.py [--configs a.py b.py] [--steps 20] [--num 1000 50]
                                        [--checkpoint DIR] [--save-samples FILE] [--out FILE.md]
       python scripts/bench_symphony.py --priors-cost 300 [--checkpoint DIR] [--out FILE.md]
       python scripts/bench_symphony.py --shard-vmap-cost [--configs a.py] [--steps 10] [--out FILE.md]
       python scripts/bench_symphony.py --packing-cost [--configs a.py] [--steps 10] [--out FILE.md]
       python scripts/bench_symphony.py --grid-cost [--configs a.py] [--steps 10] [--out FILE.md]
       python scripts/bench_symphony.py --sampling-cost 25 [--configs a.py] [--num 40] [--sample-batch 10]
"""

from __future__ import annotations

import argparse
import sys
import time

import jax
import numpy as np
from flax import nnx

from genmol.config import load_config
from genmol.data.graph import stack_batches
from genmol.errors import run_script
from genmol.models.symphony.task import SymphonyTask
from genmol.models.symphony.generate import generate_molecules
from genmol.models.symphony.settings import SamplingSettings
from genmol.train.optim import create_optimizer
from genmol.train.trainer import make_steps
from benchtools import cpu_name, xla_cost


def bench_training(config, steps: int) -> dict:
    task = SymphonyTask(config)
    model = task.create_model(nnx.Rngs(0))
    graphdef, template, rest = nnx.split(model, nnx.Param, ...)
    params = nnx.to_pure_dict(template)
    tx = create_optimizer(config.optim, 1000)
    state = dict(params=params, opt_state=tx.init(params), step=np.int32(0), ema=params)
    train_step, _ = make_steps(task, graphdef, template, rest, tx, 0.999)
    train_step = jax.jit(train_step)
    t = time.perf_counter()
    batches = [stack_batches([task.train_batch(s, range(int(config.train.batch_size)))]) for s in range(steps + 1)]
    data_s = (time.perf_counter() - t) / (steps + 1)
    t = time.perf_counter()
    state, m = train_step(state, batches[0], jax.random.key(0))
    jax.block_until_ready(m)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    for s in range(1, steps + 1):
        state, m = train_step(state, batches[s], jax.random.key(s))
    jax.block_until_ready(m)
    step_s = (time.perf_counter() - t) / steps
    n_params = sum(x.size for x in jax.tree.leaves(params))
    fill = packing_fill(batches)
    return dict(task=task, model=model, params=n_params, batch=fill["fragments"], compile_s=compile_s,
                step_s=step_s, data_s=data_s, edge_padding=fill["edge_padding"])


def _step_setup(config, steps: int):
    """``(task, state, make(**kw) -> unjitted train step, host batches of steps 0 … steps − 1)``, no EMA."""
    task = SymphonyTask(config)
    model = task.create_model(nnx.Rngs(0))
    graphdef, template, rest = nnx.split(model, nnx.Param, ...)
    params = nnx.to_pure_dict(template)
    tx = create_optimizer(config.optim, 1000)
    state = dict(params=params, opt_state=tx.init(params), step=np.int32(0))

    def make(**kw):
        return make_steps(task, graphdef, template, rest, tx, 0.0, **kw)[0]

    batches = [stack_batches([task.train_batch(s, range(int(config.train.batch_size)))]) for s in range(steps)]
    return task, state, make, batches


def packing_fill(batches) -> dict:
    """Mean real fragments per step, edge slots per step, and the fraction of node / edge / graph slots that
    are padding, over ``batches``."""
    def frac(name):
        return float(np.mean([1.0 - np.asarray(getattr(b, name)).mean() for b in batches]))

    return dict(fragments=float(np.mean([np.asarray(b.graph_mask).sum() for b in batches])),
                edge_slots=int(np.asarray(batches[0].edge_mask).size), node_padding=frac("node_mask"),
                edge_padding=frac("edge_mask"), graph_padding=frac("graph_mask"))


def bench_packing(config, steps: int, path: str) -> list[str]:
    """Table rows: the training step with ``data.packing`` fixed and dynamic, interleaved (median ms), with the
    fragments per step and the padding fractions of each."""
    import statistics

    runs = {}
    for packing in ("fixed", "dynamic"):
        c = config.copy_and_resolve_references()
        c.data.packing = packing
        task, state, make, batches = _step_setup(c, steps)
        fn = jax.jit(make())
        jax.block_until_ready(fn(state, batches[0], jax.random.key(0)))  # compile
        flops, nbytes = xla_cost(fn, state, batches[0], jax.random.key(0))
        runs[packing] = (fn, state, batches, [], (flops / 1e9, nbytes / 1e9))
    for s in range(steps):
        for fn, state, batches, times, _ in runs.values():
            t = time.perf_counter()
            jax.block_until_ready(fn(state, batches[s], jax.random.key(s)))
            times.append(time.perf_counter() - t)
    rows, rate = [], {}
    for packing, (_, _, batches, times, (gflop, gb)) in runs.items():
        f = packing_fill(batches)
        ms = 1e3 * statistics.median(times)
        rate[packing] = f["fragments"] / ms * 1e3
        rows.append(f"| {path} | {packing} | {f['fragments']:.1f} | {f['edge_slots']} | {100 * f['edge_padding']:.0f} "
                    f"| {100 * f['node_padding']:.0f} | {100 * f['graph_padding']:.0f} | {gflop:.1f} | {gb:.1f} | "
                    f"{ms:.0f} | {rate[packing]:.1f} |")
        print(rows[-1], flush=True)
    rows.append(f"| {path} | dynamic / fixed fragments/s | | | | | | | | | **{rate['dynamic'] / rate['fixed']:.2f}** |")
    return rows


def bench_shard_vmap(config, steps: int, path: str) -> str:
    """A table row: median train step (ms) with the single shard squeezed and with a size-1 vmap, interleaved."""
    import statistics

    task, state, make, batches = _step_setup(config, steps)
    fns = {name: jax.jit(make(squeeze_single_shard=sq)) for name, sq in (("squeezed", True), ("vmap", False))}
    times = {name: [] for name in fns}
    for name, fn in fns.items():
        jax.block_until_ready(fn(state, batches[0], jax.random.key(0)))  # compile
    for s in range(steps):
        for name, fn in fns.items():
            t = time.perf_counter()
            jax.block_until_ready(fn(state, batches[s], jax.random.key(s)))
            times[name].append(time.perf_counter() - t)
    ms = {name: 1e3 * statistics.median(v) for name, v in times.items()}
    return (f"| {path} | {int(config.train.batch_size)} | {ms['squeezed']:.0f} | {ms['vmap']:.0f} | "
            f"{ms['vmap'] / ms['squeezed']:.2f} |")


def bench_grid(config, steps: int, path: str) -> str:
    """A table row: the S² grid and position KL (forward + backward) of a batch's graph slots, interleaved,
    medians: the full log-density ``[G, R, B, A]`` with the longitude sum by FFT and by a matmul over the orders
    (``e3nn.to_s2grid(fft=...)``) and :func:`position_kl`, and the training loss's
    :func:`position_kl_from_coefficients` (matmul; ``log Z`` over the channels' grids, the cross term at the
    radial bins that carry the target's weight)."""
    import statistics

    import e3nn_jax as e3nn
    import jax.numpy as jnp

    from genmol.models.symphony.loss import position_kl, position_kl_from_coefficients
    from genmol.models.symphony.model import combine_channels

    m, lc = config.model, config.loss
    task = SymphonyTask(config)
    model = task.create_model(nnx.Rngs(0))
    g = task.budget(int(config.train.batch_size)).max_graphs
    c = jax.random.normal(jax.random.key(0), (g, model.num_channels, model.num_radii, model.s2_irreps.dim))
    t = jax.random.normal(jax.random.key(1), (g, 3))
    t = 1.4 * t / jnp.linalg.norm(t, axis=-1, keepdims=True)
    kw = dict(radial_var=float(lc.radial_var), beta=float(lc.beta), lmax=int(lc.target_lmax))

    def full(c, fft):
        sig = e3nn.to_s2grid(e3nn.IrrepsArray(model.s2_irreps, c), model.res_beta, model.res_alpha,
                             quadrature="gausslegendre", p_val=1, p_arg=-1, fft=fft)
        return position_kl(combine_channels(sig.grid_values, axis=1), t, model.radii, task.log_w, **kw).sum()

    def near(c):
        return position_kl_from_coefficients(c, model.position_channel_grid, t, model.radii, task.log_w,
                                             near_radii=task.near_radii, **kw).sum()

    fns = {"fft": jax.jit(jax.grad(lambda c: full(c, True))), "matmul": jax.jit(jax.grad(lambda c: full(c, False))),
           "near": jax.jit(jax.grad(near))}
    times = {name: [] for name in fns}
    for fn in fns.values():
        jax.block_until_ready(fn(c))
    for _ in range(steps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn(c))
            times[name].append(time.perf_counter() - t0)
    ms = {name: 1e3 * statistics.median(v) for name, v in times.items()}
    return (f"| {path} | {g} | {m.res_beta} × {m.res_alpha} | {m.position_lmax} | {ms['fft']:.0f} | "
            f"{ms['matmul']:.0f} | {ms['near']:.0f} ({task.near_radii} of {model.num_radii}) | "
            f"{ms['fft'] / ms['matmul']:.2f} | {ms['matmul'] / ms['near']:.2f} |")


def bench_sampling(config, path: str, num: int, batch: int, atoms: int) -> str:
    """A table row: growing molecules of ``atoms`` atoms (``min_atoms``; random weights would stop anywhere) from
    one H atom with freshly initialised weights: the first molecule from a cold start (``batch`` 1, compilation
    included), then ``num`` molecules ``batch`` at a time with the sampler compiled (molecules/s) and its
    compilation (the first two batches, which compile the full budget and then the segments, minus two compiled
    batches)."""
    from genmol.models.symphony.model import SymphonyModel
    from genmol.models.symphony.sampler import SamplerConfig, make_sampler

    t_build = time.perf_counter()
    model = SymphonyModel(config.model, rngs=nnx.Rngs(0))
    build_s = time.perf_counter() - t_build
    settings = SamplingSettings(min_atoms=atoms)

    def run(size, seed, sampler):
        keys = jax.random.split(jax.random.key(seed), size)
        t = time.perf_counter()
        _, _, n, _ = sampler(keys, np.zeros((size, atoms, 3), np.float32), np.zeros((size, atoms), np.int32), 1)
        return time.perf_counter() - t, np.asarray(n)

    cold_first, _ = run(1, 0, make_sampler(model, SamplerConfig(max_atoms=atoms, settings=settings)))
    sampler = make_sampler(model, SamplerConfig(max_atoms=atoms, settings=settings))
    # a sampler's first call compiles the full slot budget, its second the segments' budgets (genmol sampler)
    first_batch = run(batch, 1, sampler)[0] + run(batch, 1, sampler)[0]
    times, sizes = [], []
    for i in range(max(1, num // batch)):
        dt, n = run(batch, 2 + i, sampler)
        times.append(dt)
        sizes += list(n)
    rate = batch * len(times) / sum(times)
    compile_s = first_batch - 2 * sum(times) / len(times)
    sds = jax.ShapeDtypeStruct  # one growth step of ``batch`` molecules at the full ``atoms``-slot budget
    flops, nbytes = xla_cost(sampler.step_function(atoms), jax.random.split(jax.random.key(0), batch),
                             sds((batch, atoms + 1, 3), np.float32), sds((batch, atoms + 1), np.int32),
                             sds((batch,), np.int32), sds((batch,), bool))
    gflop, gbytes = flops / 1e9, nbytes / 1e9
    return (f"| {path} | {atoms} | {np.mean(sizes):.1f} | {batch} | {batch * len(times)} | {rate:.2f} | "
            f"{compile_s:.0f} | {build_s:.1f} | {cold_first:.1f} | {gflop / batch:.2f} | {gbytes / batch:.2f} |")


def load_trained(checkpoint):
    """``(model, config, recorded sampling settings)`` of ``checkpoint`` (default: the shipped model)."""
    from genmol.pretrained import pretrained_path
    from genmol.models.store import load_model

    model, cfg, meta = load_model(checkpoint or pretrained_path("symphony_qm9"))
    return model, cfg, SamplingSettings.from_record(meta.get("sampling", {}))


def bench_priors(checkpoint, num: int, batch: int) -> list[str]:
    """Rows of a table: molecules/s without and with the recorded sampler priors (same seeds)."""
    model, cfg, recorded = load_trained(checkpoint)
    rows, speed = [], {}
    for name, flags in [("without priors", dict(min_distance=0.0, even_electrons=False, valence_guard=False)),
                        ("with the recorded priors", {})]:
        settings = recorded.override(**flags)
        mols, stats = generate_molecules(model, num, settings=settings, seed=0, batch=batch, progress=False)
        speed[name] = stats["molecules_per_s"]
        mean_atoms = float(np.mean([m.num_atoms for m in mols]))
        rows.append(f"| {name} | {settings.min_distance:g} | {settings.even_electrons} | "
                    f"{settings.valence_guard} | {num} | {stats['seconds']:.0f} | {stats['molecules_per_s']:.2f} | "
                    f"{mean_atoms:.1f} |")
        print(rows[-1], flush=True)
    ratio = speed["without priors"] / speed["with the recorded priors"]
    return (["| sampling | min distance (Å) | even electrons | valence guard | molecules | seconds (incl. compile) "
             "| molecules/s | mean atoms |", "|---|---|---|---|---|---|---|---|"] + rows
            + ["", f"Priors cost: {ratio:.2f}x the time per molecule of sampling without them (one run)."])


def bench_configs(args) -> list[str]:
    """Rows of the speed table: training at each of ``args.configs``; sampling from the shipped (or
    ``args.checkpoint``) model for the first, from freshly initialised weights for the others."""
    rows = []
    for i, path in enumerate(args.configs):
        config = load_config(path, ["data.source='embedded'", "data.split='all'"])
        r = bench_training(config, args.steps)
        model, recorded = r["model"], SamplingSettings()
        num = args.num[min(i, len(args.num) - 1)]
        if i == 0:
            model, _, recorded = load_trained(args.checkpoint)
        mols, stats = generate_molecules(model, num, settings=recorded, seed=0, batch=args.sample_batch,
                                         progress=False)
        if i == 0 and args.save_samples:
            from genmol.io.molecules import write_molecules

            write_molecules(args.save_samples, mols)
        mean_atoms = float(np.mean([m.num_atoms for m in mols]))
        row = (f"| {path} | {r['params']:,} | {r['batch']:.1f} | {100 * r['edge_padding']:.0f} | "
               f"{1e3 * r['step_s']:.0f} | {1 / r['step_s']:.2f} | "
               f"{r['batch'] / r['step_s']:.0f} | {1e3 * r['data_s']:.0f} | {r['compile_s']:.0f} | {num} "
               f"({'trained' if i == 0 else 'random init'}) | "
               f"{stats['molecules_per_s']:.1f} | {mean_atoms:.1f} |")
        print(row, flush=True)
        rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["configs/symphony/qm9_cpu.py", "configs/symphony/qm9.py"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--num", type=int, nargs="+", default=[1000, 50])
    ap.add_argument("--sample-batch", type=int, default=100)
    ap.add_argument("--checkpoint", default=None, help="model the first config samples from (default: shipped)")
    ap.add_argument("--save-samples", default=None, help="write the first config's samples here")
    ap.add_argument("--out", default=None)
    ap.add_argument("--priors-cost", type=int, default=0, metavar="N",
                    help="only time N molecules without and with the recorded sampler priors")
    ap.add_argument("--shard-vmap-cost", action="store_true",
                    help="only time the training step with the single shard squeezed and with a size-1 vmap")
    ap.add_argument("--sampling-cost", type=int, default=0, metavar="ATOMS",
                    help="only time sampling molecules of ATOMS atoms (random weights, min_atoms) per config")
    ap.add_argument("--grid-cost", action="store_true",
                    help="only time the S² grid and position KL: FFT, matmul, and from the coefficients")
    ap.add_argument("--packing-cost", action="store_true",
                    help="only time the training step with fixed and with dynamic fragment packing")
    args = ap.parse_args()
    machine = (f"Machine: {cpu_name()}, "
               f"{jax.device_count()} {jax.default_backend()} device(s), jax {jax.__version__}.\n")
    if args.shard_vmap_cost:
        rows = []
        for path in args.configs:
            config = load_config(path, ["data.source='embedded'", "data.split='all'"])
            rows.append(bench_shard_vmap(config, args.steps, path))
            print(rows[-1], flush=True)
        lines = ["# Trainer: one shard called directly vs a size-1 vmap over shards\n",
                 f"Command: `python scripts/bench_symphony.py {' '.join(sys.argv[1:])}` (one run, interleaved).\n",
                 machine, "| config | batch (fragments) | train step ms, squeezed | train step ms, size-1 vmap | "
                 "vmap / squeezed |", "|---|---|---|---|---|", *rows]
    elif args.sampling_cost:
        rows = []
        for path in args.configs:
            rows.append(bench_sampling(load_config(path, ["data.source='embedded'", "data.split='all'"]), path,
                                       args.num[0], args.sample_batch, args.sampling_cost))
            print(rows[-1], flush=True)
        lines = ["# Symphony: sampling speed at a fixed molecule size\n",
                 f"Command: `python scripts/bench_symphony.py {' '.join(sys.argv[1:])}` (one run; freshly "
                 "initialised weights, molecules grown from one H atom to exactly the stated size with "
                 "`min_atoms`).\n", machine,
                 "| config | atoms | mean atoms | batch | molecules | molecules/s (compiled) | compile s | "
                 "model build s | first molecule from a cold start (first call), s | GFLOP per molecule per "
                 "growth step at the full budget (XLA) | GB accessed per molecule per step (XLA) |",
                 "|---|---|---|---|---|---|---|---|---|---|---|", *rows]
    elif args.grid_cost:
        rows = []
        for path in args.configs:
            rows.append(bench_grid(load_config(path, ["data.source='embedded'", "data.split='all'"]), args.steps,
                                   path))
            print(rows[-1], flush=True)
        lines = ["# Symphony: the S² grid and position KL: FFT, matmul, and from the coefficients\n",
                 f"Command: `python scripts/bench_symphony.py {' '.join(sys.argv[1:])}` (one run, interleaved, "
                 "medians; forward + backward).\n", machine,
                 "| config | graph slots | grid | lmax | FFT ms | matmul ms | from coefficients ms (near radii) | "
                 "FFT / matmul | matmul / from coefficients |",
                 "|---|---|---|---|---|---|---|---|---|", *rows]
    elif args.packing_cost:
        rows = []
        for path in args.configs:
            rows += bench_packing(load_config(path, ["data.source='embedded'", "data.split='all'"]), args.steps, path)
        lines = ["# Symphony: fixed against dynamic fragment packing\n",
                 f"Command: `python scripts/bench_symphony.py {' '.join(sys.argv[1:])}` (one run, interleaved, "
                 "medians).\n", machine,
                 "| config | packing | fragments per step | edge slots | edge padding % | node padding % | "
                 "graph padding % | XLA GFLOP | XLA GB accessed | train step ms | fragments/s |",
                 "|---|---|---|---|---|---|---|---|---|---|---|", *rows]
    elif args.priors_cost:
        lines = ["# Symphony sampler priors: cost\n",
                 f"Command: `python scripts/bench_symphony.py {' '.join(sys.argv[1:])}` (one run).\n",
                 machine] + bench_priors(args.checkpoint, args.priors_cost, args.sample_batch)
    else:
        lines = ["# Symphony speed\n", machine,
                 "| config | params | batch (fragments) | edge padding % | train step ms | steps/s | fragments/s "
                 "| host batching ms | compile s | sampled molecules | molecules/s (incl. compile) | mean atoms |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|"] + bench_configs(args)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        from genmol.io.atomic import atomic_write_text
        atomic_write_text(args.out, text)


if __name__ == "__main__":
    run_script(main)
