"""The architecture of the shipped autoencoder (``genmol/pretrained/ophiuchus_proteins``,
experiments/ophiuchus_proteins/README.md): ``proteins.py`` (4 residues per latent node) decoding with ideal residue
geometry (``model.ideal_geometry``: every residue rebuilt from ideal bond lengths and angles with the predicted
torsions). To continue training the shipped model or fine-tune it on your data:

    genmol train ophiuchus --config configs/ophiuchus/proteins_shipped.py --workdir DIR \\
        --init-from genmol/pretrained/ophiuchus_proteins [--set data.path=MY_PDBS]
"""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("proteins.py"))
    c.model.ideal_geometry = True
    c.optim.learning_rate = 5e-4
    c.optim.warmup_steps = 100
    c.train.ema_warmup = True
    return c
