"""QM9 property regression: the smallest complete consumer of encoders and trainer."""

from genmol.models.property.model import PropertyModel
from genmol.models.property.task import PropertyTask

__all__ = ["PropertyModel", "PropertyTask"]
