"""Tiny Symphony config for tests and CI (seconds on CPU)."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_symphony_cpu", Path(__file__).with_name("qm9_cpu.py"))
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)


def get_config():
    c = _base.get_config()
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
