"""Symphony-style autoregressive 3D molecule generation: fragments, model, losses, training task.

Status: training works (``genmol train symphony``); the jitted sampler, ``genmol sample
molecules`` and a shipped checkpoint are not built yet.
"""

from genmol.models.symphony.fragments import Fragment, FragmentError, generate_fragments
from genmol.models.symphony.loss import focus_species_kl, position_kl, target_position_log_density
from genmol.models.symphony.model import SymphonyModel, grid_log_weights

__all__ = ["Fragment", "FragmentError", "SymphonyModel", "focus_species_kl", "generate_fragments",
           "grid_log_weights", "position_kl", "target_position_log_density"]
