"""Write an embedded MD file (data/md/) from one of the shared all-atom references in the mdCATH layout.

Keeps the heavy atoms (in the source's atom order) and every frame of every temperature/replica group of one domain,
in the same mdCATH layout and attributes; ``pdbProteinAtoms`` is rewritten for the heavy atoms. Coordinates are
stored with HDF5's scale-offset filter at 3 decimals (lossless to 0.001 Å) plus gzip; forces are not copied. Prints
the file size and the largest coordinate error against the source. The output is byte-reproducible.

Usage: python scripts/prepare_md.py SOURCE [--out data/md/<SOURCE's name>] [--domain NAME]
(``--domain``: the source's only domain by default). The embedded files (data/md/README.md):

    python scripts/prepare_md.py /work/shared/data/md/ala2_mdcath.h5      # alanine dipeptide (make_md_reference.py)
    python scripts/prepare_md.py /work/shared/data/md/trpcage_mdcath.h5   # Trp-cage (make_protein_md.py)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from genmol.errors import GenmolError, run_script

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = "mdcath-only-protein-v1.0"
CHUNK_FRAMES = 1000
COPY_FRAMES = 20000
ATOM_DATASETS = ("element", "z", "resid", "resname", "chain")


def heavy_pdb_text(text: str, heavy: np.ndarray, note: str) -> str:
    """The PDB text of the atoms ``heavy`` (indices) of ``text``, renumbered, with a REMARK saying where from."""
    import biotite.structure.io.pdb as pdb

    atoms = pdb.PDBFile.read(io.StringIO(text)).get_structure(model=1, altloc="first")
    out = pdb.PDBFile()
    out.set_structure(atoms[heavy])
    buf = io.StringIO()
    out.write(buf)
    return f"REMARK   1 {note}\n" + buf.getvalue()


def source_domain(src, source: Path) -> str:
    """The only domain (top-level group) of an open source file."""
    import h5py

    domains = sorted(k for k in src if isinstance(src[k], h5py.Group))
    if len(domains) != 1:
        raise GenmolError(f"{source} holds {len(domains)} domains ({', '.join(domains) or 'none'}); pick one with "
                          "--domain")
    return domains[0]


def prepare(source: Path, out: Path, domain: str | None = None) -> dict:
    """Writes ``out`` from the domain ``domain`` (default: the only one) of ``source``; returns ``{"domain": name,
    "frames": {group: n}, "atoms": heavy atoms, "max_error": Å, "bytes": size}``."""
    import h5py

    try:
        src = h5py.File(source, "r")
    except OSError as e:
        raise GenmolError(f"{source} is not a readable HDF5 file ({e})") from None
    with src:
        domain = domain or source_domain(src, source)
        if domain not in src:
            raise GenmolError(f"{source} has no group /{domain}")
        d = src[domain]
        element = np.char.strip(d["element"][()].astype(str))
        heavy = np.flatnonzero(element != "H")
        text = d["pdbProteinAtoms"][()]
        text = text.decode() if isinstance(text, bytes) else str(text)
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        frames, max_error = {}, 0.0
        try:
            with h5py.File(tmp, "w", track_order=True) as h:
                h.attrs["layout"] = LAYOUT
                g = h.create_group(domain)
                for name in ATOM_DATASETS:
                    g.create_dataset(name, data=d[name][()][heavy], track_times=False)
                note = f"heavy atoms of /{domain} of {source.name}"
                g.create_dataset("pdbProteinAtoms", data=heavy_pdb_text(text, heavy, note),
                                 dtype=h5py.string_dtype(), track_times=False)
                g.attrs["numProteinAtoms"] = len(heavy)
                g.attrs["numResidues"] = int(d.attrs.get("numResidues", len(np.unique(d["resid"][()]))))
                g.attrs["numChains"] = len(np.unique(d["chain"][()]))
                g.attrs["source"] = (f"{d.attrs.get('source', source.name)}; heavy atoms only (hydrogens removed), "
                                     "coordinates rounded to 0.001 A (HDF5 scale-offset filter), no forces")
                for t in sorted(d):
                    if not isinstance(d[t], h5py.Group):
                        continue
                    for r in sorted(d[t]):
                        rs, group = d[t][r], f"{t}/{r}"
                        n = rs["coords"].shape[0]
                        rg = g.create_group(group)
                        for k, v in rs.attrs.items():
                            rg.attrs[k] = v
                        rg.attrs["numFrames"] = n
                        c = rg.create_dataset("coords", (n, len(heavy), 3), dtype="f4",
                                              chunks=(min(CHUNK_FRAMES, n), len(heavy), 3), scaleoffset=3,
                                              compression="gzip", compression_opts=9, track_times=False)
                        for a in range(0, n, COPY_FRAMES):
                            c[a:a + COPY_FRAMES] = rs["coords"][a:a + COPY_FRAMES][:, heavy]
                        frames[group] = n
            with h5py.File(tmp, "r") as h:
                for group in frames:
                    ref, got = d[f"{group}/coords"], h[f"{domain}/{group}/coords"]
                    for a in range(0, ref.shape[0], COPY_FRAMES):
                        err = np.abs(got[a:a + COPY_FRAMES] - ref[a:a + COPY_FRAMES][:, heavy])
                        max_error = max(max_error, float(err.max()))
            os.chmod(tmp, 0o644)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return {"domain": domain, "frames": frames, "atoms": len(heavy), "max_error": max_error,
            "bytes": out.stat().st_size}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path)
    p.add_argument("--out", type=Path, help="default: data/md/<the source's file name>")
    p.add_argument("--domain", help="default: the source's only domain")
    a = p.parse_args()
    out = a.out or ROOT / "data" / "md" / a.source.name
    stats = prepare(a.source, out, a.domain)
    from genmol.data.mdcath import MdcathFile

    with MdcathFile(out) as f:
        summary = f.summary()
    for group, n in stats["frames"].items():
        print(f"/{stats['domain']}/{group}: {n} frames of {stats['atoms']} heavy atoms")
    print(f"{out}: {stats['bytes']:,} bytes ({stats['bytes'] / 1e6:.2f} MB), max coordinate error "
          f"{stats['max_error']:.6f} A, SHA-256 {hashlib.sha256(out.read_bytes()).hexdigest()}")
    print(summary)


if __name__ == "__main__":
    run_script(main)
