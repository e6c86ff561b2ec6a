"""dynamics_metrics on slices of the embedded MD and on a protein trajectory: JSON-safe, the model equal to the
reference scores zero divergence, walkers are counted separately, what does not apply is a note, plots are written."""

import dataclasses
import json

import numpy as np
import pytest

from genmol.errors import GenmolError
from genmol.eval.dynamics import core_labels, core_transitions, dynamics_metrics, embedded_reference
from genmol.eval.dynamics.dihedrals import backbone_dihedrals
from genmol.io.structures import read_trajectory
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "proteins"


@pytest.fixture(scope="module")
def ala2():
    return embedded_reference("ala2:300")


def test_model_equal_to_reference_and_walkers(ala2, tmp_path):
    frames = ala2.positions[:3000]
    walkers = [frames[:1500], frames[1500:]]
    m = dynamics_metrics(walkers, ala2.topology, 1.0, [frames], 1.0, lag_ps=10, plots_dir=tmp_path / "plots")
    json.dumps(m, allow_nan=False)
    rows = {r["key"]: r for r in m["table"]}
    assert rows["phi_psi_jsd"]["model"] == pytest.approx(0.0, abs=1e-12) and rows["phi_psi_jsd"]["noise_floor"] > 0
    assert rows["tic_jsd"]["model"] == pytest.approx(0.0, abs=1e-12)
    assert rows["phi_psi_jsd_at_reference_populations"]["model"] == pytest.approx(0.0, abs=1e-12)
    assert rows["phi_psi_entropy"]["model"] == rows["phi_psi_entropy"]["reference"] > 0
    assert rows["phi_psi_entropy"]["noise_floor"] > 0
    assert m["basins"]["model"]["spreads_deg"] == m["basins"]["reference"]["spreads_deg"]
    assert rows["tic_fraction_outside"]["model"] == 0.0
    assert rows["population_alpha_R"]["model"] == pytest.approx(rows["population_alpha_R"]["reference"])
    assert m["structure"]["bond_range_check"]["within"] and m["structure"]["bond_range_check"]["worst_excess"] == 0
    assert m["tica"]["features"] == "phi_psi" and m["tica"]["grid"]["sized_from"] == "reference alone"
    assert m["phi_psi"]["residues_with_pairs"] == 1 and m["system"]["lag_ps"] == 10
    assert m["structure"]["model"]["rmsd"]["atoms"] == "heavy"
    # transitions: per walker, never across the cut between the two walkers
    per = m["basins"]["model"]["per_trajectory"]
    assert [p["frames"] for p in per] == [1500, 1500]
    pooled = m["basins"]["model"]["core_transitions"]
    assert pooled["transitions"] == sum(p["transitions"] for p in per)
    assert pooled["time_ps"] == 2 * (1500 - 10) * 10
    phi, psi = backbone_dihedrals(frames, ala2.topology.aatype, ala2.topology.atom_mask)
    joined = core_transitions(core_labels(phi[:, 1], psi[:, 1]), 1.0, 10.0)
    assert joined.time_ps == (3000 - 10) * 10  # the joined trajectory would also count the steps across the cut
    assert m["basins"]["reference"]["core_transitions"]["transitions"] == joined.num_transitions
    assert sorted(p.split("/")[-1] for p in m["plots"]) == ["phi_psi_free_energy.png", "time_series.png"]
    assert all((tmp_path / "plots" / n).stat().st_size > 10_000 for n in ("phi_psi_free_energy.png",
                                                                           "time_series.png"))


def test_too_narrow_model_is_told_apart_from_wrong_populations(ala2):
    """Frames near the basin centres only (a model that never leaves them) score a lower entropy and keep a shape
    JSD when given the reference's populations; frames with one basin thinned out score ~0 shape JSD."""
    from genmol.eval.dynamics import basin_labels

    frames = ala2.positions[:6000]
    phi, psi = (a[:, 1] for a in backbone_dihedrals(frames, ala2.topology.aatype, ala2.topology.atom_mask))
    centre = {0: (-80.0, -20.0), 1: (-90.0, 150.0)}
    lab = basin_labels(phi, psi)
    near = np.zeros(len(frames), bool)
    for k, (a, b) in centre.items():
        d = np.hypot(np.degrees(phi) - a, (np.degrees(psi) - b + 180) % 360 - 180)
        near |= (lab == k) & (d < 30)
    narrow = dynamics_metrics([frames[near]], ala2.topology, 1.0, [frames], 1.0, lag_ps=10)
    r = {x["key"]: x for x in narrow["table"]}
    assert r["phi_psi_entropy"]["model"] < r["phi_psi_entropy"]["reference"] - 0.3
    assert r["phi_psi_jsd_at_reference_populations"]["model"] > 0.05
    assert narrow["basins"]["model"]["spreads_deg"]["beta_PPII"]["phi_sd"] < \
        narrow["basins"]["reference"]["spreads_deg"]["beta_PPII"]["phi_sd"]
    thinned = np.ones(len(frames), bool)
    thinned[np.flatnonzero(lab == 0)[::2]] = False  # every other αR frame: populations off, shapes kept
    m = dynamics_metrics([frames[thinned]], ala2.topology, 1.0, [frames], 1.0, lag_ps=10)
    r = {x["key"]: x for x in m["table"]}
    # what remains is the subsample's own noise (half the αR frames): a quarter of the JSD (0.0036 of 0.0154)
    assert r["phi_psi_jsd"]["model"] > 0.01 and r["phi_psi_jsd_at_reference_populations"]["model"] < 0.3 * r[
        "phi_psi_jsd"]["model"]


def test_without_reference_and_defaults(ala2):
    m = dynamics_metrics(ala2.positions[:400:2], ala2.topology, 2.0, per_frame=True)
    json.dumps(m, allow_nan=False)
    assert m["system"]["lag_ps"] == 2.0  # the coarsest frame interval
    assert "tica" not in m and any("TICA and MSM skipped" in n for n in m["notes"])
    assert all(r["reference"] is None and r["noise_floor"] is None for r in m["table"])
    assert len(m["per_frame"][0]["rmsd"]) == 200 and m["per_frame"][0]["ca_ca_fraction"][0] is None


def test_protein_trajectory_against_itself():
    top, pos = read_trajectory(FIXTURES / "1l2y.xtc", FIXTURES / "1l2y.pdb")
    m = dynamics_metrics([pos[:19], pos[19:]], top, 1.0, [pos], 1.0, lag_ps=1.0, msm_lags_ps=[1.0, 2.0])
    json.dumps(m, allow_nan=False)
    assert m["phi_psi"]["residues_with_pairs"] == 18 and m["tica"]["features"] == "ca_distances"
    assert m["tica"]["jsd"] == pytest.approx(0.0, abs=1e-12)
    s = m["structure"]["model"]
    assert s["rmsd"]["atoms"] == "ca" and s["ca_ca"]["defined"] and s["ca_ca"]["all_frames_within"] is not None
    assert len(s["rmsf"]["per_residue"]) == 20 and m["msm"]["reference"]["lags_ps"] == [1.0, 2.0]


def test_bad_inputs(ala2):
    top, pos = read_trajectory(FIXTURES / "1l2y.xtc", FIXTURES / "1l2y.pdb")
    with pytest.raises(GenmolError, match="other residues"):
        dynamics_metrics(ala2.positions[:100], ala2.topology, 1.0, [pos], 1.0, reference_topology=top)
    fewer = ala2.topology.atom_mask.copy()
    fewer[1, 4] = False  # ALA without CB
    no_cb = dataclasses.replace(ala2.topology, atom_mask=fewer)
    with pytest.raises(GenmolError, match="not the same atoms .*ALA 2 CB"):
        dynamics_metrics(ala2.positions[:100], ala2.topology, 1.0, [ala2.positions[:100]], 1.0,
                         reference_topology=no_cb)
    with pytest.raises(GenmolError, match="frame interval is unknown"):
        dynamics_metrics(ala2.positions[:100], ala2.topology, 1.0, [ala2.positions[:100]], None)
    with pytest.raises(GenmolError, match="whole number of frames"):
        dynamics_metrics(ala2.positions[:100], ala2.topology, 2.0, lag_ps=3.0)
    with pytest.raises(GenmolError, match="shape"):
        dynamics_metrics(np.zeros((5, 2, 14, 3)), ala2.topology, 1.0)
