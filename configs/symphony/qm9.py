"""Paper-size Symphony (Daigavane et al. 2024, the evaluated QM9 run): E3SchNet 64 channels lmax 2 for
focus/species, NequIP 64 channels lmax 5 for positions, 3 interactions each, 2 position channels, 64 radial
bins over 0.9–2.0 Å, Adam 5e-4 constant, 16 fragments per batch (on average: packed dynamically, as the
original's ``jraph.dynamically_batch``), 0.05 Å input noise, 5 Å radius graphs.

Differences from the paper, on purpose: our NequIP is the e3nn tensor-product layer, not eSCN; the training
grid is the paper's sampling sweep grid (45 × 89) rather than 180 × 359. Sized for accelerators; on this
project's 2-core CPU it runs ~20× slower per step than ``qm9_cpu.py`` (experiments/benchmarks/symphony.md).
"""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("qm9_cpu.py"))
    c.data.source = "qm9pack"
    c.data.split = "edm_train"
    c.data.packing = "dynamic"  # 16 fragments on average, packed near their real size (issue #20)
    c.model.focus_encoder.update(dict(channels=64, lmax=2, num_interactions=3))
    c.model.position_encoder.update(dict(channels=64, lmax=5, num_interactions=3))
    c.model.focus_hidden = 128
    c.model.position_lmax = 5
    c.model.radius_max = 2.0
    c.model.res_beta = 45
    c.model.res_alpha = 89
    c.loss.target_lmax = 5
    c.optim.learning_rate = 5e-4
    c.optim.schedule = "constant"
    c.train.batch_size = 16
    c.train.steps = 10_000_000
    c.train.checkpoint_every = 10_000
    return c
