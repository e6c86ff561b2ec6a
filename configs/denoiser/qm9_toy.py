"""Toy rotation-augmented denoiser on 4 QM9 molecules with 10 atoms (experiments/optimal_denoiser)."""

import ml_collections

from genmol.nn import encoder_config
from genmol.train.optim import optim_config


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.model_name = "denoiser"
    c.seed = 0
    c.data = ml_collections.ConfigDict(dict(source="embedded", num_atoms=10, num_molecules=4, sigma_min=0.05,
                                            sigma_max=1.0))
    c.model = ml_collections.ConfigDict()
    # Complete graph on positions scaled by c_in (clouds of about unit size): cutoff in scaled units.
    c.model.encoder = encoder_config("nequip", channels=16, lmax=2, num_interactions=3, cutoff=6.0,
                                     avg_num_neighbors=9.0, radial_hidden=(32,))
    c.model.num_species = 5
    c.model.num_fourier = 4
    c.model.sigma_data = 1.3
    c.model.target_alignment = "fisher"  # none | kabsch | fisher | fisher_series1 | fisher_series2
    c.optim = optim_config(name="adam", learning_rate=3e-3, schedule="warmup_cosine", warmup_steps=100,
                           grad_clip=10.0)
    c.train = ml_collections.ConfigDict(dict(steps=3000, batch_size=64, log_every=10, checkpoint_every=1000,
                                             keep_checkpoints=2, eval_every=0, ema_decay=0.0))
    return c
