"""The architecture of the shipped model (``genmol/pretrained/symphony_qm9``, stages 8–10 of
experiments/symphony_qm9/README.md): ``qm9_cpu_pos5.py``'s position head (NequIP on the eSCN SO(2) convolution,
64 channels, lmax 5, 3 interactions) and a 64-channel, 3-interaction E3SchNet focus head whose first interaction is
residual too (``embedding_residual``: the one-atom seed's features depend on its species), focus MLP 128. Both heads
train (the stages trained them one at a time); Adam 5e-4, EMA with warm-up. To continue training the shipped model
or fine-tune it on your data:

    genmol train symphony --config configs/symphony/qm9_cpu_shipped.py --workdir DIR \\
        --init-from genmol/pretrained/symphony_qm9
"""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("qm9_cpu_pos5.py"))
    c.model.focus_encoder.update(dict(channels=64, num_interactions=3, embedding_residual=True))
    c.model.focus_hidden = 128
    c.loss.focus_weight = 1.0
    c.loss.position_weight = 1.0
    c.optim.learning_rate = 5e-4
    c.optim.warmup_steps = 100
    c.train.ema_warmup = True
    return c
