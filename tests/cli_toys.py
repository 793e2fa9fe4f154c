"""A toy distinguisher for the CLI tests, registered only inside `registered()` (so the
distinguisher contract test and the detection sweeps never see it)."""

import contextlib
from typing import ClassVar
from unittest import mock

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from scipy import stats

from jaxbd import detect


class SupportMax(detect.AbstractDistinguisher):
    """The largest |w_ij| over the first `support_size` columns against the exact law of the
    max of m·k half-normals. **Fields:** `support_size` (columns read, >= 1, at most d),
    `alpha` (level)."""

    support_size: int = eqx.field(static=True)
    alpha: float = 0.05
    name: ClassVar[str] = "toy-support-max"
    source: ClassVar[str] = "a user's distinguisher (CLI tests)"

    def __check_init__(self):
        if not isinstance(self.support_size, int) or self.support_size < 1:
            raise ValueError(f"`support_size` must be >= 1, got {self.support_size!r}.")

    def prepare(self, key, shape):
        if self.support_size > shape[1]:
            raise ValueError(
                f"`support_size` must be at most the {shape[1]} columns, got {self.support_size}."
            )
        return None

    def statistic(self, w, prepared):
        return jnp.max(jnp.abs(w[:, : self.support_size]))

    def p_value(self, statistic, shape, prepared):
        n = shape[0] * self.support_size
        return 1.0 - (2 * stats.norm.cdf(np.asarray(statistic, np.float64)) - 1) ** n

    def calibration(self, shape, prepared):
        return f"exact law of the max of {shape[0] * self.support_size} |N(0,1)|"

    def found(self, w, prepared):
        return {"support": np.arange(self.support_size)}


@contextlib.contextmanager
def registered(*classes):
    """`jaxbd.detect`'s registry with `classes` added, for the duration of the block."""
    reg = {**detect.registry(), **{c.name: c for c in classes}}

    def get(name):
        if name not in reg:
            raise ValueError(f"`name`: unknown distinguisher {name!r}.")
        return reg[name]

    with (
        mock.patch.object(detect, "registry", lambda: dict(reg)),
        mock.patch.object(detect, "names", lambda: sorted(reg)),
        mock.patch.object(detect, "get", get),
    ):
        yield
