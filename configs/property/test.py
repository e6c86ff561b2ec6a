"""Tiny property-regression config for tests and CI (seconds on CPU)."""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("qm9.py"))
    c.data.limit = 200
    c.data.num_valid = 40
    c.model.encoder.channels = 8
    c.model.encoder.lmax = 1
    c.model.encoder.num_interactions = 2
    c.model.readout_hidden = 16
    c.optim.warmup_steps = 5
    c.train.update(dict(steps=30, batch_size=8, log_every=1, checkpoint_every=10, eval_every=0))
    return c
