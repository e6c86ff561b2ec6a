# Copied verbatim from the project's shared data folder, shared/data/md/make_md_reference.py
# (SHA-256 2f7b08d666d7519ddd8e4a5098934aeb775d01ea5bfbbbcfd95e2dc0746b5816):
# a script that generated the shared MD reference data. Everything below this header is unchanged.
# Self-contained: needs only openmm (not a genmol dependency), numpy and h5py. Kept in its original style:
# ruff: noqa
"""Generate a real MD reference dataset in the mdCATH HDF5 layout with OpenMM.

Alanine dipeptide (ACE-ALA-NME), amber14 + OBC2 implicit solvent, Langevin 1/ps,
2 fs, HBonds constraints; one frame every 1 ps. Layout follows mdCATH:
/{domain}/{T}/{replica}/coords (frames, atoms, 3) Angstrom, forces kcal/mol/A,
and per-domain element, z, resid, resname, chain, pdbProteinAtoms.
Written incrementally so a partial run is still usable.
"""
import sys, time, io
import numpy as np, h5py
from openmm import app, unit, LangevinMiddleIntegrator, Platform

pdb_in, out, minutes = sys.argv[1], sys.argv[2], float(sys.argv[3])
temps = [int(t) for t in sys.argv[4].split(",")] if len(sys.argv) > 4 else [300]
domain = "ala2"
pdb = app.PDBFile(pdb_in)
mod = app.Modeller(pdb.topology, pdb.positions)
mod.deleteWater()
ff = app.ForceField("amber14-all.xml", "implicit/obc2.xml")
system = ff.createSystem(mod.topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds)
atoms = list(mod.topology.atoms())
buf = io.StringIO(); app.PDBFile.writeFile(mod.topology, mod.positions, buf)
deadline = time.time() + minutes * 60
steps_per_frame, frames_per_chunk = 500, 100
with h5py.File(out, "a") as h:
    g = h.require_group(domain)
    if "element" not in g:
        g["element"] = np.array([a.element.symbol for a in atoms], dtype="S2")
        g["z"] = np.array([a.element.atomic_number for a in atoms], dtype=np.int32)
        g["resid"] = np.array([a.residue.index + 1 for a in atoms], dtype=np.int32)
        g["resname"] = np.array([a.residue.name for a in atoms], dtype="S4")
        g["chain"] = np.array([a.residue.chain.id for a in atoms], dtype="S1")
        g["pdbProteinAtoms"] = buf.getvalue()
        g.attrs["numProteinAtoms"] = len(atoms); g.attrs["numResidues"] = mod.topology.getNumResidues()
        g.attrs["source"] = "OpenMM amber14-all + implicit/obc2, Langevin 1/ps, 2 fs, HBonds, 1 ps per frame"
    rep = 0
    while time.time() < deadline:
        for T in temps:
            grp = g.require_group(f"{T}/{rep}")
            integ = LangevinMiddleIntegrator(T * unit.kelvin, 1 / unit.picosecond, 0.002 * unit.picoseconds)
            integ.setRandomNumberSeed(1000 * rep + T)
            sim = app.Simulation(mod.topology, system, integ, Platform.getPlatformByName("CPU"))
            sim.context.setPositions(mod.positions); sim.minimizeEnergy()
            sim.context.setVelocitiesToTemperature(T * unit.kelvin, 1000 * rep + T)
            sim.step(50000)  # 100 ps equilibration
            n_atoms = len(atoms)
            c = grp.create_dataset("coords", (0, n_atoms, 3), maxshape=(None, n_atoms, 3), dtype="f4", chunks=(frames_per_chunk, n_atoms, 3))
            f = grp.create_dataset("forces", (0, n_atoms, 3), maxshape=(None, n_atoms, 3), dtype="f4", chunks=(frames_per_chunk, n_atoms, 3))
            grp.attrs["temperature"] = T; grp.attrs["timestep_ps"] = 1.0
            per_rep_deadline = time.time() + (deadline - time.time()) / max(1, len(temps))
            while time.time() < min(deadline, per_rep_deadline + 1):
                X, F = [], []
                for _ in range(frames_per_chunk):
                    sim.step(steps_per_frame)
                    st = sim.context.getState(getPositions=True, getForces=True)
                    X.append(st.getPositions(asNumpy=True).value_in_unit(unit.angstrom))
                    F.append(st.getForces(asNumpy=True).value_in_unit(unit.kilocalorie_per_mole / unit.angstrom))
                n = c.shape[0]
                c.resize(n + frames_per_chunk, axis=0); c[n:] = np.array(X, dtype="f4")
                f.resize(n + frames_per_chunk, axis=0); f[n:] = np.array(F, dtype="f4")
                h.flush()
                print(f"T={T} rep={rep} frames={c.shape[0]}", flush=True)
        rep += 1
