"""Bad-input rows for traced labels (issue #14): training labels, the task and the attacker's
target seen as tracers under `jit` and `vmap`.

The task (binary ±1 vs `c` classes) is static — `num_classes` of `rff.train`/`rff.backdoor`,
the construction's (`RFF.num_classes`, ReLU is binary), a `Dataset`'s — so the label *values*
are checked by `eqx.error_if` when the program runs: a bad label must raise naming `y` (or the
argument), never give a silent wrong answer. Each traced function is compiled once per shape
(the rows share it), so the rows stay cheap.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from badinput import Row, check_row, done, ids
from badinput_rows import cases

from jaxbd import constructions, relu, rff, universality


_rng = np.random.default_rng(0)
K = jr.key(0)
N, D, W = 16, 4, 8
X = jnp.asarray(_rng.standard_normal((N, D)), jnp.float32)
Y = jnp.asarray(np.where(np.arange(N) % 2 == 0, 1.0, -1.0), jnp.float32)
YM = jnp.asarray(np.arange(N) % 3, jnp.int32)  # three classes
ZERO_ONE = (Y + 1) / 2
NAN_Y = Y.at[3].set(jnp.nan)
TRAIN = dict(width=W, bandwidth=1.0, steps=1)
BACKDOOR = dict(TRAIN, secret_dim=2, beta=0.05)
RELU = dict(width=W, head="uniform")


# One function per (public function, task): `cases` compiles it once per mode and shape.
def _rff_train(y, c=2):
    return rff.train(K, X, y, num_classes=c, **TRAIN).head


def _rff_train3(y):
    return _rff_train(y, 3)


def _rff_backdoor(y, c=2):
    return rff.backdoor(K, X, y, num_classes=c, **BACKDOOR)[0].head


def _relu_train(y):
    return relu.train(K, X, y, **RELU).tau


def _relu_backdoor(y):
    return relu.backdoor(K, X, y, sparsity=2, theta=1.0, **RELU)[0].tau


_RFF_C = constructions.RFF(width=W, bandwidth=1.0, secret_dim=2, beta=0.05, steps=1)
_RELU_C = constructions.ReLU(width=W, sparsity=2, head="uniform")

# The universality heads: targets and clean labels traced.
Z = jnp.asarray(_rng.standard_normal((3, D)), jnp.float32)
ZP = -Z


def _head(t, c):
    return universality.invalidating_head(Z[0], ZP[0], t, num_classes=3, clean_label=c)


def _heads(t):
    return universality.invalidating_heads(Z, ZP, t, num_classes=3)


_head_jit, _heads_jit = jax.jit(_head), jax.jit(_heads)
_rt, _rb = "jaxbd.rff.train", "jaxbd.rff.backdoor"
_lt, _lb = "jaxbd.relu.train", "jaxbd.relu.backdoor"
_u = "jaxbd.universality."
_seeds = lambda bad: jnp.stack([Y, bad])  # two seeds' labels, the second one bad
_one = ("`y`", "single class")

ROWS: list[Row] = [
    *cases(_rt, "y", _rff_train, [("traced zero-one", ZERO_ONE, "-1/+1"), ("traced nan", NAN_Y, "-1/+1"),
                                  ("traced single class", jnp.ones(N), _one)], mode="jit"),
    *cases(_rt, "y", _rff_train, [("traced zero-one in one seed", _seeds(ZERO_ONE), "-1/+1")], mode="vmap"),
    *cases(_rt, "y", _rff_train3, [("traced label 3 of 3 classes", YM.at[0].set(3), "0..2"),
                                   ("traced fractional class", YM.astype(jnp.float32) + 0.5, "integer"),
                                   ("traced one class of three", jnp.zeros(N, jnp.int32), _one)], mode="jit"),
    *cases(_rt, "y", lambda y: rff.train(K, X, y, **TRAIN).head, [("traced without num_classes", Y, "num_classes")], mode="jit"),
    *cases(_rt, "num_classes", lambda y: _rff_train(y, 1), [("one", Y)], mode="jit"),
    *cases(_rb, "y", _rff_backdoor, [("traced zero-one", ZERO_ONE, "-1/+1")], mode="jit"),
    *cases(_rb, "y", lambda y: _rff_backdoor(y, 3), [("traced negative class", jnp.stack([YM, YM.at[2].set(-1)]), "0..2")], mode="vmap"),
    *cases(_lt, "y", _relu_train, [("traced zero-one", ZERO_ONE, "-1/+1")], mode="jit"),
    *cases(_lt, "y", _relu_train, [("traced nan in one seed", _seeds(NAN_Y), "-1/+1")], mode="vmap"),
    *cases(_lb, "y", _relu_backdoor, [("traced single class", -jnp.ones(N), _one)], mode="jit"),
    *cases(_lb, "y", _relu_backdoor, [("traced zero-one in one seed", _seeds(ZERO_ONE), "-1/+1")], mode="vmap"),
    *cases("jaxbd.constructions.RFF.plant", "y", lambda y: _RFF_C.for_task(2).plant(K, X, y).honest.head,
           [("traced zero-one", ZERO_ONE, "-1/+1")], mode="jit"),
    *cases("jaxbd.constructions.RFF.plant", "y", lambda y: _RFF_C.plant(K, X, y).honest.head,
           [("traced, task not set", Y, "num_classes")], mode="jit"),
    *cases("jaxbd.constructions.RFF", "num_classes", lambda c: constructions.RFF(num_classes=c), [("one", 1)]),
    *cases("jaxbd.constructions.ReLU.plant", "y", lambda y: _RELU_C.plant(K, X, y).honest.tau,
           [("traced zero-one in one seed", _seeds(ZERO_ONE), "-1/+1")], mode="vmap"),
    Row(_u + "invalidating_head", "target", "traced out of range", lambda: done(_head_jit(3, 0)), ("`target`", "0..2"), mode="jit"),
    Row(_u + "invalidating_head", "clean_label", "traced equal to target", lambda: done(_head_jit(1, 1)), ("`clean_label`", "differ"), mode="jit"),
    *cases(_u + "invalidating_head", "target", lambda t: universality.invalidating_head(Z[0], ZP[0], t, num_classes=3),
           [("traced negative in one row", jnp.asarray([0, -1, 2]))], mode="vmap"),
    *cases(_u + "invalidating_heads", "target", _heads, [("traced out of range", jnp.asarray([0, 1, 5]), "0..2")], mode="jit"),
    *cases(_u + "invalidating_heads", "z_prime", lambda zp: universality.invalidating_heads(Z, zp, 0, num_classes=3),
           [("traced zero row", ZP.at[1].set(0.0), "zero")], mode="jit"),
]  # fmt: skip


# The rows whose programs compile a whole Backdoor-RFF / Backdoor-ReLU (seconds each): run by
# the slow step; the same checks are reached by the cheaper rows (`check_labels`) and by
# tests/test_sweep_traced_labels.py (a sweep planting RFF and ReLU with traced labels).
SLOW = {
    "jaxbd.constructions.RFF.plant:y=traced zero-one[jit]",
    "jaxbd.rff.backdoor:y=traced zero-one[jit]",
    "jaxbd.relu.backdoor:y=traced single class[jit]",
    "jaxbd.rff.train:y=traced fractional class[jit]",  # float labels: one more compile
}
_PARAMS = [pytest.param(r, marks=pytest.mark.slow) if r.id in SLOW else r for r in ROWS]
assert SLOW <= set(ids(ROWS))


@pytest.mark.parametrize("row", _PARAMS, ids=ids(ROWS))
def test_bad_input(row):
    check_row(row)


def test_good_traced_heads_equal_the_host_ones():
    # The traced construction (jnp, float32) gives the host one (numpy, float64), to rounding.
    heads = _heads_jit(jnp.asarray([0, 1, 2]))
    np.testing.assert_allclose(
        heads, universality.invalidating_heads(Z, ZP, [0, 1, 2], num_classes=3), atol=1e-6
    )
    for i in range(3):
        np.testing.assert_allclose(
            _head_jit(jnp.asarray(i), jnp.asarray((i + 1) % 3)),
            universality.invalidating_head(Z[0], ZP[0], i, num_classes=3, clean_label=(i + 1) % 3),
            atol=1e-6,
        )


@pytest.mark.slow  # compiles the eager programs too
def test_good_traced_labels_give_the_eager_models():
    # The rows' programs are right on good labels: the same model as the eager call (so a row
    # fails only on its bad label, and the traced checks cost no accuracy).
    eager = rff.train(K, X, Y, **TRAIN)
    traced = jax.jit(lambda y: rff.train(K, X, y, num_classes=2, **TRAIN))(Y)
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(traced)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    traced = jax.jit(lambda y: relu.train(K, X, y, **RELU))(Y)
    np.testing.assert_array_equal(jax.vmap(relu.train(K, X, Y, **RELU))(X), jax.vmap(traced)(X))
