"""Fixtures shared by the tables of the defences and measurements (`test_bad_inputs_smoothing`,
`_metrics`, `_universality`, `_finetune`, `_sharding`, `_detect`): tiny models, data and
first-layer weights, and [`at`][], a bad array built when its row runs."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from badinput_rows import Logits, lazy
from helpers import linear

from jaxbd import metrics as M, universality as U


NAN, INF = float("nan"), float("inf")
R = RuntimeError  # eqx.error_if at run time (an EquinoxRuntimeError)
KEY = jr.key(0)
D = 3
BIN = linear(D)  # scalar score: labels ±1
MULTI = Logits(jr.normal(jr.key(1), (3, D)))  # 3 logits: labels 0..2
X1 = jnp.asarray([0.5, -0.25, 1.0])
XS = jr.normal(jr.key(2), (8, D))
Y = M.predict(BIN, XS)  # ±1 floats
YM = M.predict(MULTI, XS)  # 0..2
XA = XS + 0.5
DUP = jnp.zeros((8, D)).at[0].set(1.0)  # median nearest-neighbour distance 0
nan_model = lambda v: jnp.nan * v[0]  # noqa: E731
shift = lambda v: v + 0.5  # noqa: E731
W = jr.normal(jr.key(3), (40, 4))  # honest first-layer weights
W_NAN = W.at[0, 0].set(jnp.nan)
Z = jr.normal(jr.key(4), (2, 4))
ZP = jr.normal(jr.key(5), (2, 4))
z, zp = Z[0], ZP[0]
HEAD = U.invalidating_head(z, zp, 1, num_classes=3)
SGD = optax.sgd(0.1)
DEVICES = np.asarray(jax.devices()[:1])


def at(a, index, value):
    """`a` with `a[index] = value`, built when the row runs (a [`lazy`][] value)."""
    return lazy(lambda: a.at[index].set(value))
