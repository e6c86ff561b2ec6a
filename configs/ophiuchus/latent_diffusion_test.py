"""Tiny latent diffusion config for tests and CI (needs ``--set data.autoencoder=DIR``, e.g. a tiny autoencoder)."""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("latent_diffusion.py"))
    c.data.max_length = 48
    c.data.windows_per_chain = 1
    c.model.hidden_irreps = "8x0e + 4x1o + 2x2e"
    c.model.depth = 1
    c.model.num_steps = 4
    c.train.update(dict(steps=4, batch_size=2, log_every=1, checkpoint_every=2, ema_decay=0.9))
    return c
