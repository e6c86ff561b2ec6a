import os

import jax
import numpy as np
import pytest

# Tests run on CPU in float32; nothing here enables debug_nans (e3nn-jax issue #98).
jax.config.update("jax_platforms", os.environ.get("JAX_PLATFORMS", "cpu") or "cpu")


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


