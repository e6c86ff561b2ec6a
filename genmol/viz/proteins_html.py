"""Self-contained HTML pages that show proteins in 3D (no network, no JavaScript libraries).

Each panel is a ``<canvas>`` drawn by inline JavaScript: a cartoon-like ribbon through the Cα atoms of each chain
(a Catmull-Rom spline, flat and wide in helices, narrower in strands, a thin tube in coil; the ribbon lies in the
peptide plane, oriented by the C=O direction) and the heavy atoms as sticks (intra-residue bonds from the residue
templates, peptide bonds from the chain topology), depth-sorted with fog, rotatable by dragging and zoomable with
the mouse wheel. Colours: the first structure of a panel by chain position (blue N-terminus to red C-terminus) or
by P-SEA secondary structure (a toolbar switch); further structures of a panel (overlays, e.g. a reconstruction
over its input) in one colour each, with a legend to hide them. Opens offline in any browser.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
from typing import Sequence

import numpy as np

from genmol.data.proteins import chemistry as ch
from genmol.data.proteins import residues as rc
from genmol.data.proteins.structure import Protein
from genmol.io.atomic import atomic_write_text

__all__ = ["Panel", "proteins_html", "write_proteins_html", "OVERLAY_COLOURS", "ELEMENT_COLOURS"]

OVERLAY_COLOURS = ("#ff8c1a", "#2ca02c", "#9467bd", "#17becf", "#e377c2")
"""Colours of the second, third, ... structure of a panel."""
ELEMENT_COLOURS = {"C": "#909090", "N": "#3050f8", "O": "#ff0d0d", "S": "#e6c619", "SE": "#ffa100"}
_SCHEME_SWATCH = "linear-gradient(90deg,#3c3cff,#3cff3c,#ff3c3c)"  # legend of the first structure
_SS_WIDTH = {"a": 1.3, "b": 1.0, "c": 0.0}  # ribbon half-width, Å (0: tube)


@dataclasses.dataclass
class Panel:
    """One canvas: ``structures`` drawn together (the first one coloured by the scheme, the others overlaid in
    :data:`OVERLAY_COLOURS`), ``labels`` naming them in the legend, and a caption under the canvas."""

    structures: Sequence[Protein]
    labels: Sequence[str] = ()
    caption: str = ""


def _secondary_structure(p: Protein, rows: np.ndarray) -> list[str]:
    """P-SEA labels (``a``, ``b``, ``c``) of the residue rows ``rows`` (amino acids with a Cα)."""
    import biotite.structure as struc

    labels = ["c"] * len(rows)
    if len(rows) < 4:
        return labels
    atoms = struc.AtomArray(len(rows))
    atoms.coord = p.positions[rows, rc.CA_SLOT]
    atoms.chain_id = p.chain_id[rows]
    atoms.res_id = p.residue_index[rows]
    atoms.ins_code = p.insertion_code[rows]
    atoms.res_name = np.asarray(rc.RESIDUE_NAMES)[p.aatype[rows]]
    atoms.atom_name = np.full(len(rows), "CA")
    atoms.element = np.full(len(rows), "C")
    try:
        sse = struc.annotate_sse(atoms)
    except Exception:  # P-SEA needs a few residues per chain; a failure only loses the colours
        return labels
    return [s if s in ("a", "b") else "c" for s in sse]


def _trace(p: Protein, links: np.ndarray, centre: np.ndarray) -> list[dict]:
    """Ribbon pieces: runs of linked residues with a Cα, each with Cα positions, C=O guide directions, half-widths,
    secondary structure and position in the chain (0 … 1)."""
    rows = np.nonzero(p.atom_mask[:, rc.CA_SLOT] & p.amino_acid_mask())[0]
    if len(rows) == 0:
        return []
    sse = dict(zip(rows.tolist(), _secondary_structure(p, rows)))
    pieces, current = [], [int(rows[0])]
    for a, b in zip(rows[:-1], rows[1:]):
        if b == a + 1 and links[a]:
            current.append(int(b))
        else:
            pieces.append(current)
            current = [int(b)]
    pieces.append(current)
    chain_rows = {c: np.nonzero(p.chain_id == c)[0] for c in p.chains()}
    out = []
    for piece in pieces:
        ca = p.positions[piece, rc.CA_SLOT].astype(np.float64)
        guide = np.zeros_like(ca)
        for k, r in enumerate(piece):
            if p.atom_mask[r, rc.O_SLOT] and p.atom_mask[r, rc.C_SLOT]:
                g = p.positions[r, rc.O_SLOT] - p.positions[r, rc.C_SLOT]
            else:  # no carbonyl: the bisector of the Cα angle
                prev, nxt = ca[max(k - 1, 0)], ca[min(k + 1, len(piece) - 1)]
                g = (prev - ca[k]) + (nxt - ca[k])
            tangent = ca[min(k + 1, len(piece) - 1)] - ca[max(k - 1, 0)]
            tangent = tangent / max(np.linalg.norm(tangent), 1e-6)
            g = g - np.dot(g, tangent) * tangent
            norm = np.linalg.norm(g)
            g = g / norm if norm > 1e-6 else (guide[k - 1] if k else np.array([0.0, 0.0, 1.0]))
            if k and np.dot(g, guide[k - 1]) < 0:
                g = -g  # no 180° twists between neighbours
            guide[k] = g
        rows_in_chain = chain_rows[str(p.chain_id[piece[0]])]
        span = max(len(rows_in_chain) - 1, 1)
        where = {int(r): i for i, r in enumerate(rows_in_chain)}
        labels = [sse[r] for r in piece]
        out.append({"ca": np.round(ca - centre, 2).tolist(), "guide": np.round(guide, 3).tolist(),
                    "width": [_SS_WIDTH[s] for s in labels], "ss": "".join(labels),
                    "t": [round(where[r] / span, 4) for r in piece]})
    return out


def _sticks(p: Protein, links: np.ndarray, centre: np.ndarray) -> dict:
    """Present heavy atoms (positions, elements) and bonds between them (atom index pairs)."""
    r, s = np.nonzero(p.atom_mask)
    index = np.full(p.atom_mask.shape, -1, np.int64)
    index[r, s] = np.arange(len(r))
    bonds = []
    slots = ch.BONDS[p.aatype]  # [R, NB, 2]
    for row in range(p.num_residues):
        for a, b in slots[row]:
            if a >= 0 and index[row, a] >= 0 and index[row, b] >= 0:
                bonds.append((int(index[row, a]), int(index[row, b])))
    for row in np.nonzero(links)[0]:
        c, n = index[row, rc.C_SLOT], index[row + 1, rc.N_SLOT]
        if c >= 0 and n >= 0:
            bonds.append((int(c), int(n)))
    return {"pos": np.round(p.positions[r, s].astype(np.float64) - centre, 2).tolist(),
            "el": [str(e) for e in rc.ELEMENTS[p.aatype[r], s]], "bonds": bonds}


def _superposed(p: Protein, onto: Protein) -> Protein:
    """``p`` rotated and translated onto ``onto`` by their common amino-acid Cα (rows matched in order; ``p`` as
    it is when the residue counts differ or fewer than 3 Cα are shared)."""
    from genmol.geometry.kabsch import kabsch_np

    if p.num_residues != onto.num_residues:
        return p
    both = (p.atom_mask[:, rc.CA_SLOT] & onto.atom_mask[:, rc.CA_SLOT] & p.amino_acid_mask()
            & onto.amino_acid_mask())
    if both.sum() < 3:
        return p
    rot, trans = kabsch_np(p.positions[both, rc.CA_SLOT], onto.positions[both, rc.CA_SLOT])  # y ≈ R x + t
    moved = p.positions.astype(np.float64) @ rot.T + trans
    return dataclasses.replace(p, positions=np.where(p.atom_mask[..., None], moved, 0.0).astype(np.float32))


def _panel_data(panel: Panel, superpose: bool) -> dict:
    from genmol.eval.proteins.chemistry import chain_links

    structures = list(panel.structures)
    if not structures:
        raise ValueError("a panel needs at least one structure")
    first = structures[0]
    if superpose:
        structures = [first] + [_superposed(p, first) for p in structures[1:]]
    ca = first.atom_mask[:, rc.CA_SLOT]
    centre = (first.positions[ca, rc.CA_SLOT] if ca.any() else first.positions[first.atom_mask]).astype(
        np.float64).mean(0)
    data, extent = [], 1.0
    labels = list(panel.labels) + [f"structure {k + 1}" for k in range(len(panel.labels), len(structures))]
    for k, p in enumerate(structures):
        links = chain_links(p) if p.num_residues > 1 else np.zeros(0, bool)
        pos = p.positions[p.atom_mask].astype(np.float64) - centre
        if len(pos):
            extent = max(extent, float(np.linalg.norm(pos, axis=1).max()) + 1.5)
        colour = None if k == 0 else OVERLAY_COLOURS[(k - 1) % len(OVERLAY_COLOURS)]
        data.append({"label": labels[k], "colour": colour, "trace": _trace(p, links, centre),
                     **_sticks(p, links, centre)})
    return {"structures": data, "extent": extent}


_JS = r"""
const EL = __ELEMENTS__;
const SS = {a: [230, 25, 75], b: [255, 200, 0], c: [160, 160, 160]};
const hex = h => [1, 3, 5].map(i => parseInt(h.slice(i, i + 2), 16));
function hue(t) {  // blue (N-terminus) -> red (C-terminus)
  const h = (1 - t) * 240 / 60, x = 1 - Math.abs(h % 2 - 1), c = [[1, x, 0], [x, 1, 0], [0, 1, x], [0, x, 1],
    [x, 0, 1], [1, 0, x]][Math.min(5, Math.floor(h))];
  return c.map(v => Math.round(60 + 170 * v));
}
function spline(tr) {  // Catmull-Rom through the Cα atoms, 6 points per residue step
  const P = [], G = [], W = [], R = [], n = tr.ca.length, at = i => tr.ca[Math.max(0, Math.min(n - 1, i))];
  if (n === 1) return {P: [tr.ca[0]], G: [tr.guide[0]], W: [0], R: [0]};
  for (let i = 0; i < n - 1; i++) {
    const p0 = at(i - 1), p1 = at(i), p2 = at(i + 1), p3 = at(i + 2);
    for (let s = 0; s < 6; s++) {
      const u = s / 6, u2 = u * u, u3 = u2 * u;
      P.push([0, 1, 2].map(d => 0.5 * (2 * p1[d] + (p2[d] - p0[d]) * u + (2 * p0[d] - 5 * p1[d] + 4 * p2[d] - p3[d])
        * u2 + (3 * p1[d] - p0[d] - 3 * p2[d] + p3[d]) * u3)));
      const g = [0, 1, 2].map(d => (1 - u) * tr.guide[i][d] + u * tr.guide[i + 1][d]);
      const l = Math.hypot(...g) || 1; G.push(g.map(v => v / l));
      W.push(u < 0.5 ? tr.width[i] : tr.width[i + 1]); R.push(u < 0.5 ? i : i + 1);
    }
  }
  P.push(tr.ca[n - 1]); G.push(tr.guide[n - 1]); W.push(tr.width[n - 1]); R.push(n - 1);
  return {P, G, W, R};
}
const OPT = {ribbon: true, sticks: true, scheme: 'position'};
const VIEWS = [];
function draw(v) {
  const c = v.canvas, g = c.getContext('2d'), W = c.width, H = c.height, M = v.R;
  const rot = p => [M[0][0]*p[0]+M[0][1]*p[1]+M[0][2]*p[2], M[1][0]*p[0]+M[1][1]*p[1]+M[1][2]*p[2],
                    M[2][0]*p[0]+M[2][1]*p[1]+M[2][2]*p[2]];
  g.fillStyle = '#fff'; g.fillRect(0, 0, W, H);
  const s = v.zoom * 0.46 * Math.min(W, H) / v.data.extent, ext = v.data.extent;
  const X = p => W / 2 + s * p[0], Y = p => H / 2 - s * p[1];
  const fog = (rgb, z, k) => { const f = 0.55 * Math.min(1, Math.max(0, (ext - z) / (2 * ext)));
    return 'rgb(' + rgb.map(x => Math.round(k * x * (1 - f) + 255 * f)).join(',') + ')'; };
  const items = [];
  v.data.structures.forEach((st, k) => {
    if (!v.show[k]) return;
    const own = st.colour ? hex(st.colour) : null;
    if (OPT.ribbon) st.splines.forEach((sp, j) => {
      const tr = st.trace[j], P = sp.P.map(rot), G = sp.G.map(rot);
      for (let i = 0; i + 1 < P.length; i++) {
        const r = sp.R[i], rgb = own || (OPT.scheme === 'ss' ? SS[tr.ss[r]] : hue(tr.t[r]));
        const z = (P[i][2] + P[i + 1][2]) / 2, w0 = sp.W[i], w1 = sp.W[i + 1];
        if (w0 > 0 && w1 > 0) {
          const d = [0, 1, 2].map(q => P[i + 1][q] - P[i][q]), n = G[i];
          const f = [d[1]*n[2]-d[2]*n[1], d[2]*n[0]-d[0]*n[2], d[0]*n[1]-d[1]*n[0]], l = Math.hypot(...f) || 1;
          const q = [[P[i], G[i], w0], [P[i + 1], G[i + 1], w1], [P[i + 1], G[i + 1], -w1], [P[i], G[i], -w0]]
            .map(([p, gg, w]) => [p[0] + w * gg[0], p[1] + w * gg[1]]);
          items.push({z, quad: q, col: fog(rgb, z, 0.45 + 0.55 * Math.abs(f[2] / l))});
        } else items.push({z, line: [P[i], P[i + 1]], col: fog(rgb, z, 0.9), w: 0.55});
      }
    });
    if (OPT.sticks) {
      const P = st.pos.map(rot);
      st.bonds.forEach(([a, b]) => {
        const m = [0, 1, 2].map(q => (P[a][q] + P[b][q]) / 2);
        [[a, P[a]], [b, P[b]]].forEach(([i, p]) => {
          const e = st.el[i], rgb = e === 'C' ? (own ? own.map(x => Math.round(0.5 * x + 90)) : hex(EL.C))
                                              : hex(EL[e] || '#ff69b4');
          items.push({z: (p[2] + m[2]) / 2 + 0.05, line: [p, m], col: fog(rgb, (p[2] + m[2]) / 2, 1), w: 0.28});
        });
      });
    }
  });
  items.sort((a, b) => a.z - b.z);
  g.lineCap = 'round'; g.lineJoin = 'round';
  for (const it of items) {
    g.strokeStyle = it.col; g.fillStyle = it.col;
    if (it.quad) {
      g.lineWidth = 1; g.beginPath(); g.moveTo(X(it.quad[0]), Y(it.quad[0]));
      for (let i = 1; i < 4; i++) g.lineTo(X(it.quad[i]), Y(it.quad[i]));
      g.closePath(); g.fill(); g.stroke();
    } else {
      g.lineWidth = Math.max(1, s * it.w); g.beginPath();
      g.moveTo(X(it.line[0]), Y(it.line[0])); g.lineTo(X(it.line[1]), Y(it.line[1])); g.stroke();
    }
  }
}
function turn(R, ax, ay) {
  const cy = Math.cos(ax), sy = Math.sin(ax), cx = Math.cos(ay), sx = Math.sin(ay);
  const A = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], B = [[1, 0, 0], [0, cx, -sx], [0, sx, cx]];
  const mul = (P, Q) => P.map((r, i) => Q[0].map((_, j) => r.reduce((t, _, k) => t + P[i][k] * Q[k][j], 0)));
  return mul(mul(B, A), R);
}
const redraw = () => VIEWS.forEach(draw);
PANELS.forEach((data, k) => {
  data.structures.forEach(st => { st.splines = st.trace.map(spline); });
  const c = document.getElementById('p' + k);
  const v = {canvas: c, data, R: turn([[1, 0, 0], [0, 1, 0], [0, 0, 1]], 0.3, 0.2), zoom: 1,
             show: data.structures.map(() => true)};
  VIEWS.push(v);
  let last = null;
  c.onpointerdown = e => { last = [e.clientX, e.clientY]; c.setPointerCapture(e.pointerId); };
  c.onpointermove = e => { if (!last) return; v.R = turn(v.R, (e.clientX - last[0]) / 100,
                           (e.clientY - last[1]) / 100); last = [e.clientX, e.clientY]; draw(v); };
  c.onpointerup = () => { last = null; };
  c.onwheel = e => { e.preventDefault(); v.zoom *= Math.exp(-e.deltaY / 500); draw(v); };
  document.querySelectorAll('input[data-panel="' + k + '"]').forEach(box => {
    box.onchange = () => { v.show[+box.dataset.structure] = box.checked; draw(v); };
  });
  draw(v);
});
document.getElementById('ribbon').onchange = e => { OPT.ribbon = e.target.checked; redraw(); };
document.getElementById('sticks').onchange = e => { OPT.sticks = e.target.checked; redraw(); };
document.getElementById('scheme').onchange = e => { OPT.scheme = e.target.value; redraw(); };
"""


def proteins_html(panels: Sequence[Panel], title: str = "genmol proteins", size: int = 440,
                  superpose: bool = True) -> str:
    """HTML text showing ``panels`` side by side.

    Args:
        panels: one canvas each.
        title: page title and heading.
        size: canvas width and height in pixels.
        superpose: overlay structures are superposed onto the panel's first structure by their Cα (when they
            have the same number of residues), else drawn in their own frames.
    """
    data = [_panel_data(p, superpose) for p in panels]
    cells = []
    for k, (panel, d) in enumerate(zip(panels, data)):
        legend = ""
        if len(d["structures"]) > 1:
            legend = "<div class='legend'>" + " ".join(
                f"<label><input type='checkbox' checked data-panel='{k}' data-structure='{j}'>"
                f"<span class='sw' style='background:{s['colour'] or _SCHEME_SWATCH}'>"
                f"</span>{html.escape(s['label'])}</label>" for j, s in enumerate(d["structures"])) + "</div>"
        cells.append(f"<figure><canvas id='p{k}' width='{size}' height='{size}'></canvas>{legend}"
                     f"<figcaption>{html.escape(panel.caption)}</figcaption></figure>")
    js = _JS.replace("__ELEMENTS__", json.dumps(ELEMENT_COLOURS))
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:1em} .grid{display:flex;flex-wrap:wrap;gap:10px}"
            "figure{margin:0;border:1px solid #ddd;border-radius:6px;padding:4px;background:#fff}"
            f"figcaption,.legend{{font-size:12px;max-width:{size}px;overflow-wrap:anywhere}}"
            "canvas{cursor:grab;touch-action:none} .sw{display:inline-block;width:14px;height:10px;"
            "margin:0 3px 0 2px;border-radius:2px} .bar{margin:.5em 0 1em;font-size:14px}"
            f"</style></head><body><h3>{html.escape(title)}</h3>"
            "<div class='bar'>Drag to rotate, wheel to zoom. "
            "<label><input type='checkbox' id='ribbon' checked>ribbon</label> "
            "<label><input type='checkbox' id='sticks' checked>sticks</label> "
            "colour: <select id='scheme'><option value='position'>chain position (N blue → C red)</option>"
            "<option value='ss'>secondary structure (helix red, strand yellow, coil grey)</option></select></div>"
            f"<div class='grid'>{''.join(cells)}</div>"
            f"<script>const PANELS = {json.dumps(data, separators=(',', ':'))};{js}</script></body></html>")


def write_proteins_html(path: str | os.PathLike, panels: Sequence[Panel], title: str = "genmol proteins",
                        size: int = 440, superpose: bool = True) -> None:
    """Writes :func:`proteins_html` atomically."""
    atomic_write_text(path, proteins_html(panels, title, size, superpose))
