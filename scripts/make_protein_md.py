# Copied verbatim from the project's shared data folder, shared/data/md/make_protein_md.py
# (SHA-256 4cddb23bb0416b629ea2fc1747b18bafae49e6909314bc0b73fbc4a547b0a78c):
# a script that generated the shared MD reference data. Everything below this header is unchanged.
# Self-contained: needs only openmm (not a genmol dependency), numpy and h5py. Kept in its original style:
# ruff: noqa
"""Real protein MD in the mdCATH HDF5 layout with OpenMM (one temperature per process).

amber14-all + implicit/gbn2, CutoffNonPeriodic 1.6 nm, HBonds, hydrogen mass 3 amu, Langevin middle
1/ps, 4 fs; minimise, 100 ps equilibration, then one frame per 1 ps until the wall-clock budget ends.
Usage: make_protein_md.py IN.pdb OUT.h5 DOMAIN TEMPERATURE MINUTES [THREADS]
Writes /{domain}/{T}/0/coords (frames, atoms, 3) in Angstrom and forces in kcal/mol/A, plus element, z,
resid, resname, chain and pdbProteinAtoms (all atoms, hydrogens included, as mdCATH stores them).
"""
import io, sys, time
import numpy as np, h5py
from openmm import app, unit, LangevinMiddleIntegrator, Platform

pdb_in, out, domain, T, minutes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
threads = sys.argv[6] if len(sys.argv) > 6 else "1"
pdb = app.PDBFile(pdb_in)
ff = app.ForceField("amber14-all.xml", "implicit/gbn2.xml")
mod = app.Modeller(pdb.topology, pdb.positions); mod.deleteWater(); mod.addHydrogens(ff)
system = ff.createSystem(mod.topology, nonbondedMethod=app.CutoffNonPeriodic, nonbondedCutoff=1.6 * unit.nanometer,
                         constraints=app.HBonds, hydrogenMass=3 * unit.amu)
integ = LangevinMiddleIntegrator(T * unit.kelvin, 1 / unit.picosecond, 0.004 * unit.picoseconds)
integ.setRandomNumberSeed(T)
sim = app.Simulation(mod.topology, system, integ, Platform.getPlatformByName("CPU"), {"Threads": threads})
sim.context.setPositions(mod.positions); sim.minimizeEnergy()
sim.context.setVelocitiesToTemperature(T * unit.kelvin, T)
sim.step(25000)  # 100 ps
atoms = list(mod.topology.atoms()); n = len(atoms)
buf = io.StringIO(); app.PDBFile.writeFile(mod.topology, sim.context.getState(getPositions=True).getPositions(), buf)
deadline = time.time() + minutes * 60
kcal = (unit.kilojoule_per_mole / unit.nanometer).conversion_factor_to(unit.kilocalorie_per_mole / unit.angstrom)
with h5py.File(out, "w") as h:
    g = h.create_group(domain)
    g["element"] = np.array([a.element.symbol for a in atoms], dtype="S2")
    g["z"] = np.array([a.element.atomic_number for a in atoms], dtype=np.int32)
    g["resid"] = np.array([int(a.residue.id) for a in atoms], dtype=np.int32)
    g["resname"] = np.array([a.residue.name for a in atoms], dtype="S4")
    g["chain"] = np.array([a.residue.chain.id for a in atoms], dtype="S1")
    g["pdbProteinAtoms"] = buf.getvalue()
    g.attrs["numProteinAtoms"] = n; g.attrs["numResidues"] = mod.topology.getNumResidues(); g.attrs["numChains"] = 1
    g.attrs["source"] = "OpenMM amber14-all + implicit/gbn2 (1.6 nm cutoff), Langevin 1/ps, 4 fs, HBonds, H mass 3 amu, 1 ps per frame"
    grp = g.require_group(f"{T}/0")
    c = grp.create_dataset("coords", (0, n, 3), maxshape=(None, n, 3), dtype="f4", chunks=(100, n, 3))
    f = grp.create_dataset("forces", (0, n, 3), maxshape=(None, n, 3), dtype="f4", chunks=(100, n, 3))
    grp.attrs["temperature"] = T; grp.attrs["timestep_ps"] = 1.0
    frames = 0
    while time.time() < deadline:
        X, F = [], []
        for _ in range(50):
            sim.step(250)
            st = sim.context.getState(getPositions=True, getForces=True)
            X.append(st.getPositions(asNumpy=True).value_in_unit(unit.angstrom))
            F.append(st.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer) * kcal)
        c.resize(frames + 50, 0); f.resize(frames + 50, 0)
        c[frames:] = np.asarray(X, np.float32); f[frames:] = np.asarray(F, np.float32)
        frames += 50; grp.attrs["numFrames"] = frames; h.flush()
print(out, frames, "frames")
