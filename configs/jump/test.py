"""Tiny jump-simulator config for tests and CI (seconds on CPU)."""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("ala2.py"))
    c.data.eval_examples = 4
    c.model.hidden_irreps = "8x0e + 4x1o + 2x2e"
    c.model.cond_depth = 1
    c.model.depth = 1
    c.model.condition_features = 4
    c.model.time_features = 2
    c.model.num_steps = 4
    c.train.update(dict(steps=6, batch_size=4, log_every=1, checkpoint_every=3, eval_every=3, ema_decay=0.9))
    return c
