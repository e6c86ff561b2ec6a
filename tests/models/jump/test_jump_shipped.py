"""The shipped jump simulator (genmol/pretrained/jump_ala2): it loads, it is the default of genmol simulate, and a
short rollout from the native alanine dipeptide keeps the chemistry and explores both backbone basins."""

import numpy as np
import pytest

from genmol.eval.dynamics import backbone_dihedrals, basin_labels
from genmol.io.structures import read_structure
from genmol.models.jump.rollout import Rollout, prepare_system
from genmol.models.store import load_model
from genmol.pretrained import pretrained_path
from helpers import ROOT


@pytest.fixture(scope="module")
def frames():
    model, config, _ = load_model(pretrained_path("jump_ala2"), expect="jump")
    assert list(config.model.temperatures) == [300.0, 400.0] and list(config.model.jumps_ps) == [1.0, 10.0, 100.0]
    protein = read_structure(ROOT / "tests/fixtures/proteins/alanine-dipeptide-explicit.pdb")
    system = prepare_system(protein)
    rollout = Rollout(model, system, walkers=16, temperature_K=300.0, delta_ps=100.0, seed=0)
    return system, np.concatenate(list(rollout.chunks(12, chunk=12)))  # [12, 16, 3, 14, 3]


def test_a_rollout_keeps_the_covalent_geometry(frames):
    system, x = frames
    assert np.isfinite(x).all() and np.all(x[..., ~system.atom_mask, :] == 0)
    n_ca = np.linalg.norm(x[..., 1, 1, :] - x[..., 1, 0, :], axis=-1)  # ALA N–CA, MD: 1.46 ± 0.03 Å
    ca_c = np.linalg.norm(x[..., 1, 2, :] - x[..., 1, 1, :], axis=-1)
    assert abs(n_ca.mean() - 1.46) < 0.03 and n_ca.std() < 0.06, (n_ca.mean(), n_ca.std())
    assert abs(ca_c.mean() - 1.53) < 0.03 and ca_c.std() < 0.06, (ca_c.mean(), ca_c.std())


def test_a_rollout_visits_both_backbone_basins(frames):
    system, x = frames
    f = x.reshape((-1,) + x.shape[2:])
    d = backbone_dihedrals(f, system.aatype, system.atom_mask)
    labels = basin_labels(d.phi[:, 1], d.psi[:, 1])  # the ALA residue: 0 alpha_R, 1 beta_PPII, 2 alpha_L
    share = {b: float(np.mean(labels == i)) for i, b in enumerate(("alpha_R", "beta_PPII"))}
    # 192 frames 100 ps apart; the MD's populations are 0.39 / 0.61
    assert 0.15 < share["alpha_R"] < 0.65 and 0.35 < share["beta_PPII"] < 0.85, share
