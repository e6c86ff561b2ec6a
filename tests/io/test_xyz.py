import numpy as np
import pytest

from genmol.errors import GenmolError
from genmol.data.molecules.molecule import Molecule
from genmol.io.xyz import read_xyz, write_xyz


def test_roundtrip_extxyz(tmp_path):
    rng = np.random.default_rng(0)
    mols = [Molecule(np.array([6, 1, 8]), rng.normal(size=(3, 3)) * 1e-5, {"smiles": "C=O", "qm9_index": 7}),
            Molecule(np.array([9]), np.zeros((1, 3)), {"energy": -1.5})]
    write_xyz(tmp_path / "a.xyz", mols)
    back = read_xyz(tmp_path / "a.xyz")
    assert len(back) == 2
    np.testing.assert_allclose(back[0].positions, mols[0].positions, atol=1e-10)
    assert back[0].info["smiles"] == "C=O" and back[0].info["qm9_index"] == 7
    assert back[1].info["energy"] == -1.5
    assert "e-" not in (tmp_path / "a.xyz").read_text()  # fixed-point for RDKit


def test_plain_xyz_roundtrip_readable_by_rdkit(tmp_path):
    from rdkit import Chem

    m = Molecule(np.array([6, 1, 1, 1, 1]), np.array([[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63],
                                                       [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]], float))
    write_xyz(tmp_path / "m.xyz", [m], extended=False)
    assert Chem.MolFromXYZFile(str(tmp_path / "m.xyz")).GetNumAtoms() == 5


@pytest.mark.parametrize("text,match", [
    ("", "empty"),
    ("3\n\nC 0 0 0\nH 0 0 1\n", "ends after"),
    ("2\n\nC 0 0 0\nXx 0 0 1\n", "unknown element"),
    ("2\n\nC 0 0 0\nH 0 nan 1\n", "non-finite"),
    ("2\n\nC 0 0 0\nH 0 abc 1\n", "not a number"),
    ("1\n\nC 0 0 0\nH 0 0 1\n", "more atom lines"),
    ("two\n\nC 0 0 0\n", "expected an atom count"),
])
def test_bad_files_name_file_and_line(tmp_path, text, match):
    p = tmp_path / "bad.xyz"
    p.write_text(text)
    with pytest.raises(GenmolError, match=match) as e:
        read_xyz(p)
    assert "bad.xyz" in str(e.value)


def test_atomic_writes_have_normal_permissions(tmp_path):
    import os
    import stat

    from genmol.io.atomic import atomic_write_text

    atomic_write_text(tmp_path / "out.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o666 & ~umask
