"""Tiny Symphony config for tests and CI (seconds on CPU)."""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("qm9_cpu.py"))
    c.data.limit = 8
    for enc in (c.model.focus_encoder, c.model.position_encoder):
        enc.channels = 8
        enc.num_interactions = 2
    c.model.focus_hidden = 16
    c.model.num_radii = 16
    c.model.res_beta = 12
    c.model.res_alpha = 23
    c.optim.learning_rate = 3e-3
    c.train.update(dict(steps=10, batch_size=8, log_every=1, checkpoint_every=5, ema_decay=0.9))
    return c
