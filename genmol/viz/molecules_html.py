"""Self-contained HTML pages that show molecules in 3D (no network, no JavaScript libraries).

Each molecule is drawn ball-and-stick on a ``<canvas>`` by ~60 lines of inline JavaScript
(depth-sorted atoms with CPK colours, bonds from RDKit or distance rules), rotatable by
dragging, in a grid with a caption (SMILES, validity, atom count). Opens offline in any browser.
"""

from __future__ import annotations

import html
import json
import os

import numpy as np

from genmol.io.atomic import atomic_write_text
from genmol.data.elements import covalent_radius

__all__ = ["molecules_html", "write_molecules_html", "CPK"]

CPK = {1: "#e8e8e8", 6: "#404040", 7: "#3050f8", 8: "#ff0d0d", 9: "#90e050", 15: "#ff8000", 16: "#ffff30",
       17: "#1ff01f", 35: "#a62929", 53: "#940094"}
RADIUS = {1: 0.25, 6: 0.38, 7: 0.36, 8: 0.35, 9: 0.33}

_JS = r"""
function draw(c, m, R) {
  const g = c.getContext('2d'), W = c.width, H = c.height;
  g.clearRect(0, 0, W, H);
  const p = m.pos.map(v => [R[0][0]*v[0]+R[0][1]*v[1]+R[0][2]*v[2], R[1][0]*v[0]+R[1][1]*v[1]+R[1][2]*v[2],
                             R[2][0]*v[0]+R[2][1]*v[1]+R[2][2]*v[2]]);
  const s = 0.42 * Math.min(W, H) / Math.max(1.5, m.extent);
  const X = v => W / 2 + s * v[0], Y = v => H / 2 - s * v[1];
  const items = [];
  m.bonds.forEach(b => items.push({z: (p[b[0]][2] + p[b[1]][2]) / 2 - 0.01, bond: b}));
  p.forEach((v, i) => items.push({z: v[2], atom: i}));
  items.sort((a, b) => a.z - b.z);
  for (const it of items) {
    if (it.bond) {
      const [i, j, o] = it.bond;
      g.strokeStyle = '#777'; g.lineWidth = 2 + 1.5 * (o - 1);
      g.beginPath(); g.moveTo(X(p[i]), Y(p[i])); g.lineTo(X(p[j]), Y(p[j])); g.stroke();
    } else {
      const i = it.atom, r = s * m.rad[i];
      const grd = g.createRadialGradient(X(p[i]) - r / 3, Y(p[i]) - r / 3, r / 5, X(p[i]), Y(p[i]), r);
      grd.addColorStop(0, '#fff'); grd.addColorStop(1, m.col[i]);
      g.fillStyle = grd; g.beginPath(); g.arc(X(p[i]), Y(p[i]), r, 0, 2 * Math.PI); g.fill();
      g.strokeStyle = '#333'; g.lineWidth = 0.5; g.stroke();
    }
  }
}
function rot(R, ax, ay) {
  const cy = Math.cos(ax), sy = Math.sin(ax), cx = Math.cos(ay), sx = Math.sin(ay);
  const A = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], B = [[1, 0, 0], [0, cx, -sx], [0, sx, cx]];
  const mul = (P, Q) => P.map((r, i) => Q[0].map((_, j) => r.reduce((t, _, k) => t + P[i][k] * Q[k][j], 0)));
  return mul(mul(B, A), R);
}
MOLS.forEach((m, k) => {
  const c = document.getElementById('c' + k);
  let R = [[1, 0, 0], [0, 1, 0], [0, 0, 1]], last = null;
  c.onpointerdown = e => { last = [e.clientX, e.clientY]; c.setPointerCapture(e.pointerId); };
  c.onpointermove = e => { if (!last) return; R = rot(R, (e.clientX - last[0]) / 80, (e.clientY - last[1]) / 80);
                           last = [e.clientX, e.clientY]; draw(c, m, R); };
  c.onpointerup = () => { last = null; };
  draw(c, m, rot(R, 0.4, 0.3));
});
"""


def _bonds(z: np.ndarray, pos: np.ndarray) -> list[tuple[int, int, int]]:
    """Bonds from RDKit ``DetermineBonds`` (orders) or, failing that, covalent-radius connectivity."""
    from genmol.data.molecules.rdkit import xyz2mol

    mol, _ = xyz2mol(z, pos) if len(z) > 1 else (None, None)
    if mol is not None:
        out = []
        for b in mol.GetBonds():
            o = b.GetBondTypeAsDouble()
            out.append((b.GetBeginAtomIdx(), b.GetEndAtomIdx(), 2 if o == 1.5 else int(round(o))))
        return out
    cov = np.array([covalent_radius(a) for a in z])
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    i, j = np.nonzero(np.triu(d < 1.2 * (cov[:, None] + cov[None]), 1))
    return [(int(a), int(b), 1) for a, b in zip(i, j)]


def molecules_html(molecules, captions: list[str] | None = None, title: str = "genmol molecules",
                   size: int = 260) -> str:
    """HTML text for ``molecules`` (objects with ``atomic_numbers`` and ``positions`` in Å)."""
    data = []
    for m in molecules:
        z = np.asarray(m.atomic_numbers)
        pos = np.asarray(m.positions, float)
        pos = pos - pos.mean(0) if len(pos) else pos
        extent = float(np.linalg.norm(pos, axis=1).max()) + 0.4 if len(pos) else 1.0  # any rotation stays inside
        data.append({"pos": np.round(pos, 3).tolist(), "bonds": _bonds(z, pos) if len(z) else [],
                     "col": [CPK.get(int(a), "#ff69b4") for a in z], "rad": [RADIUS.get(int(a), 0.4) for a in z],
                     "extent": extent})
    captions = captions or ["" for _ in data]
    cells = "\n".join(
        f'<figure><canvas id="c{k}" width="{size}" height="{size}"></canvas>'
        f"<figcaption>{html.escape(cap)}</figcaption></figure>" for k, cap in enumerate(captions))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:1em} .grid{display:flex;flex-wrap:wrap;gap:8px}"
            "figure{margin:0;border:1px solid #ddd;border-radius:6px;padding:4px;background:#fafafa}"
            f"figcaption{{font-size:12px;max-width:{size}px;overflow-wrap:anywhere}} canvas{{cursor:grab}}"
            f"</style></head><body><h3>{html.escape(title)}</h3><p>Drag a molecule to rotate it.</p>"
            f"<div class='grid'>{cells}</div><script>const MOLS = {json.dumps(data)};{_JS}</script></body></html>")


def write_molecules_html(path: str | os.PathLike, molecules, captions=None, title: str = "genmol molecules") -> None:
    """Writes :func:`molecules_html` atomically."""
    atomic_write_text(path, molecules_html(molecules, captions, title))


