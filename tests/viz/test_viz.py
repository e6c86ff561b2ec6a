"""genmol.viz: learning-curve PNGs, self-contained molecule HTML pages, atomic PNG writes."""

import json
import re
import struct

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from genmol.errors import GenmolError  # noqa: E402
from genmol.viz.curves import plot_learning_curves  # noqa: E402
from genmol.viz.figures import save_png  # noqa: E402
from genmol.viz.molecules_html import CPK, molecules_html, write_molecules_html  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    """(width, height) from the PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _write_metrics(run, rows):
    run.mkdir(parents=True, exist_ok=True)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _rows(scale=1.0):
    rows = [{"step": s, "train/loss": scale / s, "train/grad_norm": 2.0, "steps_per_s": 10.0} for s in range(1, 21)]
    return rows + [{"step": 10, "eval/mae": 0.5}, {"step": 20, "eval/mae": 0.4}]


def test_learning_curves_png_one_panel_per_metric(tmp_path):
    _write_metrics(tmp_path / "run", _rows())
    out = tmp_path / "plots" / "curves.png"
    keys = plot_learning_curves(tmp_path / "run", out, smooth=3)
    assert keys == ["eval/mae", "train/loss"]  # train/* and eval/*, not grad_norm or steps_per_s
    width, height = _png_size(out)
    assert (width, height) == (round(2 * 4.2 * 100), round(3.4 * 100))  # two 4.2-inch panels at 100 dpi
    image = plt.imread(out)  # a PNG matplotlib itself can decode, with something drawn on it
    assert image.shape[:2] == (height, width) and image[..., :3].std() > 0.05
    assert not [p for p in out.parent.iterdir() if p.name != "curves.png"]  # no temporary file left behind


def test_learning_curves_chosen_keys_and_several_runs(tmp_path):
    _write_metrics(tmp_path / "a", _rows())
    _write_metrics(tmp_path / "b", _rows(2.0))
    out = tmp_path / "c.png"
    assert plot_learning_curves([tmp_path / "a", tmp_path / "b"], out, keys=["train/loss"]) == ["train/loss"]
    assert _png_size(out) == (420, 340)


@pytest.mark.parametrize("content", [None, "", '{"step": 1, "train/l'])  # no file, empty, only a torn line
def test_learning_curves_without_records_is_a_genmol_error(tmp_path, content):
    run = tmp_path / "run"
    run.mkdir()
    if content is not None:
        (run / "metrics.jsonl").write_text(content)
    with pytest.raises(GenmolError, match="has no metrics.jsonl records to plot"):
        plot_learning_curves(run, tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


def _qm9(n):
    from genmol.data.molecules.qm9 import load_qm9

    ms = load_qm9("embedded")
    return [ms.molecule(i) for i in range(n)]


def _mols_json(text):
    """The molecule data the page's script draws (the JSON after ``const MOLS =``)."""
    start = text.index("const MOLS = ") + len("const MOLS = ")
    return json.JSONDecoder().raw_decode(text[start:])[0]


def test_molecules_html_is_self_contained_with_one_canvas_per_molecule(tmp_path):
    mols = _qm9(3)  # C#CC#C, CC(=O)C(N)=O, CC1CC(C)C1
    hostile = "<script>alert('x')</script> & \"quoted\""
    captions = ["diacetylene", hostile, "water </figcaption><img src=x onerror=alert(1)>"]
    text = molecules_html(mols, captions, title="<b>samples</b>")
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")
    assert not re.search(r"https?://|//cdn|src=[\"']?http", text, re.I)  # nothing fetched from the network
    assert text.count("<canvas") == 3 and all(f'id="c{k}"' in text for k in range(3)) and 'id="c3"' not in text
    assert text.count("<figcaption>") == 3
    # captions and title are text, not markup: the only <script> element is the page's own
    assert text.count("<script") == 1 and "<script>alert" not in text and "<img" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in text
    assert "&lt;b&gt;samples&lt;/b&gt;" in text and "<b>samples" not in text

    data = _mols_json(text)
    assert len(data) == 3
    for m, d in zip(mols, data):
        pos = np.asarray(d["pos"])
        assert pos.shape == (m.num_atoms, 3) and np.allclose(pos.mean(0), 0, atol=2e-3)  # centred
        assert d["col"] == [CPK[int(z)] for z in m.atomic_numbers] and len(d["rad"]) == m.num_atoms
        assert d["extent"] >= np.linalg.norm(pos, axis=1).max()  # any rotation stays in the canvas
    # bonds: the molecule's own bonds with their orders (RDKit from the recorded SMILES, hydrogens added)
    from rdkit import Chem

    for m, d in zip(mols, data):
        ref = Chem.AddHs(Chem.MolFromSmiles(m.info["smiles"]))
        assert sorted(o for *_, o in d["bonds"]) == sorted(int(b.GetBondTypeAsDouble()) for b in ref.GetBonds())
        assert all(0 <= i < m.num_atoms and 0 <= j < m.num_atoms and i != j for i, j, _ in d["bonds"])
    assert sorted(tuple(sorted(b[:2])) + (b[2],) for b in data[0]["bonds"]) == [  # C#CC#C as stored
        (0, 1, 1), (0, 3, 3), (1, 2, 3), (2, 4, 1), (3, 5, 1)]

    write_molecules_html(tmp_path / "m.html", mols, captions, title="<b>samples</b>")
    assert (tmp_path / "m.html").read_text() == text


def test_molecules_html_without_captions_or_molecules():
    text = molecules_html(_qm9(2))
    assert text.count("<canvas") == 2 and text.count("<figcaption></figcaption>") == 2
    empty = molecules_html([])
    assert "<canvas" not in empty and _mols_json(empty) == []


def test_save_png_writes_atomically_and_closes_the_figure(tmp_path):
    fig = plt.figure(figsize=(2, 1))
    fig.gca().plot([0, 1], [1, 0])
    out = tmp_path / "f.png"
    save_png(fig, out, dpi=50)
    assert _png_size(out) == (100, 50) and not plt.fignum_exists(fig.number)
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]


def test_save_png_failure_leaves_no_partial_file(tmp_path):
    def broken_savefig(f, **kwargs):
        f.write(PNG_SIGNATURE + b"half a picture")
        raise OSError("disk full")

    out = tmp_path / "f.png"
    fig = plt.figure()
    fig.savefig = broken_savefig
    with pytest.raises(OSError, match="disk full"):
        save_png(fig, out)
    assert list(tmp_path.iterdir()) == []  # neither the target nor the temporary sibling

    out.write_bytes(b"previous plot")  # an existing file is left as it was
    with pytest.raises(OSError, match="disk full"):
        save_png(fig, out)
    assert out.read_bytes() == b"previous plot" and [p.name for p in tmp_path.iterdir()] == ["f.png"]
    plt.close(fig)
