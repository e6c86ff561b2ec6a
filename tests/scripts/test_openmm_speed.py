"""scripts/openmm_speed.py (the OpenMM speed reference, optional extra ``bench``): the native OBC2 force is the
same model as implicit/obc2.xml's CustomGBForce, and a short timing run reports what the benchmark needs."""

import importlib.util

import numpy as np
import pytest
from helpers import ROOT

openmm = pytest.importorskip("openmm")
PDB = ROOT / "tests" / "fixtures" / "proteins" / "alanine-dipeptide-explicit.pdb"


@pytest.fixture(scope="module")
def speed():
    spec = importlib.util.spec_from_file_location("openmm_speed", ROOT / "scripts" / "openmm_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_native_obc2_is_the_same_model(speed):
    from openmm import app, unit

    pdb = app.PDBFile(str(PDB))
    modeller = app.Modeller(pdb.topology, pdb.positions)
    modeller.deleteWater()
    forcefield = app.ForceField("amber14-all.xml", "implicit/obc2.xml")
    results = []
    for native in (False, True):
        system = forcefield.createSystem(modeller.topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds)
        if native:
            speed.native_obc2(system)
        kinds = {type(f).__name__ for f in system.getForces()}
        assert ("GBSAOBCForce" in kinds) == native and ("CustomGBForce" in kinds) != native
        context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("CPU"),
                                 {"Threads": "1"})
        context.setPositions(modeller.positions)
        state = context.getState(getEnergy=True, getForces=True)
        results.append((state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole),
                        state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)))
    (e_custom, f_custom), (e_native, f_native) = results
    assert e_native == pytest.approx(e_custom, rel=1e-5)
    np.testing.assert_allclose(f_native, f_custom, atol=1e-4 * np.abs(f_custom).max())


@pytest.mark.parametrize("gb", ["custom", "native"])
def test_short_run_reports_speed(speed, gb):
    result = speed.openmm_ns_per_day_and_s(PDB, steps=50, warmup_steps=10, threads=1, minimize_iterations=10, gb=gb)
    assert result["atoms"] == 22 and result["residues"] == 3 and result["threads"] == 1
    assert result["hydrogens"] == "kept from the input"
    assert result["ns_per_day"] == pytest.approx(result["ns_per_s"] * 86400)
    assert result["ns_per_s"] == pytest.approx(50 * 2e-6 / result["wall_s"])
    assert np.isfinite(result["final_potential_kj_mol"]) and result["openmm_version"] == openmm.__version__


def test_hydrogens_are_added_to_a_heavy_atom_structure(speed, tmp_path):
    from genmol.io.structures import read_structure, write_pdb

    heavy = tmp_path / "ala2_heavy.pdb"
    write_pdb(heavy, read_structure(PDB))
    result = speed.openmm_ns_per_day_and_s(heavy, steps=10, warmup_steps=0, threads=1, minimize_iterations=10)
    assert result["hydrogens"].startswith("added") and result["atoms"] == 22
