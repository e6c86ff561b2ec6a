"""Sampling settings of a Symphony model: one typed, validated object from the command line to the sampler.

A model directory records its recommended settings (``metadata.json`` ``"sampling"``, written by
``genmol export --sampling KEY=VALUE``); command-line flags override them one by one; unset
fields keep the defaults below. Unknown keys and bad values are errors wherever they appear
(at export and at sampling), never silently ignored.
"""

from __future__ import annotations

import dataclasses
import math

from genmol.errors import GenmolError

__all__ = ["SamplingSettings", "parse_grid"]


def parse_grid(text) -> tuple[int, int]:
    """``"60x119"`` (or ``(60, 119)``) -> ``(60, 119)``: an S² grid of ``res_beta`` latitudes by
    ``res_alpha`` longitudes.

    Raises:
        GenmolError: not two integers, ``res_beta < 2``, or ``res_alpha < 3`` (any parity: the grid's longitudes
            are summed by a matmul, not an FFT).
    """
    if isinstance(text, (tuple, list)):
        parts = list(text)
    else:
        parts = str(text).lower().split("x")
    try:
        b, a = (int(p) for p in parts)
    except (TypeError, ValueError):
        raise GenmolError(f"grid {text!r} is not RES_BETAxRES_ALPHA, e.g. 60x119") from None
    if b < 2 or a < 3:
        raise GenmolError(f"grid {text!r}: RES_BETA must be at least 2 and RES_ALPHA at least 3")
    return b, a


@dataclasses.dataclass(frozen=True)
class SamplingSettings:
    """How to sample from a Symphony model.

    Attributes:
        focus_temperature: temperature of the joint (focus, species, STOP) distribution (> 0).
        position_temperature: temperature of the position density (> 0).
        refine: place atoms continuously within the sampled radial bin and grid cell.
        grid: ``(res_beta, res_alpha)`` S² grid for positions; ``None`` = the training grid.
        min_distance: steric exclusion, Å: no atom closer than this to an atom other than its focus
            (0 = off).
        even_electrons: STOP only at even electron counts.
        valence_guard: never bond a new atom to a saturated atom (see :mod:`.priors`).
        min_atoms: no STOP before the molecule has this many atoms (seed included; 0 = off), unless no atom
            can be placed.
    """

    focus_temperature: float = 1.0
    position_temperature: float = 1.0
    refine: bool = True
    grid: tuple[int, int] | None = None
    min_distance: float = 0.0
    even_electrons: bool = False
    valence_guard: bool = False
    min_atoms: int = 0

    def __post_init__(self):
        for name in ("focus_temperature", "position_temperature", "min_distance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise GenmolError(f"sampling setting {name}={value!r} is not a number")
            object.__setattr__(self, name, float(value))
        if not (0 < self.focus_temperature < math.inf and 0 < self.position_temperature < math.inf):
            raise GenmolError(f"temperatures must be positive and finite (focus {self.focus_temperature:g}, "
                              f"position {self.position_temperature:g})")
        if not 0 <= self.min_distance < math.inf:
            raise GenmolError(f"the minimum distance must not be negative and must be finite "
                              f"({self.min_distance:g} Å)")
        for name in ("refine", "even_electrons", "valence_guard"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise GenmolError(f"sampling setting {name}={value!r} is not true or false")
        if self.grid is not None:
            object.__setattr__(self, "grid", parse_grid(self.grid))
        if isinstance(self.min_atoms, bool) or not isinstance(self.min_atoms, int) or self.min_atoms < 0:
            raise GenmolError(f"sampling setting min_atoms={self.min_atoms!r} is not a whole number of at least 0")

    @classmethod
    def from_record(cls, record: dict) -> "SamplingSettings":
        """Settings from a recorded dict (``metadata.json`` ``"sampling"``); missing keys keep the defaults.

        Raises:
            GenmolError: an unknown key or an invalid value.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(record) - names)
        if unknown:
            raise GenmolError(f"unknown sampling setting(s) {unknown}; the settings are {sorted(names)}")
        return cls(**record)

    def to_record(self) -> dict:
        """The JSON-ready dict :meth:`from_record` reads (the grid as ``"BxA"``)."""
        out = dataclasses.asdict(self)
        out["grid"] = None if self.grid is None else f"{self.grid[0]}x{self.grid[1]}"
        return out

    def override(self, **flags) -> "SamplingSettings":
        """A copy with every flag that is not ``None`` replaced (validated)."""
        return dataclasses.replace(self, **{k: v for k, v in flags.items() if v is not None})

    def describe(self) -> str:
        """One line for the command's summary, e.g. ``temperatures: focus 0.5, position 0.25; refined ...``."""
        text = (f"temperatures: focus {self.focus_temperature:g}, position {self.position_temperature:g}; "
                f"{'refined' if self.refine else 'grid'} positions")
        if self.grid is not None:
            text += " on a %dx%d grid" % self.grid
        if self.min_distance:
            text += f"; no atom within {self.min_distance:g} Å of a non-focus atom"
        if self.even_electrons:
            text += "; STOP only at even electron counts"
        if self.valence_guard:
            text += "; valence guard"
        if self.min_atoms:
            text += f"; no STOP before {self.min_atoms} atoms"
        return text
