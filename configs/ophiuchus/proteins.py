"""Ophiuchus-style all-atom autoencoder on the embedded protein set, 4 residues per latent node (CPU size).

    genmol train ophiuchus --config configs/ophiuchus/proteins.py --workdir runs/ophiuchus
    genmol train ophiuchus --config configs/ophiuchus/proteins.py --workdir DIR --set data.path=MY_PDBS

Other compression rates: ``--config configs/ophiuchus/proteins.py:R`` for R = 1 (no coarsening: one latent node
per residue), 2, 4 (the default), 8 or 16 residues per latent node: log2(R) levels of stride 2 and kernel 4; levels
beyond the three below keep the widest irreps (``64x0e + 32x1o + 8x2e``), the latent stays ``16x0e + 16x1o`` per node
(the strides table of experiments/ophiuchus_proteins/README.md).
"""

import ml_collections

from genmol.errors import ConfigError
from genmol.train.optim import optim_config


def get_config(residues_per_node: str = "4") -> ml_collections.ConfigDict:
    r = int(residues_per_node)
    levels = r.bit_length() - 1
    if r < 1 or r != 2**levels:
        raise ConfigError(f"residues per latent node must be a power of 2 (1, 2, 4, 8, 16, ...), got {r}")
    c = ml_collections.ConfigDict()
    c.model_name = "ophiuchus"
    c.seed = 0
    c.data = ml_collections.ConfigDict(dict(
        path="embedded",      # "embedded" (data/proteins/set.npz) | a .npz protein set | a directory of PDB/mmCIF
        crop_length=64,       # residues per training crop (contiguous window; shorter chains are padded)
        min_length=16,
        max_length=0,         # 0: no upper limit
        eval_examples=32,
    ))
    widths = ("32x0e + 16x1o + 4x2e", "48x0e + 24x1o + 6x2e", "64x0e + 32x1o + 8x2e")
    c.model = ml_collections.ConfigDict(dict(
        irreps=(widths + widths[-1:] * levels)[:levels + 1],  # per level, the residue level first
        strides=(2,) * levels,  # residues per latent node = product of the strides
        kernels=(4,) * levels,  # kernel - stride even: windows overlap by (kernel - stride) / 2 nodes each side
        mix_kernel=5,         # stride-1 convolution of the mixing blocks (odd)
        depth=1,              # mixing blocks per level (encoder and decoder each)
        square_divisor=4,     # the self-interaction squares irreps with 1/square_divisor of the channels
        latent_irreps="16x0e + 16x1o",
        num_basis=4,
        ideal_geometry=False,  # rebuild residues with ideal bond lengths and angles (genmol.geometry.ideal_residues)
    ))
    # Units: vector_map and position Å-Huber, cross_entropy nats, bond Å², angle rad², planarity sin²ω of the peptide
    # dihedral, clash Å of overlap per residue. The clash term costs as much as the vector map (all atom pairs); 0
    # leaves a term out (its metric is still measured).
    c.loss = ml_collections.ConfigDict(dict(vector_map=5.0, position=1.0, cross_entropy=1.0, bond=10.0, angle=5.0,
                                            planarity=0.0, clash=0.0, max_radius=32.0))
    # Training-only Gaussian noise on the latents the decoder sees: a fraction of each latent channel's RMS, and Å on
    # the latent node positions (0: off). Makes the decoder robust to the imperfect latents a diffusion model samples.
    c.augment = ml_collections.ConfigDict(dict(latent_noise=0.0, latent_position_noise=0.0))
    c.optim = optim_config(name="adam", learning_rate=2e-3, schedule="warmup_cosine", warmup_steps=200,
                           grad_clip=1.0)
    c.train = ml_collections.ConfigDict(dict(steps=10000, batch_size=8, log_every=50, checkpoint_every=500,
                                             keep_checkpoints=2, eval_every=1000, ema_decay=0.999))
    return c
