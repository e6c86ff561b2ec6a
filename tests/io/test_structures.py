"""Protein structure and trajectory IO (genmol.io.structures): formats agree, caps/MSE/altlocs/ligands/missing
atoms, round trips, one GenmolError sentence naming the file for bad input, and a fuzz of corrupted files."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.errors import GenmolError
from genmol.io.structures import read_structure, read_trajectory, write_mmcif, write_pdb

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "proteins"
FIELDS = ("aatype", "positions", "atom_mask", "residue_index", "insertion_code", "chain_id")
MET, ALA, GLY = rc.RESIDUE_INDEX["MET"], rc.RESIDUE_INDEX["ALA"], rc.RESIDUE_INDEX["GLY"]


def same_arrays(a: Protein, b: Protein) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in FIELDS)


def pdb_line(serial, name, res, chain, res_id, xyz, element, record="ATOM", altloc=" ", ins=" ", occ=1.0):
    """One fixed-column PDB ATOM/HETATM record."""
    name = f" {name:<3}" if len(name) < 4 else name
    return (f"{record:<6}{serial:>5} {name}{altloc}{res:>3} {chain}{res_id:>4}{ins}   "
            f"{xyz[0]:8.3f}{xyz[1]:8.3f}{xyz[2]:8.3f}{occ:6.2f}{0.0:6.2f}          {element:>2}\n")


def residue_lines(res, chain, res_id, atoms, start=1, record="ATOM", ins=" ", origin=(0.0, 0.0, 0.0)):
    """PDB records for ``atoms`` (names; element = first letter) placed 1.5 Å apart along x from ``origin``."""
    return "".join(pdb_line(start + k, a, res, chain, res_id, (origin[0] + 1.5 * k, origin[1], origin[2]),
                            "SE" if a == "SE" else a[0], record=record, ins=ins) for k, a in enumerate(atoms))


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def cif_1l2y(tmp_path_factory):
    """The 1l2y BinaryCIF fixture converted category by category to text mmCIF with biotite."""
    import biotite.structure.io.pdbx as pdbx

    bcif = pdbx.BinaryCIFFile.read(FIX / "1l2y.bcif")
    cif = pdbx.CIFFile()
    for name, block in bcif.items():
        out = pdbx.CIFBlock()
        for cname, cat in block.items():
            out[cname] = pdbx.CIFCategory({
                k: pdbx.CIFColumn(pdbx.CIFData(c.data.array), None if c.mask is None else pdbx.CIFData(c.mask.array))
                for k, c in cat.items()})
        cif[name] = out
    path = tmp_path_factory.mktemp("cif") / "1l2y.cif"
    cif.write(path)
    return path


# ------------------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize("model", [1, 3])
def test_pdb_mmcif_bcif_give_identical_arrays(cif_1l2y, model):
    pdb = read_structure(FIX / "1l2y.pdb", model=model)
    for other in (cif_1l2y, FIX / "1l2y.bcif"):
        assert same_arrays(pdb, read_structure(other, model=model))
    assert pdb.num_residues == 20 and pdb.chains() == ["A"] and pdb.residue_index.tolist() == list(range(1, 21))
    assert [rc.RESIDUE_NAMES[t] for t in pdb.aatype[:3]] == ["ASN", "LEU", "TYR"]  # NLYIQWLKDGGPSSGRPPPS
    assert pdb.dropped.hydrogens == 150 and pdb.dropped.extra_atoms == 1  # the C-terminal OXT has no slot
    assert pdb.atom_mask.sum() == 153 and pdb.source == str(FIX / "1l2y.pdb")
    # the file's first atom is ASN 1 N at (-8.901, 4.127, -0.555) in model 1
    if model == 1:
        np.testing.assert_allclose(pdb.positions[0, rc.N_SLOT], [-8.901, 4.127, -0.555], atol=1e-6)
    ca = pdb.ca_positions()
    assert np.all(np.abs(np.linalg.norm(np.diff(ca, axis=0), axis=1) - 3.8) < 0.1)  # Å, not nm


def test_models_differ_and_a_missing_model_is_an_error():
    one, two = read_structure(FIX / "1l2y.pdb", model=1), read_structure(FIX / "1l2y.pdb", model=2)
    assert not np.allclose(one.positions, two.positions)
    with pytest.raises(GenmolError, match=r"1l2y.pdb has 3 model\(s\); model 4 does not exist"):
        read_structure(FIX / "1l2y.pdb", model=4)


def test_alanine_dipeptide_caps_and_waters():
    p = read_structure(FIX / "alanine-dipeptide-explicit.pdb")
    assert p.aatype.tolist() == [rc.ACE, ALA, rc.NME] and p.chain_id.tolist() == ["A"] * 3
    assert p.atom_mask.sum(1).tolist() == [3, 5, 2] and p.amino_acid_mask().tolist() == [False, True, False]
    assert p.dropped.waters == 749 and p.dropped.hydrogens == 12 and p.dropped.ligands == 0
    np.testing.assert_allclose(p.ca_positions()[0], [15.377, 12.899, 15.886], atol=1e-6)  # ACE CH3
    np.testing.assert_allclose(p.ca_positions()[2], [15.420, 20.190, 15.926], atol=1e-6)  # NME C (methyl)
    assert "749 waters" in str(p.dropped)


def test_nme_methyl_named_ch3_without_chain_or_element_columns(tmp_path):
    lines = [pdb_line(1, "CH3", "ACE", " ", 1, (0, 0, 0), ""), pdb_line(2, "C", "ACE", " ", 1, (1.5, 0, 0), ""),
             pdb_line(3, "O", "ACE", " ", 1, (2, 1, 0), ""), pdb_line(4, "1HH3", "ACE", " ", 1, (0, 1, 0), ""),
             residue_lines("ALA", " ", 2, ["N", "CA", "C", "O", "CB"], start=5, origin=(3, 0, 0)),
             pdb_line(10, "N", "NME", " ", 3, (12, 0, 0), ""), pdb_line(11, "CH3", "NME", " ", 3, (13.5, 0, 0), ""),
             pdb_line(12, "2HH3", "NME", " ", 3, (14, 1, 0), "")]
    p = read_structure(write(tmp_path, "native.pdb", "".join(lines) + "END\n"))
    assert p.aatype.tolist() == [rc.ACE, ALA, rc.NME] and p.chain_id.tolist() == [""] * 3
    assert p.atom_mask[2].tolist()[:2] == [True, True] and p.positions[2, 1, 0] == pytest.approx(13.5)
    assert p.dropped.hydrogens == 2 and p.dropped.extra_atoms == 0


# ------------------------------------------------------------------------------------------------ cases


def test_mse_is_read_as_met(tmp_path):
    text = (residue_lines("GLY", "A", 1, ["N", "CA", "C", "O"])
            + residue_lines("MSE", "A", 2, ["N", "CA", "C", "O", "CB", "CG", "SE", "CE"], 5, "HETATM",
                            origin=(0, 3, 0)))
    p = read_structure(write(tmp_path, "mse.pdb", text))
    assert p.aatype.tolist() == [GLY, MET] and p.atom_mask[1].sum() == 8
    sd = rc.atom_slot(MET, "SD")
    np.testing.assert_allclose(p.positions[1, sd], [9.0, 3.0, 0.0])
    assert p.dropped.unknown_residues == 0 and p.dropped.ligands == 0
    atoms = p.to_atom_array()
    assert "SE" not in atoms.atom_name and atoms.element[atoms.atom_name == "SD"].tolist() == ["S"]


def test_first_altloc_is_kept_and_others_counted(tmp_path):
    text = (pdb_line(1, "N", "SER", "A", 1, (0, 0, 0), "N") + pdb_line(2, "CA", "SER", "A", 1, (1.5, 0, 0), "C")
            + pdb_line(3, "C", "SER", "A", 1, (3, 0, 0), "C") + pdb_line(4, "O", "SER", "A", 1, (3, 1, 0), "O")
            + pdb_line(5, "CB", "SER", "A", 1, (1.5, 1.5, 0), "C", altloc="A", occ=0.6)
            + pdb_line(6, "CB", "SER", "A", 1, (1.5, -1.5, 0), "C", altloc="B", occ=0.4)
            + pdb_line(7, "OG", "SER", "A", 1, (1.5, 3.0, 0), "O", altloc="A", occ=0.6)
            + pdb_line(8, "OG", "SER", "A", 1, (1.5, -3.0, 0), "O", altloc="B", occ=0.4))
    p = read_structure(write(tmp_path, "alt.pdb", text))
    assert p.num_residues == 1 and p.atom_mask[0].sum() == 6 and p.dropped.altloc_atoms == 2
    np.testing.assert_allclose(p.positions[0, 4], [1.5, 1.5, 0.0])
    np.testing.assert_allclose(p.positions[0, 5], [1.5, 3.0, 0.0])


def test_ligands_ions_waters_dropped_and_missing_atoms_masked(tmp_path):
    text = (residue_lines("ALA", "A", 1, ["N", "CA", "C", "O", "CB"])
            + residue_lines("PHE", "A", 2, ["N", "CA", "C", "O", "CB"], 6, origin=(0, 4, 0))  # ring missing
            + residue_lines("SEP", "A", 3, ["N", "CA", "C", "O", "CB", "OG", "P"], 11, "HETATM", origin=(0, 8, 0))
            + residue_lines("HEM", "A", 101, ["FE", "NA", "C1A"], 18, "HETATM", origin=(0, 12, 0))
            + residue_lines("ZN", "A", 102, ["ZN"], 21, "HETATM", origin=(0, 16, 0))
            + residue_lines("HOH", "A", 201, ["O"], 22, "HETATM", origin=(0, 20, 0))
            + residue_lines("HOH", "A", 202, ["O"], 23, "HETATM", origin=(0, 24, 0)))
    p = read_structure(write(tmp_path, "mixed.pdb", text))
    assert p.aatype.tolist() == [ALA, rc.RESIDUE_INDEX["PHE"], rc.UNK]
    assert p.atom_mask.sum(1).tolist() == [5, 5, 4]
    assert np.all(p.positions[1, 5:] == 0) and not p.atom_mask[1, 5:].any()
    d = p.dropped
    assert (d.waters, d.ions, d.ligands, d.unknown_residues, d.extra_atoms) == (2, 1, 1, 1, 3)
    assert p.residue_index.tolist() == [1, 2, 3]


def test_chain_selection(tmp_path):
    text = (residue_lines("ALA", "A", 1, ["N", "CA", "C", "O", "CB"])
            + residue_lines("GLY", "B", 7, ["N", "CA", "C", "O"], 6, origin=(0, 5, 0))
            + residue_lines("HOH", "C", 1, ["O"], 10, "HETATM", origin=(0, 9, 0)))
    path = write(tmp_path, "two.pdb", text)
    assert read_structure(path).chains() == ["A", "B"]
    b = read_structure(path, chain="B")
    assert b.aatype.tolist() == [GLY] and b.residue_index.tolist() == [7]
    with pytest.raises(GenmolError, match=r"two.pdb has no chain 'Z' \(chains: 'A', 'B', 'C'\)"):
        read_structure(path, chain="Z")
    with pytest.raises(GenmolError, match=r"two.pdb, chain 'C', holds no protein residues \(only 1 waters\)"):
        read_structure(path, chain="C")


# ------------------------------------------------------------------------------------------------ round trips


def _insertion_protein(tmp_path):
    text = (residue_lines("ALA", "A", 52, ["N", "CA", "C", "O", "CB"])
            + residue_lines("GLY", "A", 52, ["N", "CA", "C", "O"], 6, ins="A", origin=(0, 4, 0))
            + residue_lines("TYR", "B", -3, ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2"], 10, origin=(0, 8, 0)))
    return read_structure(write(tmp_path, "ins.pdb", text))


@pytest.mark.parametrize("writer, suffix", [(write_pdb, ".pdb"), (write_mmcif, ".cif")])
def test_write_read_round_trip(tmp_path, writer, suffix):
    for k, p in enumerate([read_structure(FIX / "1l2y.pdb"), read_structure(FIX / "alanine-dipeptide-explicit.pdb"),
                           _insertion_protein(tmp_path)]):
        out = tmp_path / f"out{k}{suffix}"
        writer(out, p)
        q = read_structure(out)
        assert same_arrays(p, q), out
        assert q.dropped.hydrogens == 0 and q.dropped.extra_atoms == 0
    assert q.insertion_code.tolist() == ["", "A", ""] and q.residue_index.tolist() == [52, 52, -3]
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary file


def test_multi_model_pdb_round_trip(tmp_path):
    models = [read_structure(FIX / "1l2y.pdb", model=m) for m in (1, 2, 3)]
    write_pdb(tmp_path / "ens.pdb", models)
    assert (tmp_path / "ens.pdb").read_text().count("ENDMDL") == 3
    for m in (1, 2, 3):
        assert same_arrays(models[m - 1], read_structure(tmp_path / "ens.pdb", model=m))
    other = read_structure(FIX / "alanine-dipeptide-explicit.pdb")
    with pytest.raises(GenmolError, match="bad.pdb: model 2 differs from model 1"):
        write_pdb(tmp_path / "bad.pdb", [models[0], other])
    assert not (tmp_path / "bad.pdb").exists()


def test_write_pdb_rejects_long_chain_ids(tmp_path):
    p = read_structure(FIX / "alanine-dipeptide-explicit.pdb")
    p.chain_id = np.array(["AB"] * 3)
    with pytest.raises(GenmolError, match="long.pdb: chain id 'AB' does not fit"):
        write_pdb(tmp_path / "long.pdb", p)
    write_mmcif(tmp_path / "long.cif", p)
    assert read_structure(tmp_path / "long.cif").chain_id.tolist() == ["AB"] * 3


# ------------------------------------------------------------------------------------------------ trajectories


def test_xtc_trajectory_matches_the_models():
    top, pos = read_trajectory(FIX / "1l2y.xtc", FIX / "1l2y.pdb")
    assert pos.shape == (38, 20, rc.NUM_SLOTS, 3) and pos.dtype == np.float32
    for m in (1, 2, 3):  # XTC stores 0.001 nm = 0.01 Å precision
        np.testing.assert_allclose(pos[m - 1], read_structure(FIX / "1l2y.pdb", model=m).positions, atol=0.006)
    assert np.array_equal(top.atom_mask, read_structure(FIX / "1l2y.pdb").atom_mask)
    assert np.array_equal(top.positions, pos[0]) and np.all(pos[:, ~top.atom_mask] == 0)


@pytest.mark.filterwarnings("ignore:Unlikely unit cell")
def test_dcd_trajectory(tmp_path):
    import mdtraj

    traj = mdtraj.load(str(FIX / "1l2y.xtc"), top=str(FIX / "1l2y.pdb"))[:5]
    traj.save_dcd(str(tmp_path / "t.dcd"))
    _, pos = read_trajectory(tmp_path / "t.dcd", FIX / "1l2y.pdb")
    _, ref = read_trajectory(FIX / "1l2y.xtc", FIX / "1l2y.pdb")
    assert pos.shape == (5, 20, 14, 3)
    np.testing.assert_allclose(pos, ref[:5], atol=1e-3)


def test_hdf5_trajectory_with_embedded_topology():
    top, pos = read_trajectory(FIX / "traj.h5")
    assert top.aatype.tolist() == [rc.ACE, ALA, rc.NME] and pos.shape == (100, 3, 14, 3)
    bond = np.linalg.norm(pos[:, 1, rc.CA_SLOT] - pos[:, 1, rc.C_SLOT], axis=-1)  # ALA CA-C
    assert np.all(np.abs(bond - 1.53) < 0.15)  # converted from nm to Å (0.153 nm)
    assert top.dropped.hydrogens == 12


def test_trajectory_topology_atom_count_mismatch(tmp_path):
    with pytest.raises(GenmolError, match=r"1l2y.xtc holds 304 atoms per frame but its topology has 2269"):
        read_trajectory(FIX / "1l2y.xtc", FIX / "alanine-dipeptide-explicit.pdb")
    with pytest.raises(GenmolError, match=r"1l2y.xtc: a XTC trajectory needs a topology"):
        read_trajectory(FIX / "1l2y.xtc")
    with pytest.raises(GenmolError, match=r"traj.h5 holds 22 atoms per frame but its topology has 2269"):
        read_trajectory(FIX / "traj.h5", FIX / "alanine-dipeptide-explicit.pdb")


def test_trajectory_bad_frames_and_files(tmp_path):
    import shutil

    import h5py

    shutil.copy(FIX / "traj.h5", tmp_path / "nan.h5")
    with h5py.File(tmp_path / "nan.h5", "r+") as f:
        f["coordinates"][7, 8, 1] = np.nan  # ALA CA (atom 8) in frame 7
    with pytest.raises(GenmolError, match=r"nan.h5, chain 'A' residue 2 \(ALA\): atom CA has a non-finite "
                                          r"coordinate in frame 7"):
        read_trajectory(tmp_path / "nan.h5")
    (tmp_path / "junk.xtc").write_bytes(b"not an xtc file at all")
    with pytest.raises(GenmolError, match="junk.xtc"):
        read_trajectory(tmp_path / "junk.xtc", FIX / "1l2y.pdb")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(GenmolError, match="junk.h5 is not a readable mdtraj HDF5 trajectory"):
        read_trajectory(tmp_path / "junk.h5")
    (tmp_path / "notes.pdb").write_text("x")
    with pytest.raises(GenmolError, match="notes.pdb is not a readable topology"):
        read_trajectory(FIX / "1l2y.xtc", tmp_path / "notes.pdb")


# ------------------------------------------------------------------------------------------------ bad input


BAD_PDB = {
    "empty.pdb": ("", "is empty"),
    "blank.pdb": ("\n   \n", "is empty"),
    "notes.pdb": ("this is a shopping list\nmilk\neggs\n", "holds no atoms"),
    "ligand.pdb": (residue_lines("HEM", "A", 1, ["FE", "NA", "C1A", "C2A"], record="HETATM"),
                   r"holds no protein residues \(only 1 ligands\)"),
    "dna.pdb": (residue_lines("DA", "B", 1, ["P", "OP1", "O5'", "C5'", "C4'", "N9"])
                + residue_lines("DT", "B", 2, ["P", "OP1", "O5'", "C5'", "C4'", "N1"], 7, origin=(0, 5, 0)),
                "holds no protein residues"),
    "ca_only.pdb": (residue_lines("ALA", "A", 1, ["N", "CA", "C", "O", "CB"])
                    + "".join(pdb_line(6 + k, "CA", "GLY", "B", k + 1, (0, 4 + 3.8 * k, 0), "C") for k in range(4)),
                    r"chain 'B': no amino acid has a complete backbone \(N, CA, C\)"),
    "nan.pdb": (residue_lines("ALA", "A", 1, ["N", "CA", "C", "O", "CB"]).replace("   4.500", "     nan", 1),
                r"chain 'A' residue 1 \(ALA\): atom O has a non-finite coordinate"),
}


@pytest.mark.parametrize("name", sorted(BAD_PDB))
def test_bad_pdb_files(tmp_path, name):
    text, message = BAD_PDB[name]
    path = write(tmp_path, name, text)
    with pytest.raises(GenmolError, match=message) as e:
        read_structure(path)
    assert str(path) in str(e.value)


def test_bad_files_name_the_file(tmp_path, cif_1l2y):
    text = cif_1l2y.read_text()
    cases = {
        "truncated.cif": text[: len(text) // 2 - 7],
        "nocategory.cif": "data_x\n#\n_entry.id X\n",
        "garbage.cif": "data_x\nloop_\n_atom_site.id\n_atom_site.Cartn_x\n1 2 3\n",
        "empty.cif": "",
    }
    for name, content in cases.items():
        path = write(tmp_path, name, content)
        with pytest.raises(GenmolError) as e:
            read_structure(path)
        assert str(path) in str(e.value), name
    bcif = (FIX / "1l2y.bcif").read_bytes()
    for name, data in {"bytes.pdb": b"\x89PNG\r\n\x1a\n\x00\x00", "bytes.bcif": b"\x89PNG\r\n\x1a\n\x00\x00",
                       "text.bcif": b"ATOM      1  N   ALA A   1\n", "cut.bcif": bcif[: len(bcif) // 3]}.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(GenmolError) as e:
            read_structure(tmp_path / name)
        assert str(tmp_path / name) in str(e.value), name
    with pytest.raises(GenmolError, match="unsupported structure file type '.xyz'"):
        read_structure(write(tmp_path, "a.xyz", "1\n\nC 0 0 0\n"))
    with pytest.raises(GenmolError, match="does not exist"):
        read_structure(tmp_path / "missing.pdb")
    with pytest.raises(GenmolError, match="is a directory"):
        read_structure(tmp_path)


def test_truncated_mmcif_names_the_file(tmp_path, cif_1l2y):
    text = cif_1l2y.read_text()
    cut = text[: text.index("ATOM H HB3")]  # the atom_site loop ends mid-row
    path = write(tmp_path, "cut.cif", cut[:-5])
    with pytest.raises(GenmolError, match="cut.cif"):
        read_structure(path)


# ------------------------------------------------------------------------------------------------ fuzz

_ALPHABET = st.sampled_from(list("0123456789 .-+eE\nAXZ#_;'\"") + ["nan", "inf", "ATOM  ", "HETATM", "loop_", "99999"])


@st.composite
def corruptions(draw, text: str):
    """A valid file's text truncated, with a span replaced by junk, or with a line removed or repeated."""
    lines = text.splitlines(keepends=True)
    kind = draw(st.sampled_from(["truncate", "replace", "drop_line", "repeat_line"]))
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if kind == "replace":
        i = draw(st.integers(0, len(text)))
        k = draw(st.integers(0, 40))
        return text[:i] + "".join(draw(st.lists(_ALPHABET, max_size=8))) + text[i + k:]
    i = draw(st.integers(0, len(lines) - 1))
    return "".join(lines[:i] + lines[i + 1:]) if kind == "drop_line" else "".join(lines[:i + 1] + lines[i:])


@pytest.fixture(scope="module")
def fuzz_inputs(cif_1l2y):
    """Small valid PDB and mmCIF texts: the atoms of 1l2y model 1 residues 1-6 (with hydrogens) and a water."""
    pdb = [line for line in (FIX / "1l2y.pdb").read_text().splitlines(keepends=True)[:400]
           if line.startswith("ATOM") and int(line[22:26]) <= 6]
    water = pdb_line(999, "O", "HOH", "A", 101, (5.0, 5.0, 5.0), "O", record="HETATM")
    cif = [line for line in cif_1l2y.read_text().splitlines(keepends=True)
           if not line.startswith("ATOM") or (line.split()[-2] == "1" and int(line.split()[9]) <= 6)]
    return {".pdb": "".join(pdb) + water + "END\n", ".cif": "".join(cif)}


def _check_fuzzed(path) -> bool:
    """True if the file read as a valid protein, False if it raised a GenmolError naming the file."""
    try:
        p = read_structure(path)
    except GenmolError as e:
        assert str(path) in str(e)
        return False
    assert isinstance(p, Protein) and p.num_residues >= 1
    assert np.all(np.isfinite(p.positions)) and not np.any(p.atom_mask & ~rc.ATOM_MASK[p.aatype])
    return True


@pytest.mark.parametrize("suffix", [".pdb", ".cif"])
def test_fuzzed_structures_give_a_protein_or_one_genmol_error(tmp_path_factory, fuzz_inputs, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"fuzzed{suffix}"
    outcomes = []

    @given(corruptions(fuzz_inputs[suffix]))
    def check(text):
        path.write_text(text)
        outcomes.append(_check_fuzzed(path))

    check()
    assert 0.1 < np.mean(outcomes) < 0.98, np.mean(outcomes)  # both paths exercised


def test_fuzzed_binarycif_gives_a_protein_or_one_genmol_error(tmp_path_factory):
    import biotite.structure.io.pdbx as pdbx

    d = tmp_path_factory.mktemp("fuzz_bcif")
    small = pdbx.BinaryCIFFile()
    pdbx.set_structure(small, read_structure(FIX / "1l2y.pdb").crop(0, 4).to_atom_array())
    small.write(d / "v.bcif")
    data, path = (d / "v.bcif").read_bytes(), d / "fuzzed.bcif"

    @given(st.integers(0, len(data)), st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)),
                                               max_size=4))
    def check(cut, flips):
        b = bytearray(data)
        for i, v in flips:
            b[i] = v
        path.write_bytes(bytes(b[:cut] if flips == [] else b))
        _check_fuzzed(path)

    check()
