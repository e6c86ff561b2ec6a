"""The exact optimal denoiser against an independent Monte-Carlo posterior mean, and the single-molecule claim of
experiments/optimal_denoiser/README.md: there D*(y) = E[R | y, X0] X0, the Fisher target, to float64 precision."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmol.geometry.rotations import haar_rotation_np
from genmol.losses.alignment import denoising_target
from genmol.losses.optimal_denoiser import optimal_denoiser
from tests.helpers import random_orthogonal


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def _data(m: int, n: int = 5, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(m, n, 3)) * np.array([1.0, 0.7, 0.4])
    return x - x.mean(1, keepdims=True)


def _noisy(x0: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    eps = np.random.default_rng(seed).normal(size=x0.shape)
    y = x0 @ random_orthogonal(seed, False).T + sigma * (eps - eps.mean(0))
    return y - y.mean(0)


def _monte_carlo(y: np.ndarray, data: np.ndarray, sigma: float, n: int = 200_000, seed: int = 0):
    """Posterior mean of R X_m over (m uniform, R Haar) by self-normalised importance sampling with Haar proposals;
    returns the estimate and its standard error, both ``[N, 3]``."""
    r = haar_rotation_np(np.random.default_rng(seed), (n,))
    rotated = np.einsum("rij,mnj->rmni", r, data)  # [n, M, N, 3]
    logw = -np.sum((y - rotated) ** 2, (-1, -2)) / (2 * sigma**2)
    w = np.exp(logw - logw.max())
    w /= w.sum()
    mean = np.einsum("rm,rmni->ni", w, rotated)
    err = np.sqrt(np.einsum("rm,rmni->ni", w**2, (rotated - mean) ** 2))
    return mean, err


@pytest.mark.parametrize("num_molecules,sigma", [(1, 0.5), (1, 0.8), (2, 0.8)])
def test_optimal_denoiser_matches_monte_carlo(num_molecules, sigma):
    data = _data(num_molecules)
    y = _noisy(data[0], sigma)
    mc, err = _monte_carlo(y, data, sigma)
    exact = np.asarray(optimal_denoiser(jnp.asarray(y), jnp.asarray(data), sigma))
    assert np.all(np.abs(exact - mc) <= 4 * err + 1e-4), (exact - mc, err)
    assert err.max() < 0.05  # the check has power: the Monte-Carlo error is small against the cloud (~1 Å)


def test_single_molecule_optimal_denoiser_is_the_fisher_target():
    x0 = _data(1)[0]
    for sigma in (1e-8, 1e-3, 0.1, 0.5, 1.0, 3.0):
        y = _noisy(x0, sigma)
        exact = np.asarray(optimal_denoiser(jnp.asarray(y), jnp.asarray(x0[None]), sigma))
        target = np.asarray(denoising_target(jnp.asarray(x0), jnp.asarray(y), sigma, method="fisher"))
        np.testing.assert_allclose(exact, target, atol=1e-12, err_msg=f"σ={sigma}")
        if sigma <= 1e-3:  # the posterior concentrates on the Kabsch rotation (numpy SVD here, no genmol code)
            u, _, vt = np.linalg.svd(y.T @ x0)
            kabsch = u @ np.diag([1, 1, np.linalg.det(u @ vt)]) @ vt
            np.testing.assert_allclose(exact, x0 @ kabsch.T, atol=1e-5, err_msg=f"σ={sigma}")
