"""Time the ORIGINAL Symphony training step or sampling (Daigavane et al., ICLR 2024) on this machine.

What it measures: the original's own ``symphony.train.train_step`` (forward + backward of its
``loss.generation_loss`` + its Adam update from ``train.create_optimizer``, float32, ``jax.pmap``
over the one local CPU device exactly as its training loop calls it, with its 0.05 Å input noise)
for the evaluated QM9 model -- E3SchNet focus/species head, NequIP (eSCN layers from nequip-jax)
position head -- on real QM9 fragment batches. Nothing is reimplemented: the model, loss, optimizer,
train step, fragment generator (``symphony/data/generation_scripts/qm9_fragmenter.py``) and input
pipeline (``symphony/data/input_pipeline_tf.py``: tf.data shuffle buffer of 1000, then
``jraph.dynamically_batch`` to 480 nodes / 1,440 edges / 16 graphs) are imported from ``--src``.
Batches are built up front, so the timed loop is the train step alone (the original overlaps its
tf.data prefetch with the step). Prints the compile time (first call), the median and mean step time
over ``--steps`` steps after 2 warm-up steps (the first is the compile), the mean number of real
fragments (non-padding graphs) per step and fragments/s.

``--preset paper`` (default) is ``configs/qm9/e3schnet_and_nequip.py`` with the overrides of the
original's QM9 run script ``sweep_scripts/qm9.sh`` (the evaluated run): 64 channels and 3 interactions
for both embedders, focus lmax 2, position lmax 5, 2 position channels, 45 x 89 grid, noise 0.05,
lr 5e-4, 16 graphs. ``--preset config`` is the config file unchanged (E3SchNet 32 channels, 5 position
channels, 180 x 359 grid, noise 0.1, lr 1e-3).

Data: the original downloads QM9 itself, which is impossible here, so this reads real QM9 molecules
from genmol's ``data/qm9/qm9_subset_2000.extxyz`` (2,000 molecules; ``--data`` to change), takes
``--molecules`` of them in a seeded random order, and feeds them as ``ase.Atoms`` to the original's
``qm9_fragmenter.generate_all_fragments`` (its defaults: mode "nn", nn_tolerance 0.125 Å, cutoff 5 Å,
max_radius 2.03 Å, seed 0), which writes a tf.data fragment file that the original's
``input_pipeline_tf.get_datasets`` reads back.

With ``--sampling N`` it instead times the original's molecule generation: its own
``analyses/generate_molecules.py::generate_molecules`` (the entry point of its QM9 generation
scripts ``sweep_scripts/generate_molecules*.sh``), called unchanged, with their settings: start from
one H atom (``--init=H``; the flag's default "C" is not what the scripts use), focus/species and
position inverse temperatures 1 (``--fait=1 --pit=1``), ``--num_seeds_per_chunk=25`` (``--chunk``).
How it samples: one ``jax.jit`` over all ``N`` seeds that ``jax.lax.map``s over chunks of
``--chunk`` seeds, ``jax.vmap``s over the seeds of a chunk, and ``jax.lax.scan``s ``max_num_atoms``
growth steps per seed; every step calls the eval-mode model (``models.create_model(config,
run_in_evaluation_mode=True)``) on the whole padded fragment (``max_num_atoms + 1`` node slots,
``(max_num_atoms + 1)**2`` edge slots, edges rebuilt from a dense distance matrix) -- nothing is
cached between steps -- and, vmapped, its ``lax.cond`` on the stop flag computes both branches, so a
molecule always costs ``max_num_atoms`` full model calls whether or not it stopped. Random weights
would stop anywhere, so the size is forced: ``max_num_atoms = --atoms`` minus the start atoms (24
growth steps from the H atom for ``--atoms 25``; the scripts use 35) and the model's sampled
``stop`` is replaced by False after each call (the original already samples focus and species
conditioned on not stopping, so nothing else changes); every molecule then has exactly ``--atoms``
atoms (read back from the original's output database). Workarounds, nothing else changed:
``analysis.load_model_at_step`` (which reads ``checkpoints/params_<step>.pkl`` and ``config.yml``
from a workdir) is replaced by one returning the ``--preset`` config, the eval-mode model wrapped to
never stop, and random parameters (its ``init`` on the padded H fragment, seed ``config.rng_seed``;
its jit compiles the eval-mode model once more, reported as "init", not part of the measurement);
its output (one .xyz per molecule and an ASE database) goes to the scratch dir; its ``time.time()``
(which brackets its own ``chunk_and_apply.lower(...).compile()``, the compile time it logs) and its
``tqdm.tqdm`` (its first call after the generation call, where this script blocks until the
generated fragments are ready) are wrapped to take timestamps. Prints the compile time (the
original's own AOT lower + compile), the generation time of the ``N`` molecules (``N`` a multiple of
``--chunk``; the compiled executable is reused), molecules/s and the mean atoms per molecule. The
output files' writing is not timed.

Setup (once; only PyPI is reachable, so nequip-jax / mace-jax / allegro-jax -- git-only deps of the
original, not on PyPI -- are installed from source snapshots; mace/allegro are only imported, unused):

    # source: branch iclr_2024_final (4b323ef6) of github.com/atomicarchitects/symphony -> /work/orig_symphony/src
    # deps:   nequip-jax 0e7a311 (2023-11-01), mace-jax 4b899de (2023-10-04), allegro-jax 5aaa73f (2024-04-09)
    #         -> /work/orig_symphony/deps/{nequip-jax,mace-jax,allegro-jax}
    cd /work/orig_symphony && python3.11 -m venv venv && venv/bin/pip install \\
      "jax==0.4.26" "jaxlib==0.4.26" "e3nn-jax==0.20.6" "dm-haiku==0.0.12" "flax==0.8.2" \\
      "orbax-checkpoint==0.5.9" "optax==0.2.2" "chex==0.1.86" "jraph==0.0.6.dev0" "clu==0.0.9" \\
      ml_collections absl-py "tensorflow-cpu==2.13.0" "numpy==1.24.3" "scipy<1.14" rdkit ase matscipy \\
      roundmantissa pyyaml matplotlib ./deps/nequip-jax ./deps/mace-jax ./deps/allegro-jax
    # exact versions: /work/orig_symphony/freeze.txt

Usage:
    /work/orig_symphony/venv/bin/python scripts/bench_original_symphony.py --src /work/orig_symphony/src \\
        [--steps 12] [--preset paper|config] [--molecules 150] [--data data/qm9/qm9_subset_2000.extxyz]
    /work/orig_symphony/venv/bin/python scripts/bench_original_symphony.py --src /work/orig_symphony/src \\
        --sampling 50 [--atoms 25] [--chunk 25] [--preset paper|config]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--src", required=True, help="checkout of atomicarchitects/symphony (iclr_2024_final)")
    p.add_argument("--steps", type=int, default=12, help="timed steps (after 2 warm-up steps)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--preset", choices=["paper", "config"], default="paper")
    p.add_argument("--molecules", type=int, default=150, help="QM9 molecules to fragment")
    p.add_argument("--data", default=str(REPO / "data" / "qm9" / "qm9_subset_2000.extxyz"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default=None,
                   help="scratch dir (fragment files, generated molecules); default: a temp dir")
    p.add_argument("--sampling", type=int, default=0, metavar="N",
                   help="time the original's generation of N molecules instead of training (N a multiple of --chunk)")
    p.add_argument("--atoms", type=int, default=25, help="atoms per generated molecule (forced; --sampling)")
    p.add_argument("--chunk", type=int, default=25,
                   help="seeds vmapped together (the original's --num_seeds_per_chunk; its QM9 scripts use 25)")
    p.add_argument("--init", default="H", help="starting fragment (the original's --init; its QM9 scripts use H)")
    return p.parse_args()


def paper_overrides(config) -> None:
    """The overrides of the original's sweep_scripts/qm9.sh (e3schnet_and_nequip, lfocus 2, l 5, pc 2, c 64, i 3)."""
    f = config.focus_and_target_species_predictor.embedder_config
    t = config.target_position_predictor.embedder_config
    f.max_ell, t.max_ell = 2, 5
    f.num_channels, t.num_channels = 64, 64
    f.num_interactions, t.num_interactions = 3, 3
    config.target_position_predictor.num_channels = 2
    config.target_position_predictor.res_beta = 45
    config.target_position_predictor.res_alpha = 89
    config.position_noise_std = 0.05
    config.max_n_graphs = 16
    config.learning_rate = 0.0005


def original_config(preset: str):
    """The original's QM9 config (``configs/qm9/e3schnet_and_nequip.py``), with :func:`paper_overrides` for
    ``preset == "paper"``; needs ``--src`` on ``sys.path``."""
    from configs.qm9 import e3schnet_and_nequip

    config = e3schnet_and_nequip.get_config()
    if preset == "paper":
        paper_overrides(config)
    return config


def count_params(params) -> int:
    import jax
    import numpy as np

    return sum(int(np.size(x)) for x in jax.tree_util.tree_leaves(params))


def bench_training(args, workdir: str, data: str) -> None:
    """Times the original's train_step (the default mode; see the module docstring)."""
    import ase.io
    import flax
    import jax
    import jraph
    import ml_collections
    import numpy as np
    import tensorflow as tf
    from absl import logging as absl_logging
    from flax.training import train_state

    tf.config.experimental.set_visible_devices([], "GPU")  # as symphony/__main__.py
    absl_logging.set_verbosity(absl_logging.WARNING)

    from symphony import models, train
    from symphony.data import input_pipeline_tf
    from symphony.data.generation_scripts import qm9_fragmenter

    # ---- config, as symphony/__main__.py builds it
    config = original_config(args.preset)
    n_mol = int(args.molecules)
    frag_root = os.path.join(workdir, "fragments")
    config.root_dir = frag_root
    config.train_molecules = (0, n_mol)  # one fragment file; val/test point at it too (never used here)
    config.val_molecules = (0, n_mol)
    config.test_molecules = (0, n_mol)
    config = ml_collections.FrozenConfigDict(config)

    # ---- real QM9 molecules from genmol's data -> the original's fragmenter (qm9_fragmenter defaults)
    t0 = time.perf_counter()
    molecules = ase.io.read(data, index=":")
    order = np.random.default_rng(args.seed).permutation(len(molecules))[:n_mol]
    molecules = [molecules[i] for i in order]
    qm9_fragmenter.generate_all_fragments(
        molecules, seed=0, start=None, end=None,
        output_dir=os.path.join(frag_root, f"fragments_00_{0:06d}_{n_mol:06d}"),
        mode="nn", heavy_first=False, beta_com=0.0,
        nn_tolerance=0.125, nn_cutoff=5.0, max_radius=2.03,
    )
    frag_s = time.perf_counter() - t0

    # ---- the original's input pipeline (shuffle 1000, jraph.dynamically_batch 480/1440/16)
    datasets = input_pipeline_tf.get_datasets(jax.random.PRNGKey(config.rng_seed), config)
    train_iter = datasets["train"].as_numpy_iterator()
    n_batches = args.warmup + args.steps
    init_graphs = next(train_iter)
    batches = [next(train_iter) for _ in range(n_batches)]
    real = [int(np.sum(jraph.get_graph_padding_mask(b))) for b in batches]
    nodes = [int(np.sum(b.n_node[jraph.get_graph_padding_mask(b)])) for b in batches]
    edges = [int(np.sum(b.n_edge[jraph.get_graph_padding_mask(b)])) for b in batches]
    shapes = (batches[0].nodes.positions.shape[0], batches[0].senders.shape[0], batches[0].n_node.shape[0])

    # ---- model, optimizer and state exactly as train.train_and_evaluate
    rng = jax.random.PRNGKey(config.rng_seed)
    rng, _ = jax.random.split(rng)  # dataset_rng
    net = models.create_model(config, run_in_evaluation_mode=False)
    rng, init_rng = jax.random.split(rng)
    t0 = time.perf_counter()
    params = jax.jit(net.init)(init_rng, init_graphs)
    jax.block_until_ready(params)
    init_s = time.perf_counter() - t0
    n_params = count_params(params)
    tx = train.create_optimizer(config)
    state = train_state.TrainState.create(apply_fn=jax.jit(net.apply), params=params, tx=tx)
    state = flax.jax_utils.replicate(state)

    # train.device_batch adds the device axis as the original's loop does; done up front (not timed).
    device_batches = [next(train.device_batch(iter([b]))) for b in batches]
    jax.block_until_ready(device_batches)

    def one_step(state, rng, device_graphs):
        step_rng, rng = jax.random.split(rng)
        step_rngs = jax.random.split(step_rng, jax.local_device_count())
        state, batch_metrics = train.train_step(
            device_graphs, state, config.loss_kwargs, step_rngs,
            config.add_noise_to_positions, config.position_noise_std,
        )
        jax.block_until_ready((state, batch_metrics))
        return state, rng, batch_metrics

    times = []
    for i, device_graphs in enumerate(device_batches):
        t0 = time.perf_counter()
        state, rng, batch_metrics = one_step(state, rng, device_graphs)
        times.append(time.perf_counter() - t0)
        if i == 0:
            loss0 = float(flax.jax_utils.unreplicate(batch_metrics).compute()["total_loss"])
    compile_s = times[0]
    timed = times[args.warmup:]
    med = statistics.median(timed)
    frags = float(np.mean(real[args.warmup:]))
    fmt = dict(jax=jax.__version__, devices=jax.devices())

    print(f"original Symphony (iclr_2024_final) train step, preset={args.preset}, {fmt}")
    print(f"  data: {n_mol} QM9 molecules from {data}; fragmenting took {frag_s:.1f} s")
    print(f"  padded batch: {shapes[0]} nodes / {shapes[1]} edges / {shapes[2]} graphs; "
          f"real per step: {np.mean(nodes):.1f} nodes, {np.mean(edges):.1f} edges")
    print(f"  params: {n_params:,}; init {init_s:.1f} s; first-step loss {loss0:.4f}")
    print(f"  compile (first step): {compile_s:.1f} s")
    print(f"  timed steps: {len(timed)} after {args.warmup} warm-up")
    if timed:
        print(f"  median step: {med * 1e3:.1f} ms (mean {statistics.mean(timed) * 1e3:.1f} ms, "
              f"min {min(timed) * 1e3:.1f}, max {max(timed) * 1e3:.1f})")
        print(f"  real fragments/step: {frags:.2f}; fragments/s: {frags / med:.1f}")


class _NeverStop:
    """The original's eval-mode model (a ``hk.Transformed``) with its sampled ``stop`` replaced by False.

    Its ``get_evaluation_predictions`` samples focus and species from their distribution renormalised by
    ``1 - stop_probs``, i.e. conditioned on not stopping, so only the stop flag changes."""

    def __init__(self, model):
        self._model = model

    def apply(self, *args, **kwargs):
        import jax.numpy as jnp

        pred = self._model.apply(*args, **kwargs)
        return pred._replace(globals=pred.globals._replace(stop=jnp.zeros_like(pred.globals.stop)))


def bench_sampling(args, workdir: str) -> None:
    """Times the original's ``analyses.generate_molecules.generate_molecules`` (see the module docstring)."""
    import ase.db
    import jax
    import jraph
    import ml_collections
    import numpy as np
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING)

    from analyses import analysis
    from analyses import generate_molecules as gen
    from symphony import models
    from symphony.data import input_pipeline

    num, chunk = int(args.sampling), int(args.chunk)
    if num % chunk:
        raise SystemExit(f"--sampling ({num}) must be a multiple of --chunk ({chunk}), as the original requires")
    config = original_config(args.preset)
    init_molecule, _ = analysis.construct_molecule(args.init)
    max_num_atoms = int(args.atoms) - len(init_molecule)  # growth steps: the original's --max_num_atoms
    fait = pit = 1.0  # --fait=1 --pit=1 in the original's QM9 generation scripts

    # ---- random parameters: init of the eval-mode model on the start fragment, padded as the original pads it
    model = models.create_model(config, run_in_evaluation_mode=True)
    fragment = input_pipeline.ase_atoms_to_jraph_graph(init_molecule, models.ATOMIC_NUMBERS, config.nn_cutoff)
    fragment = jraph.pad_with_graphs(fragment, n_node=max_num_atoms + 1, n_edge=(max_num_atoms + 1) ** 2, n_graph=2)
    rng = jax.random.PRNGKey(config.rng_seed)
    rng, _ = jax.random.split(rng)
    rng, init_rng = jax.random.split(rng)
    t0 = time.perf_counter()
    params = jax.jit(model.init)(init_rng, fragment, fait, pit)
    jax.block_until_ready(params)
    init_s = time.perf_counter() - t0
    n_params = count_params(params)

    # ---- workarounds (module docstring): no checkpoint, never stop, timestamps around its compile and its run
    def load_model_at_step(workdir, step, run_in_evaluation_mode, res_alpha=None, res_beta=None):
        assert run_in_evaluation_mode and res_alpha is None and res_beta is None
        return _NeverStop(model), params, ml_collections.ConfigDict(config.to_dict())

    marks = {"time": []}

    class _Clock:  # gen's ``time``: its two time.time() calls bracket chunk_and_apply.lower(...).compile()
        @staticmethod
        def time():
            marks["time"].append(time.perf_counter())
            return time.time()

    class _Progress:  # gen's ``tqdm``: tqdm.tqdm(seeds) is its first call after the generation call
        @staticmethod
        def tqdm(iterable, *a, **k):
            jax.block_until_ready(sys._getframe(1).f_locals["final_padded_fragments"])
            marks["generated"] = time.perf_counter()
            return iterable

    analysis.load_model_at_step = load_model_at_step
    gen.time, gen.tqdm = _Clock, _Progress
    outputdir = os.path.join(workdir, "generated")
    t0 = time.perf_counter()
    gen.generate_molecules(
        workdir=os.path.join(workdir, "workdirs", "random_weights"), outputdir=outputdir,
        focus_and_atom_type_inverse_temperature=fait, position_inverse_temperature=pit, step="best",
        num_seeds=num, num_seeds_per_chunk=chunk, init_molecules=args.init, max_num_atoms=max_num_atoms,
        visualize=False,
    )
    total_s = time.perf_counter() - t0
    compile_s = marks["time"][1] - marks["time"][0]
    generate_s = marks["generated"] - marks["time"][1]
    dbs = list(Path(outputdir).rglob("*.db"))
    assert len(dbs) == 1, dbs
    with ase.db.connect(str(dbs[0])) as db:
        sizes = [row.natoms for row in db.select()]
    assert len(sizes) == num, (len(sizes), num)
    fmt = dict(jax=jax.__version__, devices=jax.devices())
    tp = config.target_position_predictor

    print(f"original Symphony (iclr_2024_final) sampling, preset={args.preset}, {fmt}")
    print(f"  analyses.generate_molecules: init {args.init}, max_num_atoms {max_num_atoms} (stop ignored), "
          f"fait {fait:g}, pit {pit:g}, {num} seeds in chunks of {chunk} (vmapped); "
          f"grid {tp.res_beta} x {tp.res_alpha}, {tp.num_radii} radii")
    print(f"  params: {n_params:,} (random); init {init_s:.1f} s")
    print(f"  compile (its lower + compile): {compile_s:.1f} s")
    print(f"  generation: {generate_s:.1f} s for {num} molecules -> {num / generate_s:.3f} molecules/s "
          f"({generate_s / num:.2f} s/molecule)")
    print(f"  atoms per molecule: mean {np.mean(sizes):.1f} (min {min(sizes)}, max {max(sizes)})")
    print(f"  whole call (incl. compile, output files): {total_s:.1f} s; output: {dbs[0]}")


def main() -> None:
    args = parse_args()
    src = str(Path(args.src).resolve())
    data = str(Path(args.data).resolve())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # symphony/train.py makes ./logging_outputs at import, and the fragments go to disk: work in scratch.
    workdir = str(Path(args.workdir or tempfile.mkdtemp(prefix="orig_symphony_bench_")).resolve())
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    sys.path.insert(0, src)
    if args.sampling:
        bench_sampling(args, workdir)
    else:
        bench_training(args, workdir, data)


if __name__ == "__main__":
    main()
