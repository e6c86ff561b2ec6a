"""Ophiuchus-style all-atom autoencoder on the embedded protein set, 4 residues per latent node (CPU size).

    genmol train ophiuchus --config configs/ophiuchus/proteins.py --workdir runs/ophiuchus
    genmol train ophiuchus --config configs/ophiuchus/proteins.py --workdir DIR --set data.path=MY_PDBS

Other compression rates: ``--set model.strides=(2,2,2) model.kernels=(4,4,4)`` with one more entry in
``model.irreps`` (8 residues per node); ``model.strides=()`` is the no-coarsening baseline.
"""

import ml_collections

from genmol.train.optim import optim_config


def get_config() -> ml_collections.ConfigDict:
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
    c.model = ml_collections.ConfigDict(dict(
        irreps=("32x0e + 16x1o + 4x2e", "48x0e + 24x1o + 6x2e", "64x0e + 32x1o + 8x2e"),
        strides=(2, 2),       # residues per latent node = product of the strides
        kernels=(4, 4),       # kernel - stride even: windows overlap by (kernel - stride) / 2 nodes each side
        mix_kernel=5,         # stride-1 convolution of the mixing blocks (odd)
        depth=1,              # mixing blocks per level (encoder and decoder each)
        square_divisor=4,     # the self-interaction squares irreps with 1/square_divisor of the channels
        latent_irreps="16x0e + 16x1o",
        num_basis=4,
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
