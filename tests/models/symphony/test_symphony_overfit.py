"""The Symphony model can memorise a small training set and greedy sampling replays it.

Trains a small model on QM9 molecules 1–8 (3–8 atoms, no input noise), then samples greedily
(argmax focus, species, radius bin and direction on a fine S² grid) from a single H atom. The
result must be one of the training molecules up to rotation and atom order (RMSD < 0.1 Å after
Kabsch). The loss cannot reach zero exactly: when several neighbours are equally near (the H
atoms of CH4), the target position is one of them at random, so the best model spreads its
density over all of them and the position KL keeps that mixture's entropy.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmol.config import load_config
from genmol.data.molecules.species import species_index
from genmol.geometry.kabsch import aligned_rmsd
from genmol.io.molecules import read_molecules
from genmol.models.symphony.sampler import SamplerConfig, make_sampler
from genmol.models.symphony.settings import SamplingSettings
from genmol.models.symphony.task import SymphonyTask
from genmol.train.export import load_run_model
from genmol.train.trainer import train_and_evaluate
from tests.helpers import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "qm9" / "qm9_first8.extxyz"


def _best_rmsd(positions, species, references) -> float:
    """Smallest Kabsch RMSD of a molecule to any reference, over atom orders that match species."""
    best = np.inf
    for ref in references:
        rs = species_index(ref.atomic_numbers)
        if sorted(rs) != sorted(species):
            continue
        perms = np.array([p for p in itertools.permutations(range(len(rs))) if np.array_equal(rs[list(p)], species)])
        ref_pos = jnp.asarray(ref.positions)
        rmsd = jax.vmap(lambda p: aligned_rmsd(positions, ref_pos[p]))(perms)
        best = min(best, float(np.min(rmsd)))
    return best


# the two configurations the paper-size configs come in: qm9.py's CG encoders, and qm9_so2.py's SO(2) encoders with
# bfloat16 maps (both with dynamic packing; the test config itself packs a fixed count, as qm9_cpu.py)
VARIANTS = {
    "cg": [],
    "so2-bf16-dynamic": [f"model.{enc}.{k}={v}" for enc in ("focus_encoder", "position_encoder")
                         for k, v in (("conv", "'so2'"), ("matmul_dtype", "'bfloat16'"))] + ["data.packing='dynamic'"],
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def overfit(tmp_path_factory, request):
    molecules, _ = read_molecules(FIXTURE)
    config = load_config(ROOT / "configs" / "symphony" / "test.py", [
        "train.steps=500", "train.batch_size=16", "optim.learning_rate=3e-3", "data.position_noise=0.0",
        "data.orderings_per_molecule=4", "train.ema_decay=0.0", "model.num_radii=64",
        "train.checkpoint_every=500", "train.log_every=50"] + VARIANTS[request.param])
    task = SymphonyTask(config, molecules=molecules)
    workdir = tmp_path_factory.mktemp("overfit")
    result = train_and_evaluate(task, config, workdir, progress=False)
    return molecules, load_run_model(config, workdir), result


def test_training_loss_falls_to_a_fraction_of_its_start(overfit):
    _, _, result = overfit
    losses = np.array([result.losses[s] for s in sorted(result.losses)])
    assert np.mean(losses[-50:]) < 0.35 * np.mean(losses[:10]), (np.mean(losses[:10]), np.mean(losses[-50:]))


def test_greedy_sampling_reproduces_a_training_molecule(overfit):
    molecules, model, _ = overfit
    sampler = make_sampler(model, SamplerConfig(max_atoms=10, greedy=True, settings=SamplingSettings(grid=(90, 179))))
    pos0 = np.zeros((1, 10, 3), np.float32)
    sp0 = np.zeros((1, 10), np.int32)  # one H atom
    pos, sp, n, stopped = sampler(jax.random.split(jax.random.key(0), 1), pos0, sp0, 1)
    k = int(n[0])
    assert stopped[0] and k > 1
    rmsd = _best_rmsd(pos[0, :k].astype(np.float64), sp[0, :k],
                      [molecules.molecule(i) for i in range(len(molecules))])
    assert rmsd < 0.1, (sp[0, :k], rmsd)
