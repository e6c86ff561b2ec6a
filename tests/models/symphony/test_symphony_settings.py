"""Sampling settings: one validated type from the recorded metadata and the flags to the sampler."""

import pytest

from genmol.errors import GenmolError
from genmol.models.symphony.settings import SamplingSettings


def test_flags_over_recorded_over_defaults():
    assert SamplingSettings.from_record({}) == SamplingSettings()
    rec = {"focus_temperature": 0.5, "position_temperature": 0.25, "refine": False, "grid": "60x119",
           "min_distance": 0.9, "even_electrons": True, "valence_guard": True, "min_atoms": 0}
    got = SamplingSettings.from_record(rec)
    assert got == SamplingSettings(0.5, 0.25, False, (60, 119), 0.9, True, True)
    assert got.to_record() == rec  # what export records reads back the same
    over = got.override(focus_temperature=1.0, position_temperature=None, refine=True, grid="30X59",
                        min_distance=0.0, even_electrons=False, valence_guard=False)
    assert over == SamplingSettings(1.0, 0.25, True, (30, 59), 0.0, False, False)
    assert got.override(grid="30x58").grid == (30, 58)  # any number of longitudes: no FFT over them
    assert SamplingSettings.from_record({"min_atoms": 9}).to_record()["min_atoms"] == 9
    assert SamplingSettings(min_atoms=9).describe().endswith("; no STOP before 9 atoms")


@pytest.mark.parametrize("record, match", [
    ({"grid": "60"}, "grid"), ({"grid": "60x"}, "grid"), ({"grid": "ax2"}, "grid"), ({"grid": "1x59"}, "grid"),
    ({"grid": "30x2"}, "at least 3"),
    ({"min_distance": -1.0}, "minimum distance"), ({"focus_temperature": 0}, "temperatures"),
    ({"position_temperature": -2.0}, "temperatures"), ({"focus_temprature": 0.5}, "unknown sampling setting"),
    ({"refine": "yes"}, "true or false"), ({"min_distance": "far"}, "not a number"),
    ({"position_temperature": True}, "not a number"), ({"min_atoms": -1}, "min_atoms"),
    ({"min_atoms": 2.5}, "min_atoms"),
])
def test_a_bad_setting_is_one_clear_error(record, match):
    with pytest.raises(GenmolError, match=match):
        SamplingSettings.from_record(record)


def test_describe_names_every_prior():
    text = SamplingSettings(0.5, 0.25, False, None, 0.9, True, True).describe()
    assert text == ("temperatures: focus 0.5, position 0.25; grid positions; no atom within 0.9 Å of a non-focus "
                    "atom; STOP only at even electron counts; valence guard")
