import itertools
import os

import jax
import jax.random as jr
import pytest


# The CLI's persistent compilation cache stays off in the tests (hermetic, no ~/.cache writes).
os.environ.setdefault("JAXBD_NO_COMPILE_CACHE", "1")

# The default suite compiles hundreds of small programs and runs each once or twice, so XLA's
# optimisation passes cost more than they save: `jax_disable_most_optimizations` cut it from
# 560 to 405 CPU-s (4m51s to 3m33s wall on 2 idle cores) with the same 1841 tests passing.
# `JAXBD_TEST_XLA_OPTIMIZE=1` keeps XLA's default optimisation; CI runs the slow suite that way,
# so both settings are tested. The environment variable carries the choice to the subprocesses
# of the CLI and multi-device tests.
if os.environ.get("JAXBD_TEST_XLA_OPTIMIZE", "0") != "1":
    os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
    jax.config.update(
        "jax_disable_most_optimizations", os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] != "0"
    )

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
