"""Paper-size Symphony (``qm9.py``) with both encoders on the channel-wise SO(2) convolution
(``conv="so2"``, ``so2_mix=False``): the published model's NequIP-eSCN layer (e3nn-jax ``LinearSHTP(mix=False)``:
per-edge, per-channel, per-path coefficients from the radial network; channels mixed per node), every order,
float32. Everything else as ``qm9.py``.

Against ``qm9_so2.py`` (eSCN with per-edge channel mixing: a ``2C(L+1-m)``-square map per order, ~1.05 M
multiply-adds per edge at C = 64, L = 5) this does ~0.19 M per edge, most of it the radial network's last layer.
Deviation from the original kept on purpose: the paths into one output degree are summed on the edge
(``genmol.nn.so2``), not kept as separate channels for the node map. Speed: experiments/benchmarks/symphony_original.md.
"""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("qm9.py"))
    for enc in (c.model.focus_encoder, c.model.position_encoder):
        enc.conv = "so2"
        enc.so2_mix = False
    return c
