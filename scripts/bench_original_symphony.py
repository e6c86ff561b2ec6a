"""Time the ORIGINAL Symphony training step (Daigavane et al., ICLR 2024) on this machine.

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
    p.add_argument("--workdir", default=None, help="scratch dir (fragment files); default: a temp dir")
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


def main() -> None:
    args = parse_args()
    src = str(Path(args.src).resolve())
    data = str(Path(args.data).resolve())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # symphony/train.py makes ./logging_outputs at import, and the fragments go to disk: work in scratch.
    workdir = args.workdir or tempfile.mkdtemp(prefix="orig_symphony_bench_")
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    sys.path.insert(0, src)

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

    from configs.qm9 import e3schnet_and_nequip
    from symphony import models, train
    from symphony.data import input_pipeline_tf
    from symphony.data.generation_scripts import qm9_fragmenter

    # ---- config, as symphony/__main__.py builds it
    config = e3schnet_and_nequip.get_config()
    if args.preset == "paper":
        paper_overrides(config)
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
    n_params = sum(int(np.size(x)) for x in jax.tree_util.tree_leaves(params))
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


if __name__ == "__main__":
    main()
