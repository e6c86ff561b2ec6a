"""Speed of the protein autoencoder and latent diffusion: encode/decode time against chain length, training step
time and sampling time per protein, with random weights of the shipped configs (speed does not depend on the
weights). Compilation is excluded and reported separately; medians of ``--reps`` runs.

Usage: python scripts/bench_ophiuchus.py [--lengths 32 64 128 256 512 1024] [--reps 5] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchtools import cpu_name, median_ms  # noqa: E402

from genmol.config import load_config  # noqa: E402
from genmol.data.proteins.batch import pad_proteins, random_crop_batch  # noqa: E402
from genmol.data.proteins.dataset import ProteinSet  # noqa: E402
from genmol.errors import run_script  # noqa: E402
from genmol.models.store import build_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def chain_of_length(proteins, n: int):
    """A real chain of ``n`` residues: the longest set protein tiled (positions shifted) if it is shorter."""
    from genmol.data.proteins.structure import Protein

    p = max(proteins, key=lambda q: q.num_residues)
    reps = -(-n // p.num_residues)
    shift = np.arange(reps)[:, None, None, None] * np.array([0.0, 0.0, 30.0])
    pos = (p.positions[None] + shift).reshape(-1, 14, 3)[:n]
    tile = lambda a: np.tile(a, (reps,) + (1,) * (a.ndim - 1))[:n]  # noqa: E731
    return Protein(tile(p.aatype), pos, tile(p.atom_mask), np.arange(1, n + 1), np.full(n, ""), np.full(n, "A"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[32, 64, 128, 256, 512, 1024])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "experiments/benchmarks/ophiuchus.md"))
    args = ap.parse_args()

    cfg = load_config(ROOT / "configs/ophiuchus/proteins.py")
    model = build_model(cfg)
    # the shipped model's architecture: the same network, residues rebuilt from ideal geometry
    ideal_model = build_model(load_config(ROOT / "configs/ophiuchus/proteins_shipped.py"))
    proteins = list(ProteinSet.load("embedded").split("train"))
    encode = nnx.jit(lambda m, b: m.encode(b.aatype, b.positions, b.atom_mask, b.residue_mask))
    decode = nnx.jit(lambda m, lat, mask: m.decode(lat, mask)[1])
    rows = []
    for n in args.lengths:
        batch = jax.tree.map(jnp.asarray, pad_proteins([chain_of_length(proteins, n)], n, 1))
        t = time.perf_counter()
        lat = jax.block_until_ready(encode(model, batch))
        jax.block_until_ready(decode(model, lat, batch.residue_mask))
        compile_s = time.perf_counter() - t
        enc = median_ms(lambda: jax.block_until_ready(encode(model, batch)), reps=args.reps)
        dec = median_ms(lambda: jax.block_until_ready(decode(model, lat, batch.residue_mask)), reps=args.reps)
        jax.block_until_ready(decode(ideal_model, lat, batch.residue_mask))
        ideal = median_ms(lambda: jax.block_until_ready(decode(ideal_model, lat, batch.residue_mask)), reps=args.reps)
        rows.append((n, enc, dec, ideal, compile_s))
        print(f"{n:5d} residues: encode {enc:8.1f} ms ({1000 * enc / n:6.1f} µs/residue), decode {dec:8.1f} ms "
              f"({1000 * dec / n:6.1f} µs/residue), with ideal geometry {ideal:8.1f} ms, first call {compile_s:.1f} s",
              flush=True)

    # Training step (fwd + bwd + Adam) at the config's batch and crop.
    from genmol.models.ophiuchus.task import reconstruction_loss
    import optax

    tx = optax.adam(1e-3)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt = tx.init(params)
    batch = jax.tree.map(jnp.asarray, random_crop_batch(proteins, int(cfg.data.crop_length), 0, 0,
                                                        range(int(cfg.train.batch_size))))

    @jax.jit
    def step(params, opt, batch):
        def f(p):
            m = nnx.merge(graphdef, p, rest)
            return jnp.mean(reconstruction_loss(m, batch, cfg.loss)["loss"])

        loss, g = jax.value_and_grad(f)(params)
        upd, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, upd), opt, loss

    t = time.perf_counter()
    jax.block_until_ready(step(params, opt, batch))
    step_compile = time.perf_counter() - t
    step_ms = median_ms(lambda: jax.block_until_ready(step(params, opt, batch)), reps=args.reps)
    print(f"train step: {step_ms:.0f} ms ({cfg.train.batch_size} crops of {cfg.data.crop_length}); "
          f"compile {step_compile:.1f} s", flush=True)

    lines = [
        "", f"## Autoencoder speed ({time.strftime('%Y-%m-%d')}, {cpu_name()}, "
        f"{os.cpu_count()} cores, jax {jax.__version__})", "",
        f"Command: `python scripts/bench_ophiuchus.py --lengths {' '.join(map(str, args.lengths))} "
        f"--reps {args.reps}`. Config `configs/ophiuchus/proteins.py` (4 residues per latent node), random weights, "
        "one chain per call, float32, medians; compile (first call) excluded and listed. Decode with ideal geometry: "
        "the same with `model.ideal_geometry=True` (the shipped model's decoder, residues rebuilt by NeRF).", "",
        "| residues | encode ms | decode ms | decode ms, ideal geometry | encode µs/residue | decode µs/residue "
        "| first call s |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, enc, dec, ideal, c in rows:
        lines.append(f"| {n} | {enc:.1f} | {dec:.1f} | {ideal:.1f} | {1000 * enc / n:.1f} | {1000 * dec / n:.1f} "
                     f"| {c:.1f} |")
    lines += ["", f"Training step (forward, backward, Adam; {cfg.train.batch_size} crops of {cfg.data.crop_length} "
              f"residues, all loss terms of the config): **{step_ms:.0f} ms**, compile {step_compile:.1f} s.", ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = "" if out.exists() else "# Protein autoencoder and latent diffusion benchmarks\n"
    with open(out, "a") as f:
        f.write(head + "\n".join(lines))
    print(f"appended to {out}")


if __name__ == "__main__":
    run_script(main)
