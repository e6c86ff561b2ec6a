"""``proteins.py`` at 2 residues per latent node (1 coarsening level of stride 2, kernel 4), for the strides table of
experiments/ophiuchus_proteins/README.md. Levels beyond the base config's three keep its widest irreps (``64x0e +
32x1o + 8x2e``); the latent is ``16x0e + 16x1o`` per node as in the shipped stride-4 model.

    genmol train ophiuchus --config configs/ophiuchus/proteins_stride2.py --workdir runs/oph_s2
"""

from pathlib import Path

from genmol.config import load_config

LEVELS = 1  # log2(residues per latent node)


def get_config():
    c = load_config(Path(__file__).with_name("proteins.py"))
    widest = c.model.irreps[-1]
    c.model.strides = (2,) * LEVELS
    c.model.kernels = (4,) * LEVELS
    c.model.irreps = tuple(c.model.irreps[: LEVELS + 1]) + (widest,) * max(0, LEVELS + 1 - len(c.model.irreps))
    return c
