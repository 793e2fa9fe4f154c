import itertools
import os

import jax
import jax.random as jr
import pytest


# The CLI's persistent compilation cache stays off in the tests (hermetic, no ~/.cache writes).
os.environ.setdefault("JAXBD_NO_COMPILE_CACHE", "1")

# Strict promotion catches silent float32 -> float64 (or int -> float) mixing in the library.
jax.config.update("jax_numpy_dtype_promotion", "strict")

# Strict rank promotion: every broadcast in jaxbd and the tests is explicit (`b[None, :]`). The
# environment variable carries it to the subprocess tests (forced CPU devices, 2 processes).
os.environ.setdefault("JAX_NUMPY_RANK_PROMOTION", "raise")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def getkey():
    """A fresh, deterministic PRNG key per call (seeded by call order within the test)."""
    counter = itertools.count()

    def _getkey():
        return jr.key(next(counter))

    return _getkey


@pytest.fixture
def x64():
    """Run the test body with 64-bit floats enabled (for math that needs float64)."""
    with jax.enable_x64(True):
        yield
