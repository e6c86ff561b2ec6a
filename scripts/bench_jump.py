"""Speed of the jump simulator against OpenMM on the same CPU, in one run: simulated ns per wall-clock second of
``genmol simulate``'s rollout (the shipped model unless ``--checkpoint``) per jump size and walker count, next to
OpenMM (amber14 + OBC2 implicit solvent, 2 fs, the project's MD reference setup; ``scripts/openmm_speed.py``) with
the same thread count; the training step time; and the cost of one jump against protein length (random weights
of the same architecture: speed does not depend on the weights). Compilation is excluded (reported apart).

Usage: python scripts/bench_jump.py [--checkpoint DIR] [--walkers 1 10 100] [--deltas 1 10 100] [--jumps 20]
       [--steps N] [--openmm-steps 5000] [--lengths 20 64 128 256 512] [--out experiments/benchmarks/jump.md]
Needs the ``bench`` extra (``pip install -e '.[bench]'``: OpenMM).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchtools import cpu_name, median_ms  # noqa: E402

from genmol.config import load_config  # noqa: E402
from genmol.errors import run_script  # noqa: E402
from genmol.io.structures import read_structure  # noqa: E402
from genmol.models.jump.rollout import Rollout, prepare_system  # noqa: E402
from genmol.models.store import build_model, load_model  # noqa: E402
from genmol.pretrained import pretrained_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ALA2 = ROOT / "tests/fixtures/proteins/alanine-dipeptide-explicit.pdb"
SHARED = ROOT.parent / "shared/data/proteins"


def rollout_seconds(model, system, walkers: int, delta: float, jumps: int, steps: int | None) -> tuple[float, float]:
    """``(first call s (compile + run), median s of a chunk of `jumps` jumps over 3 runs)``."""
    r = Rollout(model, system, walkers=walkers, temperature_K=300.0, delta_ps=delta, seed=0, num_steps=steps)
    t = time.perf_counter()
    next(r.chunks(jumps, chunk=jumps))
    first = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        next(r.chunks(jumps, chunk=jumps))
        times.append(time.perf_counter() - t)
    return first, float(np.median(times))


def protein_of_length(n: int):
    """A real chain of ``n`` residues: 1L2Y (20) or the embedded set's longest chain, tiled if shorter."""
    from genmol.data.proteins.dataset import ProteinSet
    from genmol.data.proteins.structure import Protein

    if n == 20:
        return read_structure(ROOT / "tests/fixtures/proteins/1l2y.pdb")
    p = max(ProteinSet.load("embedded").split("train"), key=lambda q: q.num_residues)
    reps = -(-n // p.num_residues)
    shift = np.arange(reps)[:, None, None, None] * np.array([0.0, 0.0, 30.0])
    pos = (p.positions[None] + shift).reshape(-1, 14, 3)[:n].astype(np.float32)
    tile = lambda a: np.tile(a, (reps,) + (1,) * (a.ndim - 1))[:n]  # noqa: E731
    mask = tile(p.atom_mask)
    return Protein(tile(p.aatype), np.where(mask[..., None], pos, 0), mask, np.arange(1, n + 1), np.full(n, ""),
                   np.full(n, "A"))


def train_step_ms(reps: int) -> float:
    import optax

    from genmol.models.jump.task import JumpTask, jump_loss

    c = load_config(ROOT / "configs/jump/ala2.py")
    task = JumpTask(c)
    model = task.create_model(nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    batch = jax.tree.map(jax.numpy.asarray, task.train_batch(0, range(int(c.train.batch_size))))

    @nnx.jit
    def step(model, opt, batch):
        loss, grads = nnx.value_and_grad(lambda m: jump_loss(m, batch, c.loss)["loss"].mean())(model)
        opt.update(model, grads)
        return loss

    return median_ms(step, model, opt, batch, reps=reps)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--walkers", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--deltas", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    ap.add_argument("--jumps", type=int, default=20)
    ap.add_argument("--steps", type=int, default=None, help="integration steps per jump (default: the model's)")
    ap.add_argument("--openmm-steps", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--lengths", type=int, nargs="+", default=[20, 64, 128, 256, 512])
    ap.add_argument("--out", default=str(ROOT / "experiments/benchmarks/jump.md"))
    args = ap.parse_args()

    from openmm_speed import openmm_ns_per_day_and_s

    path = Path(args.checkpoint) if args.checkpoint else pretrained_path("jump_ala2")
    model, cfg, _ = load_model(path, expect="jump")
    steps = args.steps or int(cfg.model.num_steps)
    ala2 = prepare_system(read_structure(ALA2), str(ALA2))

    def openmm(gb: str) -> dict:
        return openmm_ns_per_day_and_s(str(ALA2), temperature_K=300.0, steps=args.openmm_steps, threads=args.threads,
                                       gb=gb)

    # amber14's obc2.xml builds a CustomGBForce (the MD reference's setup); OpenMM's built-in GBSAOBCForce with the
    # same parameters is faster: the ratios use the faster of the two.
    omm_custom, omm_native = openmm("custom"), openmm("native")
    omm = max(omm_custom, omm_native, key=lambda r: r["ns_per_s"])
    rows = []
    for delta in args.deltas:
        for w in args.walkers:
            first, sec = rollout_seconds(model, ala2, w, delta, args.jumps, steps)
            ns_s = w * args.jumps * delta / 1e3 / sec
            rows.append((delta, w, 1e3 * sec / args.jumps, ns_s, ns_s / omm["ns_per_s"], first))
    omm_after = openmm("native" if omm is omm_native else "custom")
    train_ms = train_step_ms(reps=10)

    lengths = []
    rand = build_model(cfg)
    for n in args.lengths:
        system = prepare_system(protein_of_length(n))
        first, sec = rollout_seconds(rand, system, 1, 10.0, 5, steps)
        lengths.append((n, system.num_atoms, 1e3 * sec / 5, first))
    omm_protein = None
    lysozyme = SHARED / "1am7_protein.pdb"
    if lysozyme.is_file():
        try:
            omm_protein = openmm_ns_per_day_and_s(str(lysozyme), temperature_K=300.0, steps=100, warmup_steps=20,
                                                  threads=args.threads, gb="native", minimize_iterations=100)
        except Exception as e:  # reported, not fatal: the length table stands without it
            omm_protein = {"error": str(e)}

    cmd = "python scripts/bench_jump.py " + " ".join(sys.argv[1:])
    lines = [
        "# Jump simulator speed against OpenMM (same CPU, same run)", "",
        f"Command: `{cmd.strip()}`  ",
        f"Machine: {cpu_name()}, jax {jax.__version__}, "
        f"{args.threads} threads for OpenMM ({omm.get('openmm_version', '?')}, platform {omm.get('platform', 'CPU')}); "
        f"model `{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}` ({steps} integration steps per "
        f"jump, path {cfg.model.path}). Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
        "## Alanine dipeptide (10 heavy atoms; OpenMM: 22 atoms with hydrogens, amber14 + OBC2, 2 fs)", "",
        f"OpenMM, amber14 `implicit/obc2.xml` (CustomGBForce, the MD reference's setup): "
        f"{omm_custom['ns_per_s']:.4g} ns/s ({omm_custom['ns_per_day']:.4g} ns/day); the built-in GBSAOBCForce with "
        f"the same parameters: {omm_native['ns_per_s']:.4g} ns/s ({omm_native['ns_per_day']:.4g} ns/day). Ratios "
        f"below are against the faster, **{omm['ns_per_s']:.4g} ns/s** ({omm_after['ns_per_s']:.4g} ns/s when "
        f"measured again after the genmol runs; {args.openmm_steps} steps timed each).", "",
        "| Δ (ps) | walkers | ms per batched jump | simulated ns/s | × OpenMM | first call (compile) s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {d:g} | {w} | {ms:.1f} | {ns:.4g} | {x:.3g} | {f:.1f} |" for d, w, ms, ns, x, f in rows]
    lines += ["", f"Training step (configs/jump/ala2.py, batch 64, Adam; median of 10): **{train_ms:.1f} ms**.", "",
              "## One jump against protein length (1 walker, random weights of the same architecture)", "",
              "| residues | heavy atoms | ms per jump | first call (compile) s |", "|---|---|---|---|"]
    lines += [f"| {n} | {a} | {ms:.1f} | {f:.1f} |" for n, a, ms, f in lengths]
    if omm_protein is not None:
        if "error" in omm_protein:
            lines += ["", f"OpenMM on 1AM7 (lysozyme) failed here: {omm_protein['error']}"]
        else:
            lines += ["", f"OpenMM on 1AM7 (T4 lysozyme, {omm_protein.get('atoms', '?')} atoms with hydrogens, "
                          f"GBSAOBCForce, 100 steps): {omm_protein['ns_per_s']:.4g} ns/s "
                          f"({omm_protein['ns_per_day']:.4g} ns/day)."]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    run_script(main)
