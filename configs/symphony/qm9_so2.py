"""Paper-size Symphony (``qm9.py``) with both encoders on the eSCN SO(2) convolution (``conv="so2"``, every
order), which is what the published model uses for its NequIP position encoder; everything else as ``qm9.py``.
Speed against ``qm9.py``: experiments/benchmarks/symphony_so2.md.
"""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("qm9.py"))
    c.model.focus_encoder.conv = "so2"
    c.model.position_encoder.conv = "so2"
    return c
