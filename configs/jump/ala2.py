"""Jump simulator on the embedded alanine-dipeptide MD (300 K and 400 K, 1 ps frames; CPU size).

    genmol train jump --config configs/jump/ala2.py --workdir runs/jump_ala2
    genmol train jump --config configs/jump/ala2.py --workdir DIR --set model.path=stochastic

The last 20 % of the 300 K run is held out of training (data/md/README.md) and is the evaluation set.
"""

import ml_collections

from genmol.train.optim import optim_config


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.model_name = "jump"
    c.seed = 0
    c.data = ml_collections.ConfigDict(dict(
        path="embedded",          # "embedded" (data/md/ala2_mdcath.h5) | mdCATH-layout .h5 files or a directory
        jumps_ps=(1.0, 10.0, 100.0),
        crop=3,                   # residues per example (alanine dipeptide: ACE, ALA, NME); longer chains are cropped
        target_alignment="kabsch",  # kabsch | fisher | none: how the later frame is superimposed on the earlier
        frame_interval_ps=0.0,    # for files without a timestep_ps attribute (published mdCATH: 1000); 0: required
        valid_fraction=0.0,       # domains held out for evaluation (the embedded data holds out a 300 K tail)
        eval_examples=256,
    ))
    c.model = ml_collections.ConfigDict(dict(
        path="flow",              # flow (DeepJump: noised current frame -> next, ODE) | stochastic (EquiJump, SDE)
        hidden_irreps="48x0e + 16x1o + 8x2e",
        cond_depth=2,
        depth=3,
        k=8,                      # kNN neighbours of each residue node
        cutoff=12.0,              # Å, radial basis of the kNN edges
        num_basis=8,
        kernel=3,                 # sequence window of the mixing blocks (odd)
        sequence_span=12.0,       # Å, radial range inside sequence windows
        condition_features=12,    # Gaussians for temperature and for log10(jump)
        time_features=8,
        source_noise=0.5,         # Å, flow path: x0 = X_t + source_noise * z
        epsilon=1.0,              # stochastic path: SDE diffusion
        num_steps=32,             # integration steps per jump (genmol simulate --steps overrides)
        refuse_untrained=False,   # True: simulate refuses temperatures/jumps outside the trained ones
        temperatures=(),          # filled in from the data when training starts
        jumps_ps=(),
    ))
    # bond (Å²) and angle (rad²): ideal-geometry terms on x̂₁ for flow times t >= aux_min_t only (0: off).
    c.loss = ml_collections.ConfigDict(dict(vector_map=1.0, position=1.0, noise=1.0, max_radius=32.0, bond=0.0,
                                            angle=0.0, aux_min_t=0.5))
    c.optim = optim_config(name="adam", learning_rate=1e-3, schedule="warmup_cosine", warmup_steps=200,
                           grad_clip=1.0)
    c.train = ml_collections.ConfigDict(dict(steps=20000, batch_size=64, log_every=100, checkpoint_every=1000,
                                             keep_checkpoints=2, eval_every=2000, ema_decay=0.999))
    return c
