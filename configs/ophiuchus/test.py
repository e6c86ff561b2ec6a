"""Tiny autoencoder config for tests and CI (seconds on CPU)."""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("proteins.py"))
    c.data.crop_length = 24
    c.data.eval_examples = 4
    c.model.irreps = ("8x0e + 4x1o + 2x2e", "8x0e + 4x1o + 2x2e", "8x0e + 4x1o + 2x2e")
    c.model.latent_irreps = "4x0e + 4x1o"
    c.loss.update(dict(planarity=1.0, clash=0.1))  # every loss term and the latent noise run in the tests
    c.augment.update(dict(latent_noise=0.05, latent_position_noise=0.1))
    c.train.update(dict(steps=6, batch_size=2, log_every=1, checkpoint_every=3, eval_every=3, ema_decay=0.9))
    return c
