"""Fuzzed readers: every reader of a user file either returns well-formed molecules or raises one
:class:`GenmolError` naming the file, never any other exception.

Inputs are mostly valid files with targeted corruptions (a changed count, a dropped coordinate, a
number replaced by text/NaN/inf, a bad element symbol, a cut line, ...), so both the success and the
error path are exercised; each property test checks that a healthy fraction of its inputs parse and
a fraction fail. Plus random bytes, random unicode, truncation at every line of valid files, empty
files and a file of many MB. Example counts come from the hypothesis profile in ``tests/conftest.py``
(``HYPOTHESIS_PROFILE=slow`` for ten times as many).
"""

import collections
import os
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from genmol.data.molecules.qm9 import load_qm9
from genmol.errors import GenmolError
from genmol.io.molecules import read_molecules, write_molecules
from genmol.io.qm9_formats import iter_figshare, iter_gdb9_sdf, iter_qm9pack_csv, read_uncharacterized
from genmol.io.xyz import format_xyz_block

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "qm9"
ELEMENTS = ["H", "C", "N", "O", "F"]
# replacements for one token: numbers, non-numbers, non-finite numbers, elements and non-elements
BAD_TOKENS = ["nan", "NaN", "inf", "-inf", "1e999", "abc", "1.2.3", "0x1F", "١٢", "", "*^", "\x00", "ä", "Xx",
              "Qq", "c1", "-1", "0", "999999999", "12", "3.5", "-0.25", "1*^-3", "C", "H", "O"]


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def qm9_small():
    """Twelve real QM9 molecules (3–27 atoms) to build valid files from."""
    ms = load_qm9("embedded")
    return [ms[i] for i in range(12)]


def check_molecules(ms, errors, lenient):
    """A successful read: at least one molecule, consistent ragged arrays, finite positions where no error."""
    assert len(ms) >= 1 and len(errors) == len(ms)
    assert ms.offsets[0] == 0 and np.all(np.diff(ms.offsets) >= 0)
    assert ms.positions.dtype == np.float64 and ms.positions.shape == (ms.offsets[-1], 3)
    assert ms.atomic_numbers.shape == (ms.offsets[-1],)
    for i, m in enumerate(ms):
        assert m.positions.shape == (m.num_atoms, 3)
        if errors[i] is None:
            assert np.all(np.isfinite(m.positions))
        else:
            assert lenient and isinstance(errors[i], str) and errors[i]


def outcome(read, name: str) -> str:
    """``"ok"`` or ``"error"`` of ``read()``; a GenmolError must name the file in one line."""
    try:
        read()
    except GenmolError as e:
        msg = str(e)
        assert name in msg, msg
        assert "\n" not in msg and "allow_pickle" not in msg, msg
        return "error"
    return "ok"


def read_both(path: Path) -> str:
    """Reads ``path`` strictly and leniently; a strict success implies the same molecules leniently."""
    strict = {}

    def read_strict():
        strict["ms"], errors = read_molecules(path)
        check_molecules(strict["ms"], errors, lenient=False)

    def read_lenient():
        ms, errors = read_molecules(path, lenient=True)
        check_molecules(ms, errors, lenient=True)
        if "ms" in strict:
            assert errors == [None] * len(ms)
            np.testing.assert_array_equal(ms.positions, strict["ms"].positions)

    out = outcome(read_strict, path.name)
    out_lenient = outcome(read_lenient, path.name)
    assert not (out == "ok" and out_lenient == "error")
    return out


def assert_both_paths(counts: collections.Counter, low: float = 0.15):
    total = sum(counts.values())
    assert total >= 100, counts
    assert counts["ok"] >= low * total and counts["error"] >= low * total, counts


# ---- text corruptions shared by the line-based formats ----

CORRUPTIONS = ("number", "number", "token", "count", "drop_token", "cut", "delete_line", "duplicate_line", "blank_line",
               "garbage_line", "char")


@st.composite
def corrupted(draw, text: str, max_edits: int = 2):
    """``text`` with 0..max_edits targeted corruptions (about a third of the inputs are left intact)."""
    lines = text.splitlines(keepends=True)
    n_edits = draw(st.sampled_from([0, 0, 0, 1, 1, 1, 2][: max_edits * 3 + 1]))
    for _ in range(n_edits):
        kind = draw(st.sampled_from(CORRUPTIONS))
        event(f"corruption: {kind}")
        if not lines:
            break
        k = draw(st.integers(0, len(lines) - 1))
        toks = lines[k].split()
        if kind == "number":  # benign: a coordinate or property written differently (fixed, exponent, sign)
            nums = [j for j, t in enumerate(toks) if "." in t and t.replace(".", "", 1).lstrip("-").isdigit()]
            if nums:
                j = draw(st.sampled_from(nums))
                toks[j] = draw(st.sampled_from(["{:.4f}", "{:.6e}", "{:+.3f}", "{}"])).format(
                    float(toks[j]) + draw(st.floats(-0.01, 0.01)))
                lines[k] = " ".join(toks) + "\n"
        elif kind == "token" and toks:
            toks[draw(st.integers(0, len(toks) - 1))] = draw(st.sampled_from(BAD_TOKENS))
            lines[k] = " ".join(toks) + "\n"
        elif kind == "count":  # the first integer of the line, off by one or replaced by text
            for j, t in enumerate(toks):
                if t.lstrip("-").isdigit():
                    toks[j] = draw(st.sampled_from([str(int(t) + 1), str(int(t) - 1), "many", "-3", "0"]))
                    lines[k] = " ".join(toks) + "\n"
                    break
        elif kind == "drop_token" and toks:
            lines[k] = " ".join(toks[:-1]) + "\n"
        elif kind == "cut":
            cut = draw(st.integers(0, len(lines[k])))
            lines = lines[:k] + [lines[k][:cut]]
        elif kind == "delete_line":
            del lines[k]
        elif kind == "duplicate_line":
            lines.insert(k, lines[k])
        elif kind == "blank_line":
            lines.insert(k, "\n")
        elif kind == "garbage_line":
            lines.insert(k, draw(st.text(max_size=30)).replace("\r", "") + "\n")
        elif kind == "char" and lines[k]:
            j = draw(st.integers(0, len(lines[k]) - 1))
            lines[k] = lines[k][:j] + draw(st.characters()) + lines[k][j + 1:]
    return "".join(lines)


def write_text(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


def run_text_fuzz(fuzz_dir, suffix, make_text, qm9_small, low=0.15):
    counts = collections.Counter()

    @given(st.data())
    def run(data):
        picks = data.draw(st.lists(st.integers(0, len(qm9_small) - 1), min_size=1, max_size=3))
        text = data.draw(corrupted(make_text(picks)))
        out = read_both(write_text(fuzz_dir / f"fuzz{suffix}", text))
        event(f"outcome: {out}")
        counts[out] += 1

    run()
    assert_both_paths(counts, low)


def test_fuzz_xyz_mutations(fuzz_dir, qm9_small):
    run_text_fuzz(fuzz_dir, ".xyz", lambda picks: "".join(format_xyz_block(qm9_small[i], extended=False)
                                                          for i in picks), qm9_small)


def test_fuzz_extxyz_mutations(fuzz_dir, qm9_small):
    run_text_fuzz(fuzz_dir, ".extxyz", lambda picks: "".join(format_xyz_block(qm9_small[i], extended=True)
                                                             for i in picks), qm9_small)


@pytest.fixture(scope="module")
def sdf_records(tmp_path_factory, qm9_small):
    """One SD record per molecule, as ``write_molecules`` writes them (bonds from DetermineBonds)."""
    p = tmp_path_factory.mktemp("sdf") / "m.sdf"
    write_molecules(p, qm9_small)
    return [r + "$$$$\n" for r in p.read_text().split("$$$$\n") if r.strip()]


def test_fuzz_sdf_mutations(fuzz_dir, qm9_small, sdf_records):
    run_text_fuzz(fuzz_dir, ".sdf", lambda picks: "".join(sdf_records[i] for i in picks), qm9_small, low=0.1)


# ---- npz: valid arrays with targeted corruptions ----

NPZ_CORRUPTIONS = {
    # still valid
    "none": True, "float32_positions": True, "int8_counts": True, "uint8_elements": True, "compressed": True,
    "extra_array": True, "smiles": True, "empty_smiles": True, "property": True,
    # invalid
    "count_plus": False, "count_minus": False, "negative_count": False, "drop_position": False,
    "drop_element": False, "nan": False, "inf": False, "element_0": False, "element_200": False,
    "float_counts": False, "string_elements": False, "complex_positions": False, "positions_2d": False,
    "positions_1d": False, "counts_2d": False, "missing_key": False, "object_array": False, "smiles_short": False,
    "property_short": False, "no_molecules": False, "truncate_file": False, "flip_bytes": False,
}


@st.composite
def npz_bytes(draw):
    m = draw(st.integers(1, 4))
    n = np.array(draw(st.lists(st.integers(1, 5), min_size=m, max_size=m)), np.int64)
    a = int(n.sum())
    pos = np.array(draw(st.lists(st.floats(-20, 20), min_size=3 * a, max_size=3 * a))).reshape(a, 3)
    z = np.array(draw(st.lists(st.sampled_from([1, 6, 7, 8, 9]), min_size=a, max_size=a)), np.int64)
    d = {"n_atoms": n, "positions": pos, "atomic_numbers": z}
    kind = draw(st.sampled_from(sorted(NPZ_CORRUPTIONS)))
    # the healthy inputs are a third of the draws
    if draw(st.integers(0, 2)) == 0:
        kind = draw(st.sampled_from([k for k, ok in NPZ_CORRUPTIONS.items() if ok]))
    event(f"npz: {kind}")
    i = draw(st.integers(0, m - 1))
    save = np.savez
    if kind == "float32_positions":
        d["positions"] = pos.astype(np.float32)
    elif kind == "int8_counts":
        d["n_atoms"] = n.astype(np.int8)
    elif kind == "uint8_elements":
        d["atomic_numbers"] = z.astype(np.uint8)
    elif kind == "compressed":
        save = np.savez_compressed
    elif kind == "extra_array":
        d["source_group"] = np.arange(m)
    elif kind == "smiles":
        d["smiles"] = np.array(["C"] * m)
    elif kind == "empty_smiles":
        d["smiles"] = np.array([], str)
    elif kind == "property":
        d["prop_gap"] = np.linspace(0, 1, m)
    elif kind == "count_plus":
        d["n_atoms"] = n + (np.arange(m) == i)
    elif kind == "count_minus":
        d["n_atoms"] = n - (np.arange(m) == i)
    elif kind == "negative_count":
        d["n_atoms"] = np.where(np.arange(m) == i, -n, n)
    elif kind == "drop_position":
        d["positions"] = pos[:-1]
    elif kind == "drop_element":
        d["atomic_numbers"] = z[:-1]
    elif kind in ("nan", "inf"):
        pos[draw(st.integers(0, a - 1)), draw(st.integers(0, 2))] = np.nan if kind == "nan" else -np.inf
    elif kind == "element_0":
        z[draw(st.integers(0, a - 1))] = 0
    elif kind == "element_200":
        z[draw(st.integers(0, a - 1))] = 200
    elif kind == "float_counts":
        d["n_atoms"] = n.astype(float)
    elif kind == "string_elements":
        d["atomic_numbers"] = np.array([str(v) for v in z])
    elif kind == "complex_positions":
        d["positions"] = pos.astype(complex)
    elif kind == "positions_2d":
        d["positions"] = pos[:, :2]
    elif kind == "positions_1d":
        d["positions"] = pos.ravel()
    elif kind == "counts_2d":
        d["n_atoms"] = n[None]
    elif kind == "missing_key":
        del d[draw(st.sampled_from(sorted(d)))]
    elif kind == "object_array":
        d[draw(st.sampled_from(["positions", "smiles"]))] = np.array([{"x": 1}] * m, dtype=object)
    elif kind == "smiles_short":
        d["smiles"] = np.array(["C"] * (m + 1))
    elif kind == "property_short":
        d["prop_gap"] = np.zeros(m + 1)
    elif kind == "no_molecules":
        d = {"n_atoms": np.zeros(0, np.int64), "positions": np.zeros((0, 3)), "atomic_numbers": np.zeros(0, int)}
    buf = io.BytesIO()
    save(buf, **d)
    data = buf.getvalue()
    if kind == "truncate_file":
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif kind == "flip_bytes":
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        data = bytes(data)
    return kind, data


def test_fuzz_npz_mutations(fuzz_dir):
    counts = collections.Counter()

    @given(npz_bytes())
    def run(case):
        kind, data = case
        p = fuzz_dir / "fuzz.npz"
        p.write_bytes(data)
        out = read_both(p)
        if kind not in ("flip_bytes", "nan", "inf", "element_0", "element_200"):
            # (a flipped byte may land in a zip comment or timestamp; bad values are kept leniently)
            assert out == ("ok" if NPZ_CORRUPTIONS[kind] else "error"), kind
        event(f"outcome: {out}")
        counts[out] += 1

    run()
    assert_both_paths(counts)


# ---- random bytes, random unicode, empty files ----

READERS = [".xyz", ".extxyz", ".sdf", ".npz"]


@pytest.mark.parametrize("suffix", READERS)
def test_fuzz_random_bytes(fuzz_dir, suffix):
    prefix = {".npz": b"PK\x03\x04", ".sdf": b"\n  RDKit          3D\n\n", ".xyz": b"3\n\n",
              ".extxyz": b"1\n\nC "}[suffix]

    @given(st.booleans(), st.binary(max_size=600))
    def run(with_prefix, data):
        p = fuzz_dir / f"bytes{suffix}"
        p.write_bytes((prefix if with_prefix else b"") + data)
        read_both(p)

    run()


@pytest.mark.parametrize("suffix", [".xyz", ".sdf"])
def test_fuzz_random_unicode(fuzz_dir, suffix):
    @given(st.text(max_size=300))
    def run(text):
        read_both(write_text(fuzz_dir / f"text{suffix}", text))

    run()


@pytest.mark.parametrize("suffix", READERS)
@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"], ids=["empty", "blank", "bom"])
def test_empty_files_are_one_sentence(tmp_path, suffix, content):
    p = tmp_path / f"e{suffix}"
    p.write_bytes(content)
    for lenient in (False, True):
        with pytest.raises(GenmolError) as e:
            read_molecules(p, lenient=lenient)
        assert f"e{suffix}" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("content", ["$$$$", "\n$$$$\n\n$$$$\n"])
def test_sdf_of_separators_only_is_one_sentence(tmp_path, content):
    """Found by the unicode fuzzer: an SD file with no record read as an empty set."""
    p = tmp_path / "sep.sdf"
    p.write_text(content)
    for lenient in (False, True):
        with pytest.raises(GenmolError, match=r"sep\.sdf holds no SDF record"):
            read_molecules(p, lenient=lenient)


# ---- truncation at every line of valid files; a file of many MB ----


def _valid_files(tmp_path, qm9_small) -> dict:
    paths = {}
    for suffix in (".xyz", ".extxyz", ".sdf"):
        paths[suffix] = tmp_path / f"v{suffix}"
        write_molecules(paths[suffix], qm9_small[:5], extended=suffix == ".extxyz")
    return paths


def test_truncation_at_every_line(tmp_path, qm9_small):
    counts = collections.Counter()
    for suffix, path in _valid_files(tmp_path, qm9_small).items():
        lines = path.read_text().splitlines(keepends=True)
        for k in range(len(lines) + 1):
            for tail in ("", lines[k][: len(lines[k]) // 2] if k < len(lines) else ""):
                cut = write_text(tmp_path / f"cut{suffix}", "".join(lines[:k]) + tail)
                counts[read_both(cut)] += 1
        # (a cut at a record boundary is a valid, shorter file)
    assert_both_paths(counts, low=0.05)


def test_npz_truncation_at_every_64_bytes(tmp_path, qm9_small):
    p = tmp_path / "v.npz"
    write_molecules(p, qm9_small)
    data = p.read_bytes()
    for k in range(0, len(data), 64):
        (tmp_path / "cut.npz").write_bytes(data[:k])
        assert read_both(tmp_path / "cut.npz") == "error"


def test_huge_xyz_reads_and_names_the_last_line(tmp_path):
    """About 16 MB of XYZ (20,000 frames, 360,000 atom lines): read whole; a bad last line is named exactly."""
    ms = load_qm9("embedded")
    block = "".join(format_xyz_block(m, extended=False) for m in ms)
    text = block * 10
    p = write_text(tmp_path / "huge.xyz", text)
    assert p.stat().st_size > 15e6
    back, errors = read_molecules(p)
    assert len(back) == 20000 and errors == [None] * 20000 and int(back.num_atoms.sum()) == 10 * 35827
    n_lines = text.count("\n")
    bad = text[: text.rstrip("\n").rfind("\n") + 1] + "C 0.0 zero 0.0\n"
    write_text(p, bad)
    with pytest.raises(GenmolError, match=rf"huge\.xyz:{n_lines} .*'zero' is not a number"):
        read_molecules(p)


# ---- QM9 distribution formats (figshare files and tarball, gdb9.sdf + csv, uncharacterized.txt) ----

METHANE = (FIX / "dsgdb9nsd_000001.xyz").read_text()


def test_fuzz_figshare_mutations(fuzz_dir):
    d = fuzz_dir / "figshare"
    d.mkdir(exist_ok=True)
    counts = collections.Counter()

    @given(corrupted(METHANE))
    def run(text):
        write_text(d / "dsgdb9nsd_000001.xyz", text)

        def read():
            for m in iter_figshare(d):
                assert m.positions.shape == (m.num_atoms, 3) and m.num_atoms >= 1
                assert np.all(np.isfinite(m.positions))

        counts[outcome(read, "dsgdb9nsd_000001.xyz")] += 1

    run()
    assert_both_paths(counts)


def test_fuzz_figshare_bytes_and_tarball(fuzz_dir):
    d = fuzz_dir / "figshare_bytes"
    d.mkdir(exist_ok=True)
    tar = (FIX / "qm9_dsgdb9nsd_format_reconstructed_50.tar.bz2").read_bytes()

    @given(st.binary(max_size=300), st.integers(0, len(tar) - 1), st.integers(0, 255))
    def run(data, cut, flip):
        (d / "dsgdb9nsd_000002.xyz").write_bytes(data)
        outcome(lambda: list(iter_figshare(d)), "dsgdb9nsd_000002.xyz")
        (d / "dsgdb9nsd_000002.xyz").unlink()
        damaged = bytearray(tar[:cut + 1] if flip % 2 else tar)  # cut short, or one byte changed
        damaged[cut % len(damaged)] ^= flip or 1
        (fuzz_dir / "qm9.tar.bz2").write_bytes(bytes(damaged))
        outcome(lambda: list(iter_figshare(fuzz_dir / "qm9.tar.bz2")), "qm9.tar.bz2")

    run()


def test_fuzz_gdb9_sdf_csv_and_uncharacterized(fuzz_dir, sdf_records):
    csv_text = ("mol_id,A,B,C,mu,alpha,homo,lumo,gap,r2,zpve,u0,u298,h298,g298,cv\n"
                "gdb_1,157.7,157.7,157.7,0.0,13.21,-0.3877,0.1171,0.5048,35.36,0.0447,"
                "-40.47,-40.47,-40.47,-40.49,6.4\n")
    qm9pack_text = ('Index,SMILES,Elements,XYZ_Ang,' + ",".join(
        ["RotA_GHz", "RotB_GHz", "RotC_GHz", "Dipole_debye", "Polarizability_bohr3", "HOMO_au", "LUMO_au",
         "HOMO_LUMO_gap_au", "R2_bohr2", "ZPVE_au", "InternalEnergy_0K_au", "InternalEnergy_298K_au",
         "Enthalphy_298K_au", "GibbsFreeEnergy_298K_au", "Heatcapacity_Cv_cal_mol_K"]) + "\n"
        '1,C,"[\'C\', \'H\']","[0.0, 0.0, 0.0, 0.0, 0.0, 1.09]",' + ",".join(["1.0"] * 15) + "\n")
    counts = collections.Counter()

    @given(corrupted(sdf_records[0] + sdf_records[1], max_edits=1), corrupted(csv_text, max_edits=1),
           corrupted(qm9pack_text, max_edits=1), st.text(max_size=80))
    def run(sdf, csv, qm9pack, unc):
        write_text(fuzz_dir / "gdb9.sdf", sdf)
        write_text(fuzz_dir / "gdb9.sdf.csv", csv)
        counts[outcome(lambda: list(iter_gdb9_sdf(fuzz_dir / "gdb9.sdf", fuzz_dir / "gdb9.sdf.csv")), "gdb9.sdf")] += 1
        write_text(fuzz_dir / "qm9_part1.csv", qm9pack)
        counts[outcome(lambda: list(iter_qm9pack_csv(fuzz_dir / "qm9_part1.csv")), "qm9_part1.csv")] += 1
        write_text(fuzz_dir / "uncharacterized.txt", unc)
        assert isinstance(read_uncharacterized(fuzz_dir / "uncharacterized.txt"), set)

    run()
    assert_both_paths(counts, low=0.1)


def test_tarball_member_that_is_not_utf8_names_member(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:bz2") as t:
        info = tarfile.TarInfo("qm9/dsgdb9nsd_000007.xyz")
        data = METHANE.encode().replace(b"gdb 1", b"gdb \xff1")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    (tmp_path / "q.tar.bz2").write_bytes(buf.getvalue())
    with pytest.raises(GenmolError, match=r"q\.tar\.bz2\[qm9/dsgdb9nsd_000007\.xyz\]:2: byte 0xff is not UTF-8"):
        list(iter_figshare(tmp_path / "q.tar.bz2"))


@pytest.mark.slow
@pytest.mark.parametrize("fuzz", [test_fuzz_xyz_mutations, test_fuzz_extxyz_mutations, test_fuzz_sdf_mutations,
                                  test_fuzz_npz_mutations, test_fuzz_figshare_mutations], ids=lambda f: f.__name__)
def test_fuzz_mutations_with_thousands_of_examples(fuzz, request):
    """The mutation fuzzers under the ``slow`` hypothesis profile (2,500 examples each; ``pytest -m slow``)."""
    import inspect

    from hypothesis import settings

    settings.load_profile("slow")
    try:
        fuzz(**{name: request.getfixturevalue(name) for name in inspect.signature(fuzz).parameters})
    finally:
        settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
