"""Symphony-style autoregressive 3D molecule generation: fragments, model, losses, training task.

``genmol train symphony`` trains it (:mod:`~genmol.models.symphony.task`), ``genmol sample
molecules`` samples it (:mod:`~genmol.models.symphony.sampler`, :mod:`~genmol.models.symphony.generate`),
by default from the shipped model ``genmol/pretrained/symphony_qm9``.
"""

from genmol.models.symphony.fragments import Fragment, FragmentError, generate_fragments
from genmol.models.symphony.loss import focus_species_kl, position_kl, target_position_log_density
from genmol.models.symphony.model import SymphonyModel, grid_log_weights

__all__ = ["Fragment", "FragmentError", "SymphonyModel", "focus_species_kl", "generate_fragments",
           "grid_log_weights", "position_kl", "target_position_log_density"]
