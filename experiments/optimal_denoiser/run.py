"""Kabsch vs matrix-Fisher denoising targets against the exact optimal denoiser.

Data: 4 QM9 molecules with 10 atoms (embedded subset), randomly rotated, Gaussian noise σ.
Part A: error of each per-sample target (none = R X0, Kabsch, exact Fisher, 1st/2nd-order
series) against the exact optimal denoiser D*(y) of the whole data set, over σ.
Part B: one small equivariant denoiser (shared NequIP encoder, EDM preconditioning) trained
per target with identical seeds and steps; its error against D*(y) over σ and the variance
of its training loss.

Usage: python experiments/optimal_denoiser/run.py [--steps 1500] [--samples 1000] [--out DIR]
Writes DIR/results.json, DIR/errors.png and prints the Markdown tables for the README.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from genmol.config import load_config
from genmol.data.graph import Budget, pad_graphs
from genmol.errors import run_script
from genmol.geometry.rotations import haar_rotation_np
from genmol.io.atomic import atomic_write_text
from genmol.losses.alignment import denoising_target
from genmol.losses.optimal_denoiser import optimal_denoiser
from genmol.models.denoiser import DenoiserTask
from genmol.train.trainer import merge_params, train_and_evaluate
from genmol.viz.figures import save_png

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("none", "kabsch", "fisher", "fisher_series1", "fisher_series2")
SIGMAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def eval_samples(task: DenoiserTask, sigma: float, n: int, seed: int):
    """Fixed evaluation draws at one σ: molecule ids, clean rotated clouds, noisy clouds."""
    rng = np.random.default_rng([seed, int(sigma * 1e4)])
    ms, x0s, ys = [], [], []
    for _ in range(n):
        m = int(rng.integers(len(task.data)))
        r = haar_rotation_np(rng)
        eps = rng.normal(size=(task.n, 3))
        x0 = task.data[m] @ r.T
        ms.append(m)
        x0s.append(x0)
        ys.append(x0 + sigma * (eps - eps.mean(0)))
    return np.array(ms), np.array(x0s), np.array(ys)


def model_predictions(task, result, ms, ys, sigma, batch=64):
    from flax import nnx

    model = task.create_model(nnx.Rngs(int(task.config.seed)))
    graphdef, template, rest = nnx.split(model, nnx.Param, ...)
    apply = jax.jit(lambda p, b, s: merge_params(graphdef, template, rest, p)(b, s))
    preds = []
    for i in range(0, len(ys), batch):
        graphs = [task.graph(int(m), sigma, y, y, 0) for m, y in zip(ms[i:i + batch], ys[i:i + batch])]
        b = pad_graphs(graphs, Budget(task.n * batch + 1, task.n * (task.n - 1) * batch, batch + 1))
        out = np.asarray(apply(result.params, b, jnp.asarray(b.graph_features["sigma"])))
        preds.append(out[: len(graphs) * task.n].reshape(len(graphs), task.n, 3))
    return np.concatenate(preds)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--out", default=str(Path(__file__).parent))
    a = p.parse_args()
    out = Path(a.out)
    cfg = load_config(ROOT / "configs/denoiser/qm9_toy.py", [f"train.steps={a.steps}"])
    task = DenoiserTask(cfg)

    # Part B first (float32 training), keeping parameters and loss curves.
    trained = {}
    for method in METHODS:
        c = load_config(ROOT / "configs/denoiser/qm9_toy.py", [f"train.steps={a.steps}",
                                                                f"model.target_alignment='{method}'"])
        t0 = time.time()
        with tempfile.TemporaryDirectory() as wd:
            res = train_and_evaluate(DenoiserTask(c), c, wd, progress=False)
        losses = np.array([res.losses[s] for s in sorted(res.losses)])
        trained[method] = (res, losses, time.time() - t0)
        print(f"trained {method}: {time.time() - t0:.0f} s, final loss {losses[-50:].mean():.4f}", flush=True)

    draws = {s: eval_samples(task, s, a.samples, 123) for s in SIGMAS}
    preds = {m: {s: model_predictions(task, trained[m][0], draws[s][0], draws[s][2], s) for s in SIGMAS}
             for m in METHODS}

    jax.config.update("jax_enable_x64", True)  # the oracle needs float64 (see optimal_denoiser docstring)
    data = jnp.asarray(task.data)
    target_err = {m: [] for m in METHODS}
    model_err = {m: [] for m in METHODS}
    oracle_mse = []
    for s in SIGMAS:
        ms, x0, y = draws[s]
        dstar = np.asarray(optimal_denoiser(jnp.asarray(y), data, s)) + y.mean(1, keepdims=True)
        oracle_mse.append(float(np.mean(np.sum((dstar - x0) ** 2, -1))))
        for m in METHODS:
            t = np.asarray(denoising_target(jnp.asarray(x0), jnp.asarray(y), s, method=m))
            target_err[m].append(float(np.mean(np.sum((t - dstar) ** 2, -1))))
            model_err[m].append(float(np.mean(np.sum((preds[m][s] - dstar) ** 2, -1))))
    half = a.steps // 2
    loss_var = {m: float(np.var(trained[m][1][half:])) for m in METHODS}
    loss_mean = {m: float(np.mean(trained[m][1][half:])) for m in METHODS}
    results = dict(sigmas=SIGMAS, samples=a.samples, steps=a.steps, target_error=target_err, model_error=model_err,
                   oracle_mse_to_clean=oracle_mse, train_loss_var_last_half=loss_var,
                   train_loss_mean_last_half=loss_mean,
                   train_seconds={m: trained[m][2] for m in METHODS},
                   loss_curves={m: trained[m][1].tolist() for m in METHODS})
    atomic_write_text(out / "results.json", json.dumps(results, indent=1) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(16, 4.6))
    for m in METHODS:
        ax[0].loglog(SIGMAS, np.maximum(target_err[m], 1e-30), "o-", label=m)
        ax[1].loglog(SIGMAS, model_err[m], "o-", label=m)
        curve = trained[m][1]
        k = 25
        ax[2].semilogy(np.convolve(curve, np.ones(k) / k, mode="valid"), label=m)
    ax[0].set(title="per-sample target vs exact optimal denoiser", xlabel="σ (Å)",
              ylabel="mean |T − D*|² per atom (Å²)")
    ax[1].set(title=f"trained denoiser vs exact optimal denoiser ({a.steps} steps)", xlabel="σ (Å)",
              ylabel="mean |D_θ − D*|² per atom (Å²)")
    ax[2].set(title="training loss (EDM-weighted, 25-step mean)", xlabel="step", ylabel="loss")
    for x in ax:
        x.legend(fontsize=8)
        x.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_png(fig, out / "errors.png", dpi=110)

    head = "| σ (Å) | " + " | ".join(METHODS) + " |\n|---" * 1 + "|---" * len(METHODS) + "|"
    print("\nPart A: mean squared error per atom of the target against D* (Å²)\n" + head)
    for i, s in enumerate(SIGMAS):
        print(f"| {s} | " + " | ".join(f"{target_err[m][i]:.2e}" for m in METHODS) + " |")
    print("\nPart B: trained model, mean squared error per atom against D* (Å²)\n" + head)
    for i, s in enumerate(SIGMAS):
        print(f"| {s} | " + " | ".join(f"{model_err[m][i]:.2e}" for m in METHODS) + " |")
    print("| train-loss variance (last half) | " + " | ".join(f"{loss_var[m]:.3g}" for m in METHODS) + " |")
    print("| train-loss mean (last half) | " + " | ".join(f"{loss_mean[m]:.3g}" for m in METHODS) + " |")


if __name__ == "__main__":
    run_script(main)
