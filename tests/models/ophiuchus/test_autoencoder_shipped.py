"""The shipped protein autoencoder loads and reproduces its recorded reconstruction of 1L2Y (held out: the
embedded set has no Trp-cage)."""

import numpy as np

from genmol.eval.proteins import reconstruction_metrics
from genmol.io.structures import read_structure
from genmol.models.ophiuchus.inference import reconstruct_proteins
from genmol.models.store import load_model
from genmol.pretrained import pretrained_path
from helpers import ROOT

# Recorded with `genmol reconstruct protein tests/fixtures/proteins/1l2y.pdb --out r.pdb --json r.json`
# (experiments/ophiuchus_proteins/README.md); the model is deterministic on CPU.
RECORDED = {"ca_rmsd": 0.3338, "all_atom_rmsd": 0.7976, "gdt_ts": 1.0, "residue_recovery": 1.0,
            "bond_length_rmsd": 0.0431}


def test_shipped_autoencoder_reproduces_its_recorded_reconstruction():
    model, config, meta = load_model(pretrained_path("ophiuchus_proteins"), expect="ophiuchus")
    assert model.residues_per_node == 4 and meta["step"] > 0
    ref = read_structure(ROOT / "tests/fixtures/proteins/1l2y.pdb")
    (rec,) = reconstruct_proteins(model, [ref])
    m = reconstruction_metrics(rec, ref)
    for key, value in RECORDED.items():
        np.testing.assert_allclose(m[key], value, atol=2e-3, err_msg=key)


def test_shipped_config_describes_the_shipped_model():
    """configs/ophiuchus/proteins_shipped.py (what README tells users to fine-tune the shipped model with) builds
    the shipped architecture, ideal-geometry decoder included."""
    import json

    from genmol.config import load_config

    cfg = load_config(ROOT / "configs/ophiuchus/proteins_shipped.py")
    stored = json.loads((pretrained_path("ophiuchus_proteins") / "config.json").read_text())
    assert json.loads(json.dumps(cfg.model.to_dict())) == stored["model"]
    assert stored["model"]["ideal_geometry"] is True
