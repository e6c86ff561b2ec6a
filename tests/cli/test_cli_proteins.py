"""genmol reconstruct protein, encode protein, decode, evaluate proteins and view on structure files, in process
(``genmol.cli.main``) with one tiny random-weight autoencoder: outputs keep the input's file names, chains and
numbering; encode→decode equals reconstruct; bad inputs are one sentence, exit 2 and leave nothing behind.

Every model call here uses the 32-residue bucket (1L2Y, 20 residues) with batches of 1 or 2 chains, so the module
compiles the encoder and decoder for two shapes only."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from genmol.cli import main
from genmol.data.proteins import residues as rc
from genmol.io.structures import read_structure, write_pdb
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "proteins"
TRP = FIXTURES / "1l2y.pdb"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A freshly initialised tiny autoencoder as a model directory."""
    from flax import nnx

    from genmol.config import load_config
    from genmol.models.store import build_model, save_model

    cfg = load_config(ROOT / "configs" / "ophiuchus" / "test.py")
    path = tmp_path_factory.mktemp("tiny") / "model"
    save_model(cfg, nnx.to_pure_dict(nnx.state(build_model(cfg), nnx.Param)), path)
    return path


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out
    return code, out.out, out.err


@pytest.fixture(scope="module")
def single(model_dir, tmp_path_factory):
    """``genmol reconstruct protein 1l2y.pdb`` with --json and --view: ``(directory, exit code, stdout, stderr)``
    (module-scoped, so captured by redirection rather than capsys)."""
    import contextlib
    import io

    work = tmp_path_factory.mktemp("single")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["reconstruct", "protein", str(TRP), "--out", str(work / "r.pdb"), "--checkpoint",
                     str(model_dir), "--json", str(work / "r.json"), "--view", str(work / "r.html")])
    return work, code, out.getvalue(), err.getvalue()


def same_residues(a, b):
    """Same chains, author numbering and insertion codes, residue for residue."""
    assert a.num_residues == b.num_residues
    assert np.array_equal(a.chain_id, b.chain_id) and np.array_equal(a.residue_index, b.residue_index)
    assert np.array_equal(a.insertion_code, b.insertion_code)


def backbone_present(p):
    """Every amino acid of the reconstruction has its N, CA, C, O."""
    aa = ~rc.IS_CAP[p.aatype]
    assert p.atom_mask[aa][:, :4].all()


def test_reconstruct_file_keeps_chain_numbering_and_reports(single):
    work, code, out, err = single
    assert code == 0, err
    ref, rec = read_structure(TRP), read_structure(work / "r.pdb")
    same_residues(rec, ref)
    backbone_present(rec)
    d = json.loads((work / "r.json").read_text())
    (row,) = d["structures"]
    assert row["residues"] == 20 and row["chains"] == ["A"] and row["output"] == str(work / "r.pdb")
    for key in ("ca_rmsd", "all_atom_rmsd", "gdt_ts", "lddt", "residue_recovery", "tm_score"):
        assert key in row["metrics"] and key in d["mean"]
    assert f"{row['metrics']['ca_rmsd']:.2f}" in out and "1l2y.pdb" in out and "recovery" in out
    # residue names are the model's predictions: recovery counts them against the input
    recovered = np.mean(rec.aatype[~rc.IS_CAP[ref.aatype]] == ref.aatype[~rc.IS_CAP[ref.aatype]])
    assert row["metrics"]["residue_recovery"] == pytest.approx(recovered)
    html = (work / "r.html").read_text()
    assert html.count("<canvas") == 1 and "reconstruction" in html and "http" not in html
    assert "wrote 1 reconstruction" in err


def test_reconstruct_directory_same_names_one_batch(capsys, tmp_path, model_dir, single):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(TRP, src / "1l2y.pdb")
    shutil.copy(FIXTURES / "1l2y.bcif", src / "trp.bcif")
    (src / "notes.txt").write_text("not a structure\n")
    code, out, err = run(capsys, "reconstruct", "protein", src, "--out", tmp_path / "out", "--checkpoint", model_dir,
                         "--no-progress")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["1l2y.pdb", "trp.bcif"]
    first = read_structure(tmp_path / "out" / "1l2y.pdb")
    for name in ("1l2y.pdb", "trp.bcif"):
        rec = read_structure(tmp_path / "out" / name)
        same_residues(rec, read_structure(src / name))
        # batched with another chain (2 slots) = alone (1 slot): the same structure, up to PDB's 3 decimals
        alone = read_structure(single[0] / "r.pdb")
        assert np.array_equal(rec.aatype, alone.aatype)
        np.testing.assert_allclose(rec.positions, alone.positions, atol=2e-3)
        np.testing.assert_allclose(rec.positions, first.positions, atol=2e-3)
    assert "mean" in out and "trp.bcif" in out


def test_encode_then_decode_equals_reconstruct(capsys, tmp_path, model_dir, single):
    from genmol.models.ophiuchus.inference import load_latents

    code, _, err = run(capsys, "encode", "protein", TRP, "--out", tmp_path / "z.npz", "--checkpoint", model_dir)
    assert code == 0 and "20 residues in 5 latent nodes" in err, err
    (record,) = load_latents(tmp_path / "z.npz")
    assert record.features.shape == (5, 16) and record.source == str(TRP)
    code, _, err = run(capsys, "decode", tmp_path / "z.npz", "--out", tmp_path / "d.pdb", "--checkpoint", model_dir)
    assert code == 0, err
    dec, rec = read_structure(tmp_path / "d.pdb"), read_structure(single[0] / "r.pdb")
    same_residues(dec, rec)
    assert np.array_equal(dec.aatype, rec.aatype) and np.array_equal(dec.atom_mask, rec.atom_mask)
    np.testing.assert_allclose(dec.positions, rec.positions, atol=2e-3)
    assert (tmp_path / "d.pdb").read_text().splitlines()[0] == (single[0] / "r.pdb").read_text().splitlines()[0]


def test_encode_directory_decodes_into_a_directory(capsys, tmp_path, model_dir):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(TRP, src / "a.pdb")
    shutil.copy(FIXTURES / "1l2y.bcif", src / "b.bcif")
    assert run(capsys, "encode", "protein", src, "--out", tmp_path / "z.npz", "--checkpoint", model_dir)[0] == 0
    code, _, err = run(capsys, "decode", tmp_path / "z.npz", "--out", tmp_path / "dec", "--checkpoint", model_dir)
    assert code == 0 and "wrote 2 structures" in err, err
    assert sorted(p.name for p in (tmp_path / "dec").iterdir()) == ["a.pdb", "b.bcif"]
    # two structures cannot go to one file
    code, _, err = run(capsys, "decode", tmp_path / "z.npz", "--out", tmp_path / "one.pdb", "--checkpoint",
                       model_dir)
    assert code == 2 and "holds 2 structures" in err and not (tmp_path / "one.pdb").exists()


# ---------------------------------------------------------------------------------------------- bad inputs


def _long_chain(path, copies=52):
    """1L2Y repeated end to end (20 residues a copy), renumbered: one chain longer than the 1,024 budget."""
    import dataclasses

    p = read_structure(TRP)
    parts = [dataclasses.replace(p, positions=np.where(p.atom_mask[..., None], p.positions + [30.0 * k, 0, 0], 0))
             for k in range(copies)]
    cat = {f: np.concatenate([getattr(q, f) for q in parts]) for f in
           ("aatype", "positions", "atom_mask", "insertion_code", "chain_id")}
    write_pdb(path, dataclasses.replace(p, residue_index=np.arange(1, 20 * copies + 1), **cat))


def _bad_file(tmp_path, kind):
    """A structure file that must be refused, and the words the refusal names."""
    lines = TRP.read_text().splitlines()
    if kind == "empty":
        path, words = tmp_path / "empty.pdb", ["empty"]
        path.write_text("")
    elif kind == "ligand":
        path, words = tmp_path / "ligand.pdb", ["no protein residues"]
        path.write_text("HETATM    1  C1  LIG A   1       0.000   0.000   0.000  1.00  0.00           C\n"
                        "HETATM    2  O1  LIG A   1       1.200   0.000   0.000  1.00  0.00           O\nEND\n")
    elif kind == "dna":
        path, words = tmp_path / "dna.pdb", ["no protein residues"]
        path.write_text("".join(f"ATOM  {i + 1:5d}  {a:<3s}  DA B   1    {3.0 * i:8.3f}   0.000   0.000  1.00  0.00"
                                f"           {a[0]}\n" for i, a in enumerate(("P", "OP1", "C1'", "N9"))) + "END\n")
    elif kind == "no_backbone":
        path, words = tmp_path / "nobb.pdb", ["chain 'A'", "complete backbone"]
        path.write_text("\n".join(x for x in lines if not (x.startswith("ATOM") and x[12:16].strip() == "CA")) + "\n")
    elif kind == "truncated_cif":
        import biotite.structure.io.pdbx as pdbx

        path, words = tmp_path / "trunc.cif", ["not a readable mmCIF"]
        f = pdbx.CIFFile()
        pdbx.set_structure(f, pdbx.get_structure(pdbx.BinaryCIFFile.read(FIXTURES / "1l2y.bcif"), model=1))
        f.write(str(path))
        text = path.read_text()
        path.write_text(text[: len(text) // 2])
    else:
        path, words = tmp_path / "long.pdb", ["chain 'A'", "1,040 residues", "1,024"]
        _long_chain(path)
    return path, words


BAD = ["empty", "ligand", "dna", "no_backbone", "truncated_cif", "too_long"]


@pytest.mark.parametrize("kind", BAD)
def test_reconstruct_refuses_bad_structures_in_one_sentence(capsys, tmp_path, model_dir, kind):
    path, words = _bad_file(tmp_path, kind)
    out = tmp_path / "out" / "r.pdb"
    code, _, err = run(capsys, "reconstruct", "protein", path, "--out", out, "--checkpoint", model_dir,
                       "--json", tmp_path / "r.json")
    assert code == 2 and path.name in err and all(w in err for w in words), err
    assert err.startswith("error: ") and err.strip().count("\n") == 0  # one sentence
    assert not (tmp_path / "out").exists() and not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("kind", ["empty", "no_backbone", "too_long"])
def test_encode_refuses_bad_structures(capsys, tmp_path, model_dir, kind):
    path, words = _bad_file(tmp_path, kind)
    code, _, err = run(capsys, "encode", "protein", path, "--out", tmp_path / "z.npz", "--checkpoint", model_dir)
    assert code == 2 and path.name in err and all(w in err for w in words), err
    assert not (tmp_path / "z.npz").exists()


def test_a_bad_file_in_a_directory_stops_or_is_skipped(capsys, tmp_path, model_dir):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(TRP, src / "good.pdb")
    (src / "bad.pdb").write_text("")
    code, _, err = run(capsys, "reconstruct", "protein", src, "--out", tmp_path / "out", "--checkpoint", model_dir)
    assert code == 2 and "bad.pdb is empty" in err and not (tmp_path / "out").exists()
    _bad_file(src, "too_long")
    code, out, err = run(capsys, "reconstruct", "protein", src, "--out", tmp_path / "out", "--checkpoint", model_dir,
                         "--skip-unreadable", "--json", tmp_path / "r.json")
    assert code == 0, err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.pdb"]
    assert "skipped 2: a chain over the length budget: 1; empty file: 1" in out
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["skipped_reasons"] == {"a chain over the length budget": 1, "empty file": 1}
    assert [Path(r["input"]).name for r in d["structures"]] == ["good.pdb"]


@pytest.mark.parametrize("args,match", [
    (["--batch", 0], "--batch 0"),
    (["--out", "{tmp}/r.xyz"], "unsupported structure file type '.xyz'"),
    (["--out", str(TRP)], "would overwrite the input"),
    (["--checkpoint", "{tmp}/nowhere"], "does not exist"),
])
def test_reconstruct_flags(capsys, tmp_path, model_dir, args, match):
    args = [str(a).replace("{tmp}", str(tmp_path)) for a in args]
    base = {"--out": str(tmp_path / "r.pdb"), "--checkpoint": str(model_dir)}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    code, _, err = run(capsys, "reconstruct", "protein", TRP, *[x for kv in base.items() for x in kv])
    assert code == 2 and match in err, err
    assert list(tmp_path.iterdir()) == []


def test_without_checkpoint_says_no_model_is_shipped(capsys, tmp_path, monkeypatch):
    import genmol.pretrained

    monkeypatch.delitem(genmol.pretrained.PRETRAINED, "ophiuchus_proteins")  # as before the autoencoder shipped
    for args in (["reconstruct", "protein", TRP, "--out", tmp_path / "r.pdb"],
                 ["encode", "protein", TRP, "--out", tmp_path / "z.npz"]):
        code, _, err = run(capsys, *args)
        assert code == 2 and "ships no trained protein autoencoder" in err and "--checkpoint" in err, err
        assert err.strip().count("\n") == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content,match", [
    (b"not a zip", "not a readable .npz"),
    ("missing", "no 'features' array"),
    ("shape", "positions has shape"),
])
def test_decode_refuses_bad_latent_files(capsys, tmp_path, model_dir, content, match):
    path = tmp_path / "z.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        arrays = dict(format=np.asarray("genmol.protein_latents"), irreps=np.asarray("4x0e + 4x1o"),
                      node_offsets=np.array([0, 2]), residue_offsets=np.array([0, 3]),
                      features=np.zeros((2, 16), np.float32), positions=np.zeros((2, 3), np.float32),
                      mask=np.ones(2, bool), residue_mask=np.ones(3, bool), residue_index=np.arange(3),
                      insertion_code=np.array(["", "", ""]), chain_id=np.array(["A", "A", "A"]))
        if content == "missing":
            del arrays["features"]
        else:
            arrays["positions"] = np.zeros((3, 3), np.float32)
        np.savez(path, **arrays)
    code, _, err = run(capsys, "decode", path, "--out", tmp_path / "d.pdb", "--checkpoint", model_dir)
    assert code == 2 and "z.npz is not a genmol protein latent file" in err and match in err, err
    assert not (tmp_path / "d.pdb").exists()


# ---------------------------------------------------------------------------------------------- evaluate and view


def test_evaluate_proteins_tallies_bad_files(capsys, tmp_path):
    pred = tmp_path / "pred"
    pred.mkdir()
    for f in (FIXTURES / "set").glob("*.pdb"):
        shutil.copy(f, pred / f.name)
    shutil.copy(TRP, pred / "extra.pdb")  # no reference of that name
    (pred / "empty.pdb").write_text("")
    _bad_file(pred, "ligand")
    _bad_file(pred, "no_backbone")
    code, out, err = run(capsys, "evaluate", "proteins", pred, "--reference", FIXTURES / "set", "--json",
                         tmp_path / "e.json")
    assert code == 0, err
    d = json.loads((tmp_path / "e.json").read_text())
    assert d["num_files"] == 7 and d["num_scored"] == 4 and d["num_unreadable"] == 3
    assert d["unreadable_reasons"] == {"a chain without a complete backbone": 1, "empty file": 1,
                                       "no protein residues": 1}
    assert d["num_compared"] == 3 and d["uncompared_reasons"] == {"no reference of the same name": 1}
    assert d["comparison"]["ca_rmsd"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert d["comparison"]["lddt"]["mean"] == pytest.approx(1.0)
    assert d["structure"]["num_residues"]["n"] == 4 and d["structure"]["radius_of_gyration"]["mean"] > 5
    assert set(d["per_structure"]) == {str(pred / n) for n in ("1jmo_L.pdb", "1qfd_A.pdb", "2ooa_A.pdb",
                                                               "extra.pdb")}
    assert "4 of 7 structures scored" in out and "unreadable or unscorable: 3" in out and "±" in out


def test_evaluate_proteins_single_bad_file_is_an_error(capsys, tmp_path):
    path, _ = _bad_file(tmp_path, "dna")
    code, _, err = run(capsys, "evaluate", "proteins", path, "--json", tmp_path / "e.json")
    assert code == 2 and "dna.pdb holds no protein residues" in err and not (tmp_path / "e.json").exists()


def test_view_protein_file_directory_and_overlay(capsys, tmp_path):
    code, _, err = run(capsys, "view", TRP, "--out", tmp_path / "v.html")
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["v.html"]
    text = (tmp_path / "v.html").read_text()
    assert text.count("<canvas") == 1 and "http" not in text and "<script src" not in text
    code, _, err = run(capsys, "view", FIXTURES / "set", "--out", tmp_path / "s.html", "--max", 2)
    assert code == 0 and "the first 2 of 3 structures" in err
    assert (tmp_path / "s.html").read_text().count("<canvas") == 2
    code, _, err = run(capsys, "view", TRP, "--out", tmp_path / "o.html", "--overlay", FIXTURES / "1l2y.bcif")
    assert code == 0 and "1l2y.bcif" in (tmp_path / "o.html").read_text()
    code, _, err = run(capsys, "view", FIXTURES / "set", "--out", tmp_path / "x.html", "--max", 0)
    assert code == 2 and "--max 0" in err and not (tmp_path / "x.html").exists()


def test_evaluate_set_metrics_and_one_reference_for_all(capsys, tmp_path):
    code, out, err = run(capsys, "evaluate", "proteins", FIXTURES / "set", "--reference", FIXTURES / "set",
                         "--ensemble", "--json", tmp_path / "e.json")
    assert code == 0, err
    ens = json.loads((tmp_path / "e.json").read_text())["ensemble"]
    assert ens["num_structures"] == 3 and ens["novelty_tm"] == pytest.approx(1.0, abs=1e-3)
    assert 0 < ens["diversity_tm"] < 1 and "set metrics" in out
    # a file reference is compared with every structure: the other lengths are tallied, not dropped
    code, out, err = run(capsys, "evaluate", "proteins", FIXTURES / "set", "--reference", FIXTURES / "set" /
                         "1qfd_A.pdb", "--json", tmp_path / "f.json")
    assert code == 0, err
    d = json.loads((tmp_path / "f.json").read_text())
    assert d["num_compared"] == 1 and d["uncompared_reasons"] == {"residues differ from the reference": 2}
    assert "not compared: 2 of 3" in out
    empty = tmp_path / "ref.pdb"
    empty.write_text("")
    code, _, err = run(capsys, "evaluate", "proteins", FIXTURES / "set", "--reference", empty)
    assert code == 2 and "ref.pdb is empty" in err


def test_view_still_shows_molecules_and_names_both_kinds_of_file(capsys, tmp_path):
    code, _, err = run(capsys, "view", ROOT / "tests" / "fixtures" / "qm9" / "qm9_first8.extxyz", "--out",
                       tmp_path / "m.html", "--max", 2)
    assert code == 0 and "the first 2 of 8 molecules" in err, err
    (tmp_path / "x.txt").write_text("x")
    code, _, err = run(capsys, "view", tmp_path / "x.txt", "--out", tmp_path / "x.html")
    assert code == 2 and ".sdf" in err and ".pdb" in err and not (tmp_path / "x.html").exists()
