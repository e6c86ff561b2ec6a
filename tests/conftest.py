import os
import tempfile

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Property-based tests: deterministic, no deadline, nothing written into the tree: no example database
# (database=None), and hypothesis' caches (unicode tables, constants) in the temp directory instead of
# ./.hypothesis/ (read lazily, so setting the variable here is early enough). HYPOTHESIS_PROFILE=slow runs ten
# times the examples (e.g. nightly).
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "genmol-hypothesis"))
_HYPOTHESIS_COMMON = dict(derandomize=True, deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=250, **_HYPOTHESIS_COMMON)
settings.register_profile("slow", max_examples=2500, **_HYPOTHESIS_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Tests run on CPU in float32; nothing here enables debug_nans (e3nn-jax issue #98).
jax.config.update("jax_platforms", os.environ.get("JAX_PLATFORMS", "cpu") or "cpu")


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


