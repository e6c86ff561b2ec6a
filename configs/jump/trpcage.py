"""Jump simulator on the embedded Trp-cage MD (TC5b, 20 residues, 320 K and 400 K, 1 ps frames; CPU size).

    genmol train jump --config configs/jump/trpcage.py --workdir runs/jump_trpcage

The whole protein is one example (no crop). The last 20 % of the 320 K run is held out of training and is the
evaluation set (data/md/README.md); ``genmol evaluate dynamics --reference trpcage:320`` compares rollouts with it.
The data hold 700 ps per temperature, so 100 ps jumps have 460 training pairs at 320 K and 600 at 400 K.
"""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("ala2.py"))
    c.data.update(dict(
        path="embedded:trpcage",  # data/md/trpcage_mdcath.h5 (model.temperatures become (320, 400) from the data)
        jumps_ps=(1.0, 10.0, 100.0),
        crop=20,                  # the whole protein
    ))
    c.model.update(dict(
        hidden_irreps="64x0e + 16x1o + 8x2e",  # ala2's, with more scalars for 20 residue types in context
        k=12,                     # kNN neighbours (of 19 others)
        cutoff=16.0,              # Å: Trp-cage is ~25 Å across
    ))
    c.train.update(dict(steps=20000, batch_size=16))
    return c
