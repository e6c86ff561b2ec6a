"""The shipped CPU model's focus head (``qm9_cpu.py``) with a paper-size position head: NequIP on the eSCN SO(2)
convolution (bfloat16 operands for its per-order maps), 64 channels, lmax 5, 3 interactions, position lmax 5,
packed dynamically. The shipped model's position head (lmax 3, 32 channels; 2.45 nats of position KL) is the
suspected bottleneck of its model-alone validity (experiments/symphony_qm9/README.md, stage 4); this config trains
a larger one on the shipped focus head:

    genmol train symphony --config configs/symphony/qm9_cpu_pos5.py --workdir DIR \\
        --init-from experiments/symphony_qm9/models/stage2 --init-fresh position_encoder,species_embed,coeffs

The radial bins (0.9–2.03 Å) and the 30 × 59 training grid stay the shipped model's.
"""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("qm9_cpu.py"))
    c.data.source = "qm9pack"
    c.data.split = "edm_train"
    c.data.packing = "dynamic"
    c.model.position_encoder.update(dict(channels=64, lmax=5, num_interactions=3, conv="so2",
                                         matmul_dtype="bfloat16"))
    c.model.position_lmax = 5
    c.loss.target_lmax = 5
    c.loss.focus_weight = 0.0  # the focus head is the shipped one, loaded and left as it is
    c.optim.learning_rate = 1e-3
    c.optim.warmup_steps = 200
    c.train.steps = 12_000
    c.train.checkpoint_every = 500
    return c
