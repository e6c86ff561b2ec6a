"""Tiny denoiser config for tests (seconds on CPU)."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_denoiser_toy", Path(__file__).with_name("qm9_toy.py"))
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)


def get_config():
    c = _base.get_config()
    c.model.encoder.channels = 8
    c.model.encoder.num_interactions = 1
    c.train.update(dict(steps=20, batch_size=8, log_every=1, checkpoint_every=10))
    return c
