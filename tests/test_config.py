import json

import pytest

from genmol.config import apply_overrides, load_config, read_config_json, save_config
from genmol.errors import ConfigError
from tests.helpers import ROOT


def test_overrides_parse_literals(tmp_path):
    cfg = load_config(ROOT / "configs" / "property" / "qm9.py",
                      ["train.steps=7", "optim.learning_rate=1", "model.encoder.name=nequip",
                       "model.encoder.radial_hidden=[16, 16]"])
    assert cfg.train.steps == 7 and cfg.optim.learning_rate == 1.0 and isinstance(cfg.optim.learning_rate, float)
    assert cfg.model.encoder.name == "nequip" and cfg.model.encoder.radial_hidden == (16, 16)
    save_config(cfg, tmp_path / "c.json")
    assert read_config_json(tmp_path / "c.json").train.steps == 7
    assert json.loads((tmp_path / "c.json").read_text())["model"]["encoder"]["name"] == "nequip"


@pytest.mark.parametrize("override,match", [
    ("train.stepz=3", "unknown config key 'train.stepz'"),
    ("nothing.deep=1", "unknown config key 'nothing'"),
    ("train.steps", "not of the form key=value"),
    ("train.steps='many'", "bad value for 'train.steps'"),
])
def test_bad_overrides(override, match):
    cfg = load_config(ROOT / "configs" / "property" / "qm9.py")
    with pytest.raises(ConfigError, match=match):
        apply_overrides(cfg, [override])


def test_missing_and_broken_config_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.py")
    (tmp_path / "broken.py").write_text("def get_config(:\n")
    with pytest.raises(ConfigError, match="failed to load"):
        load_config(tmp_path / "broken.py")
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match="no get_config"):
        load_config(tmp_path / "empty.py")


def test_a_config_argument_after_a_colon_goes_to_get_config(tmp_path):
    """``FILE.py:ARG`` (ml_collections' convention): the strides family of the protein autoencoder."""
    default = load_config(ROOT / "configs" / "ophiuchus" / "proteins.py")
    assert load_config(f"{ROOT / 'configs' / 'ophiuchus' / 'proteins.py'}:4").to_json() == default.to_json()
    for r, levels in [(1, 0), (2, 1), (8, 3), (16, 4)]:
        c = load_config(f"{ROOT / 'configs' / 'ophiuchus' / 'proteins.py'}:{r}", ["train.steps=5"])
        assert c.model.strides == (2,) * levels and len(c.model.irreps) == levels + 1 and c.train.steps == 5
    with pytest.raises(ConfigError, match="power of 2"):
        load_config(f"{ROOT / 'configs' / 'ophiuchus' / 'proteins.py'}:3")
    with pytest.raises(ConfigError, match="proteins.py:x: ValueError"):
        load_config(f"{ROOT / 'configs' / 'ophiuchus' / 'proteins.py'}:x")
    with pytest.raises(ConfigError, match="takes no argument"):
        load_config(f"{ROOT / 'configs' / 'property' / 'qm9.py'}:4")
    with pytest.raises(ConfigError, match="nope.py does not exist"):
        load_config(f"{tmp_path / 'nope.py'}:4")
