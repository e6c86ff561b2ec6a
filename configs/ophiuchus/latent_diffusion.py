"""Latent diffusion of new proteins (32-128 residues) in the shipped autoencoder's latent space (CPU size).

    genmol train protein_diffusion --config configs/ophiuchus/latent_diffusion.py --workdir runs/protein_diffusion
    genmol train protein_diffusion ... --set data.autoencoder=MY_AUTOENCODER_DIR

``data.autoencoder``: "pretrained" (genmol/pretrained/ophiuchus_proteins) or a model directory written by
``genmol export``. Its decoder is stored inside the diffusion model, so ``genmol sample proteins`` needs only
this model.
"""

import ml_collections

from genmol.train.optim import optim_config


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.model_name = "protein_diffusion"
    c.seed = 0
    c.data = ml_collections.ConfigDict(dict(path="embedded", autoencoder="pretrained", min_length=32, max_length=128,
                                            windows_per_chain=4))
    c.model = ml_collections.ConfigDict(dict(
        path="flow",                 # flow (flow matching, ODE) | stochastic (two-sided stochastic interpolant, SDE)
        target_alignment="fisher",   # none | kabsch | fisher: the clean target rotated into x_t's frame
        preconditioning="edm",       # edm: x̂₁ = c_skip x_t + c_out F (Karras et al. 2022) | none: x̂₁ = F
        sigma_data=1.0,              # per-coordinate std of the normalised latents (features RMS 1; positions ~1)
        hidden_irreps="64x0e + 32x1o + 8x2e",
        depth=4,
        mix_kernel=5,
        num_basis=4,
        cutoff=4.0,                  # normalised units (x position_scale Å)
        time_features=8,
        chain_features=8,
        position_scale=10.0,         # Å per normalised unit
        num_steps=200,               # integration steps when sampling
        # Filled in from the autoencoder and its latents when training starts:
        latent_irreps="",
        residues_per_node=0,
        feature_shift=(),
        feature_scale=(),
        autoencoder=ml_collections.ConfigDict(),
    ))
    c.loss = ml_collections.ConfigDict(dict(features=1.0, noise=1.0))
    c.optim = optim_config(name="adam", learning_rate=1e-3, schedule="warmup_cosine", warmup_steps=200,
                           grad_clip=1.0)
    c.train = ml_collections.ConfigDict(dict(steps=6000, batch_size=16, log_every=50, checkpoint_every=500,
                                             keep_checkpoints=2, eval_every=0, ema_decay=0.999))
    return c
