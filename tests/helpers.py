"""Helpers shared by the tests."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def tree_allclose(x, y, *, rtol=1e-5, atol=1e-8) -> bool:
    """True when two pytrees have the same structure and all leaves are close."""
    return eqx.tree_equal(x, y, typematch=True, rtol=rtol, atol=atol) is True


def tree_bitwise_equal(x, y) -> bool:
    """True when two pytrees are identical leaf by leaf, bit for bit."""
    lx, tx = jax.tree_util.tree_flatten(eqx.filter(x, eqx.is_array))
    ly, ty = jax.tree_util.tree_flatten(eqx.filter(y, eqx.is_array))
    if tx != ty:
        return False
    return all(
        a.shape == b.shape and a.dtype == b.dtype and np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(lx, ly)
    )


class Linear(eqx.Module):
    """A tiny binary model `w·x + b` for tests."""

    w: jax.Array
    b: jax.Array

    def __call__(self, x):
        return self.w @ x + self.b


def linear(d: int, seed: int = 0, dtype=jnp.float32) -> Linear:
    w = jax.random.normal(jax.random.key(seed), (d,), dtype)
    return Linear(w, jnp.zeros((), dtype))


class Logits(eqx.Module):
    """A tiny multi-class model `w @ x` for tests (logits `(c,)` for `w` of shape `(c, d)`)."""

    w: jax.Array

    def __call__(self, x):
        return self.w @ x


def logits(c: int, d: int, seed: int = 0) -> Logits:
    return Logits(jax.random.normal(jax.random.key(seed), (c, d)))


@eqx.filter_jit
def batched(model, x):
    """`jax.vmap(model)(x)`, compiled once per model structure."""
    return jax.vmap(model)(x)


def bad_input(fn, match):
    """`fn()` must fail clearly: ValueError naming the problem, or (under the jaxtyping hook,
    `--jaxtyping-packages=jaxbd,...`) the hook's TypeError for an ill-shaped/ill-typed array."""
    try:
        fn()
    except ValueError as e:
        assert re.search(match, str(e)), str(e)
    except TypeError as e:
        assert type(e).__name__ == "TypeCheckError", repr(e)
    else:
        raise AssertionError("no error raised")
