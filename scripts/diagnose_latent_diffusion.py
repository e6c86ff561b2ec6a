"""Where a latent diffusion model's samples go wrong: complete the path from training latents noised to t₀.

For each ``t₀`` the model starts from ``(1 − t₀) x₀ + t₀ x₁`` (``x₁`` the autoencoder's latents of training chains
with ``--nodes`` latent nodes, ``x₀`` Gaussian noise, the flow path of training), integrates to ``t = 1`` with
Euler steps, decodes, and reports the fraction of consecutive Cα–Cα in 3.8 ± 0.2 Å and how far the completed
latents lie from the ones they started near. ``t₀ = 1`` decodes the clean latents (the decoder's own limit);
``t₀ = 0`` is ordinary sampling. Also compares the marginal statistics of latents sampled from noise with the
encoded ones.

Usage: python scripts/diagnose_latent_diffusion.py --checkpoint DIR [--nodes 16] [--chains 16] [--steps 200]
                                                   [--t0 1 0.9 0.7 0.5 0.3 0] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import sys

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np

from genmol.errors import GenmolError, run_script


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="a protein_diffusion model directory")
    ap.add_argument("--nodes", type=int, default=16, help="latent nodes of the training chains used")
    ap.add_argument("--chains", type=int, default=16)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--t0", type=float, nargs="+", default=[1.0, 0.9, 0.7, 0.5, 0.3, 0.0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from genmol.models.ophiuchus.autoencoder import Latent
    from genmol.models.ophiuchus.latent_diffusion import denormalise
    from genmol.models.ophiuchus.latent_task import LatentDiffusionTask
    from genmol.models.store import load_model

    model, cfg, _ = load_model(args.checkpoint, expect="protein_diffusion")
    c = model.config
    if str(c.path) != "flow":
        raise GenmolError(f"{args.checkpoint}: only the flow path is diagnosed here, not {c.path!r}")
    task = LatentDiffusionTask(cfg)
    rows = [i for i in range(len(task.mask)) if task.mask[i].sum() == args.nodes][:args.chains]
    if not rows:
        raise GenmolError(f"no training chain has {args.nodes} latent nodes")
    n, b = args.nodes, len(rows)
    x1f, x1p = jnp.asarray(task.features[rows][:, :n]), jnp.asarray(task.positions[rows][:, :n])
    lengths = np.asarray(task.lengths)[rows]
    res_mask = jnp.asarray(np.arange(int(lengths.max()))[None] < lengths[:, None])
    mask = jnp.ones((b, n), bool)
    kf, kp = jax.random.split(jax.random.key(args.seed))
    x0f = jax.random.normal(kf, x1f.shape)
    x0p = jax.random.normal(kp, x1p.shape)
    x0p = x0p - x0p.mean(1, keepdims=True)
    scale = float(c.position_scale)

    @jax.jit
    def complete(t0):
        ts = jnp.linspace(t0, 1.0, args.steps + 1)

        def body(carry, i):
            f, p = carry
            t, dt = ts[i], ts[i + 1] - ts[i]
            f1, p1, _, _ = model.denoiser(f, p, mask, jnp.full((b,), t))
            last = i == args.steps - 1
            f = jnp.where(last, f1, f + dt * (f1 - f) / (1 - t))
            p = jnp.where(last, p1, p + dt * (p1 - p) / (1 - t))
            return (f, p - p.mean(1, keepdims=True)), None

        start = ((1 - t0) * x0f + t0 * x1f, (1 - t0) * x0p + t0 * x1p)
        (f, p), _ = jax.lax.scan(body, start, jnp.arange(args.steps))
        f, p = jnp.where(t0 >= 1.0, x1f, f), jnp.where(t0 >= 1.0, x1p, p)
        feats = denormalise(f, e3nn.Irreps(c.latent_irreps), c.feature_shift, c.feature_scale)
        _, positions, _ = model.autoencoder.decode(Latent(feats, p * scale, mask), res_mask)
        return positions, f, p

    def links(positions) -> float:
        ca = np.asarray(positions[:, :, 1])
        d = np.linalg.norm(np.diff(ca, axis=1), axis=-1)
        both = np.asarray(res_mask[:, 1:] & res_mask[:, :-1])
        return float((np.abs(d - 3.8) <= 0.2)[both].mean())

    table = ["| t₀ (1 = the clean latent) | decoded Cα–Cα links in 3.8 ± 0.2 Å | latent features, RMS from the start "
             "latent | latent positions, RMSD from the start latent (Å) |", "|---|---|---|---|"]
    marginals = {}
    for t0 in args.t0:
        positions, f, p = complete(jnp.float32(t0))
        err = float(jnp.sqrt(jnp.mean((f - x1f) ** 2)))
        rmsd = float(jnp.sqrt(jnp.mean(jnp.sum((p - x1p) ** 2, -1)))) * scale
        table.append(f"| {t0:g} | {links(positions):.3f} | {err:.2f} | {rmsd:.1f} |")
        print(table[-1], flush=True)
        if t0 == 0:
            marginals["sampled"] = (np.asarray(f), np.asarray(p) * scale)
    marginals["encoded"] = (np.asarray(x1f), np.asarray(x1p) * scale)
    scalars = e3nn.Irreps(c.latent_irreps).filter(keep=["0e", "0o"]).dim
    stats = ["| latents | scalar channels, sd | vector channels, RMS | consecutive nodes apart (Å) | latent Rg (Å) |",
             "|---|---|---|---|---|"]
    for name, (f, p) in marginals.items():
        step = np.linalg.norm(np.diff(p, axis=1), axis=-1)
        rg = np.sqrt(((p - p.mean(1, keepdims=True)) ** 2).sum(-1).mean(1))
        stats.append(f"| {name} | {f[..., :scalars].std():.2f} | {np.sqrt((f[..., scalars:] ** 2).mean()):.2f} | "
                     f"{step.mean():.2f} ± {step.std():.2f} | {rg.mean():.1f} |")
    text = "\n".join(["# Latent diffusion: completing the path from noised training latents\n",
                      f"Command: `python scripts/diagnose_latent_diffusion.py {' '.join(sys.argv[1:])}` ({b} training "
                      f"chains of {n} latent nodes, {int(lengths.min())}–{int(lengths.max())} residues; flow path, "
                      f"{args.steps} Euler steps from t₀).\n", *table, "", *stats]) + "\n"
    print(text)
    if args.out:
        from genmol.io.atomic import atomic_write_text

        atomic_write_text(args.out, text)


if __name__ == "__main__":
    run_script(main)
