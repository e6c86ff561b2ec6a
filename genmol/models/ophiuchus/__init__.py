"""Ophiuchus-style protein coarse-graining autoencoder (:mod:`.autoencoder`) and its latent diffusion."""
