"""Rotation-augmented point-cloud denoiser (EDM preconditioning, selectable target alignment)."""

from genmol.models.denoiser.model import PointCloudDenoiser, edm_coefficients
from genmol.models.denoiser.task import DenoiserTask, toy_molecules

__all__ = ["DenoiserTask", "PointCloudDenoiser", "edm_coefficients", "toy_molecules"]
