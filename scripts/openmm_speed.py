"""OpenMM speed reference: simulated ns per wall-clock second (and per day) of the project's MD reference setup.

The system is the one of ``make_md_reference.py`` (shared/data/md): amber14-all + implicit/obc2.xml, no cutoff,
HBonds constraints, LangevinMiddleIntegrator (friction 1/ps, 2 fs step); waters deleted; hydrogens added with
OpenMM's Modeller when the input has none, or deleted and added again when the input's hydrogens (e.g. GROMACS
names) do not match the amber14 templates. The structure is minimised, warmed up, then ``steps`` steps are timed.

``implicit/obc2.xml`` builds the OBC2 solvent as a ``CustomGBForce``, which OpenMM's CPU platform evaluates slowly
(about 0.8 s per step for 2,504 atoms, 80 times its ``NonbondedForce``). ``gb="native"`` swaps it for the
built-in ``GBSAOBCForce`` with the same charges, radii, scale factors, dielectrics and ACE surface term (the same
model: energies agree to 1e-6 relative, forces to 1e-5), about 7 times faster on CPU; ``gb="custom"`` (default)
keeps the reference's force.
Needs the optional ``bench`` extra (``pip install genmol[bench]``, i.e. openmm).

Usage: python scripts/openmm_speed.py PDB [--threads 2] [--steps 5000] [--warmup 500] [--temperature 300]
       [--platform CPU] [--minimize-iterations 1000] [--gb custom|native]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

__all__ = ["openmm_ns_per_day_and_s", "build_simulation", "native_obc2"]

TIMESTEP_PS = 0.002


def _openmm():
    try:
        import openmm
        from openmm import app, unit
    except ImportError:
        from genmol.errors import GenmolError

        raise GenmolError("openmm is not installed; install the benchmark extra: pip install 'genmol[bench]'"
                          ) from None
    return openmm, app, unit


def _system(app, forcefield, modeller, pdb_path: str):
    """The implicit-solvent system, or why not; ``hydrogens`` says what was done to them."""
    from genmol.errors import GenmolError

    hydrogen = app.element.hydrogen

    def create():
        return forcefield.createSystem(modeller.topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds)

    if not any(a.element is hydrogen for a in modeller.topology.atoms()):
        modeller.addHydrogens(forcefield)
        how = "added (Modeller, pH 7)"
    else:
        try:
            return create(), "kept from the input"
        except ValueError:  # no template matches: hydrogens named for another force field
            modeller.delete([a for a in modeller.topology.atoms() if a.element is hydrogen])
            modeller.addHydrogens(forcefield)
            how = "deleted and added again (Modeller, pH 7): the input's did not match amber14"
    try:
        return create(), how
    except ValueError as e:
        raise GenmolError(f"{pdb_path}: OpenMM cannot parametrise it with amber14 ({str(e).splitlines()[0]})"
                          ) from None


def native_obc2(system):
    """Replaces the ``CustomGBForce`` of amber14's implicit/obc2.xml in ``system`` by the equivalent built-in
    ``GBSAOBCForce`` (OBC2: offset 0.009 nm, surface term 2.25936 kJ/mol/nm², probe 0.14 nm, dielectrics 1 and
    78.5, no cutoff); the custom force's per-particle parameters are ``(charge, offset radius, scaled offset
    radius)``."""
    import openmm

    (k, custom), = [(k, f) for k, f in enumerate(system.getForces()) if isinstance(f, openmm.CustomGBForce)]
    if custom.getNumGlobalParameters() or custom.getNonbondedMethod() != openmm.CustomGBForce.NoCutoff:
        raise ValueError("the CustomGBForce is not the NoCutoff OBC2 of implicit/obc2.xml")
    native = openmm.GBSAOBCForce()
    native.setNonbondedMethod(openmm.GBSAOBCForce.NoCutoff)
    native.setSoluteDielectric(1.0)
    native.setSolventDielectric(78.5)
    for i in range(custom.getNumParticles()):
        charge, offset_radius, scaled = custom.getParticleParameters(i)
        native.addParticle(charge, offset_radius + 0.009, scaled / offset_radius)
    native.setForceGroup(custom.getForceGroup())
    system.removeForce(k)
    system.addForce(native)
    return system


def _log(verbose: bool, message: str) -> None:
    if verbose:
        print(f"[openmm_speed {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build_simulation(pdb_path, temperature_K: float = 300.0, threads: int = 2, platform: str = "CPU",
                     seed: int = 1, minimize_iterations: int = 1000, gb: str = "custom", verbose: bool = False):
    """The minimised OpenMM ``Simulation`` of ``pdb_path`` (setup in the module docstring) and a dict describing
    it (atoms, residues, hydrogens, platform, threads, OpenMM version). The minimisation is capped at
    ``minimize_iterations`` L-BFGS iterations (0: until converged, as in make_md_reference.py): it only has to
    remove clashes before the timing. ``gb``: ``"custom"`` (the reference's CustomGBForce) or ``"native"``
    (:func:`native_obc2`)."""
    if gb not in ("custom", "native"):
        raise ValueError(f"gb must be 'custom' or 'native', got {gb!r}")
    openmm, app, unit = _openmm()
    pdb = app.PDBFile(str(pdb_path))
    modeller = app.Modeller(pdb.topology, pdb.positions)
    modeller.deleteWater()
    modeller.topology.setPeriodicBoxVectors(None)  # implicit solvent, no cutoff: no box
    forcefield = app.ForceField("amber14-all.xml", "implicit/obc2.xml")
    system, hydrogens = _system(app, forcefield, modeller, str(pdb_path))
    if gb == "native":
        native_obc2(system)
    _log(verbose, f"{pdb_path}: {system.getNumParticles()} atoms, hydrogens {hydrogens}")
    integrator = openmm.LangevinMiddleIntegrator(temperature_K * unit.kelvin, 1 / unit.picosecond,
                                                 TIMESTEP_PS * unit.picoseconds)
    integrator.setRandomNumberSeed(seed)
    chosen = openmm.Platform.getPlatformByName(platform)
    properties = {"Threads": str(threads)} if platform == "CPU" else {}
    simulation = app.Simulation(modeller.topology, system, integrator, chosen, properties)
    simulation.context.setPositions(modeller.positions)
    _log(verbose, f"minimising (at most {minimize_iterations or 'unlimited'} iterations)")
    simulation.minimizeEnergy(maxIterations=minimize_iterations)
    simulation.context.setVelocitiesToTemperature(temperature_K * unit.kelvin, seed)
    used_threads = int(chosen.getPropertyValue(simulation.context, "Threads")) if platform == "CPU" else None
    info = {"pdb": str(pdb_path), "atoms": system.getNumParticles(),
            "residues": modeller.topology.getNumResidues(), "hydrogens": hydrogens, "platform": platform,
            "threads": used_threads, "openmm_version": openmm.__version__, "temperature_K": temperature_K,
            "timestep_fs": 1000 * TIMESTEP_PS, "minimize_iterations": minimize_iterations,
            "gb": "CustomGBForce (implicit/obc2.xml)" if gb == "custom" else "GBSAOBCForce (same OBC2 model)",
            "setup": "amber14-all + implicit/obc2, NoCutoff, HBonds, LangevinMiddle 1/ps, 2 fs"}
    return simulation, info


def openmm_ns_per_day_and_s(pdb_path, temperature_K: float = 300.0, steps: int = 5000, threads: int = 2,
                            platform: str = "CPU", warmup_steps: int = 500, seed: int = 1,
                            minimize_iterations: int = 1000, gb: str = "custom", verbose: bool = False) -> dict:
    """Times ``steps`` MD steps of ``pdb_path`` after minimisation and ``warmup_steps`` steps.

    Returns:
        ``{"ns_per_s", "ns_per_day", "wall_s", "steps", "atoms", "residues", "threads", "platform",
        "openmm_version", ...}``: simulated time per wall-clock time (ns/s and ns/day) on ``threads`` CPU threads.

    Raises:
        GenmolError: openmm is missing, or the structure cannot be parametrised.
    """
    _, _, unit = _openmm()
    simulation, info = build_simulation(pdb_path, temperature_K, threads, platform, seed, minimize_iterations, gb,
                                        verbose)
    _log(verbose, f"warming up ({warmup_steps} steps)")
    simulation.step(warmup_steps)
    simulation.context.getState(getEnergy=True)
    _log(verbose, f"timing {steps} steps")
    start = time.perf_counter()
    simulation.step(steps)
    state = simulation.context.getState(getEnergy=True)  # waits for the steps (GPU platforms run asynchronously)
    wall = time.perf_counter() - start
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    ns = steps * TIMESTEP_PS / 1000
    return {**info, "steps": steps, "warmup_steps": warmup_steps, "wall_s": wall, "ns_per_s": ns / wall,
            "ns_per_day": ns / wall * 86400, "final_potential_kj_mol": energy}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pdb")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--temperature", type=float, default=300.0)
    p.add_argument("--platform", default="CPU")
    p.add_argument("--minimize-iterations", type=int, default=1000, help="0: minimise until converged")
    p.add_argument("--gb", choices=("custom", "native"), default="custom",
                   help="custom: implicit/obc2.xml's CustomGBForce (the reference); native: the same model as "
                        "GBSAOBCForce")
    args = p.parse_args()
    result = openmm_ns_per_day_and_s(args.pdb, args.temperature, args.steps, args.threads, args.platform,
                                     args.warmup, minimize_iterations=args.minimize_iterations, gb=args.gb,
                                     verbose=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    from genmol.errors import run_script

    run_script(main)
