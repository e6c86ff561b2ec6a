"""Tiny denoiser config for tests (seconds on CPU)."""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("qm9_toy.py"))
    c.model.encoder.channels = 8
    c.model.encoder.num_interactions = 1
    c.train.update(dict(steps=20, batch_size=8, log_every=1, checkpoint_every=10))
    return c
