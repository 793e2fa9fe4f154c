"""Bad inputs to the training loop (`jaxbd.train`) and to `jaxbd.finetune` (its arguments,
model kinds and traced checks). Every row must raise an error naming the bad argument (never a silent answer); rows
with mode "jit"/"vmap" pass the bad value traced, where the check is `eqx.error_if`."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax
from badinput import Row
from badinput_defences import BIN, MULTI, XS as XF, YM, Y as YF, at
from badinput_rows import bad_input_test, cases, lazy, over, table

from jaxbd import finetune as F, train as T


KEY = jr.key(0)
SGD = optax.sgd(0.1)
X = jr.normal(jr.key(1), (12, 3))
Y = jnp.where(X[:, 0] >= 0, 1.0, -1.0)
LIN = eqx.nn.Linear(3, "scalar", key=jr.key(2))
FN = (lambda p, v: v @ p, jnp.zeros(3))
OBJ = lambda p, _: jnp.sum(p**2)
P0 = jnp.ones(3)
NAN = float("nan")


def _tune(model=LIN, x=X, y=Y, **kw):
    return F.finetune(KEY, model, x, y, optimizer=SGD, **({"steps": 2} | kw))


def _traced(**bad):
    """finetune under jit, with the bad value(s) traced."""
    names = list(bad)
    run = lambda *vals: _tune(**dict(zip(names, vals)))
    return lambda: jax.block_until_ready(eqx.filter_jit(run)(*bad.values()))


class BadParams(eqx.Module):
    w: jax.Array

    def __call__(self, x):
        return self.w @ x


ONE_CLASS = jnp.ones(XF.shape[0])
tune = over(F.finetune, KEY, BIN, XF, YF, optimizer=SGD, steps=1)
tune_history = over(F.finetune_with_history, KEY, BIN, XF, YF, optimizer=SGD, steps=1, history_every=1)  # fmt: skip


def _min(**kw):
    return T.minimize(KEY, OBJ, P0, **({"optimizer": SGD, "steps": 2} | kw))


_t = "jaxbd.train."
_f = "jaxbd.finetune."

ROWS = [
    Row(_t + "minimize", "key", "int", lambda: T.minimize(0, OBJ, P0, optimizer=SGD, steps=1),
        ("`key`",)),
    Row(_t + "minimize", "objective", "not-callable", lambda: T.minimize(KEY, 3.0, P0,
        optimizer=SGD, steps=1), ("`objective`",)),
    Row(_t + "minimize", "optimizer", "str", lambda: _min(optimizer="adam"), ("`optimizer`",)),
    Row(_t + "minimize", "steps", "negative", lambda: _min(steps=-1), ("`steps`",)),
    Row(_t + "minimize", "steps", "float", lambda: _min(steps=2.5), ("`steps`",)),
    Row(_t + "minimize", "history_every", "zero", lambda: _min(history_every=0),
        ("`history_every`",)),
    Row(_t + "minimize", "record", "not-callable", lambda: _min(history_every=1, record=1),
        ("`record`",)),
    Row(_t + "minimize", "record", "without-history_every", lambda: _min(record=lambda p: p),
        ("`record`", "`history_every`")),
    Row(_t + "check_optimizer", "optimizer", "str", lambda: T.check_optimizer("sgd"),
        ("`optimizer`",)),
    Row(_t + "check_optimizer", "optimizer", "none", lambda: T.check_optimizer(None),
        ("`optimizer`",)),
    Row(_t + "record_steps", "steps", "negative", lambda: T.record_steps(-1, 2), ("`steps`",)),
    Row(_t + "record_steps", "history_every", "zero", lambda: T.record_steps(4, 0),
        ("`history_every`",)),
    *cases(_t + "shared_optimizer", "name", lambda n: T.shared_optimizer(n, 0.1),
        [("unknown", "lamb"), ("not-a-string", optax.adam)]),
    *cases(_t + "shared_optimizer", "learning_rate", lambda r: T.shared_optimizer("adam", r),
        [("zero", 0.0), ("nan", NAN), ("str", "0.1")]),
    *cases(_t + "shared_optimizer", "learning_rate",
        lambda r: T.shared_optimizer("adam", r).init(P0), [("traced", 0.1)], mode="jit"),
    # finetune: model kinds (Flax NNX / linen need flax; these need nothing).
    Row(_f + "finetune", "model", "plain-callable", lambda: _tune(model=lambda v: v.sum()),
        ("`model`", "(fn, params)")),
    Row(_f + "finetune", "model", "3-tuple", lambda: _tune(model=(*FN, 1)), ("`model`",)),
    Row(_f + "finetune", "model", "pair-of-non-callable", lambda: _tune(model=(1.0, P0)),
        ("`model`",)),
    Row(_f + "finetune", "model", "fn-params-nan", lambda: _tune(model=(FN[0], P0 * NAN)),
        ("`model`", "NaN")),
    Row(_f + "finetune", "filter_spec", "with-where", lambda: _tune(model=FN,
        filter_spec=True, where=lambda p: p), ("`filter_spec`", "`where`")),
    # finetune traced (under jit): the value checks are eqx.error_if.
    Row(_f + "finetune", "y", "traced-zeros", _traced(y=jnp.zeros_like(Y)), ("`y`",),
        mode="jit"),
    Row(_f + "finetune", "y", "traced-single-class", _traced(y=jnp.ones_like(Y)), ("`y`",),
        mode="jit"),
    Row(_f + "finetune", "x", "traced-nan", _traced(x=X.at[0, 0].set(NAN)), ("`x`",),
        mode="jit"),
    Row(_f + "finetune", "model", "traced-nan-params",
        _traced(model=eqx.tree_at(lambda m: m.weight, LIN, LIN.weight * NAN)), ("`model`",),
        mode="jit"),
    Row(_f + "finetune_with_history", "optimizer", "nan-learning-rate-vmap",
        lambda: jax.vmap(lambda k: F.finetune_with_history(k, LIN, X, Y,
            optimizer=optax.sgd(NAN), steps=2, history_every=1)[1].loss)(jr.split(KEY, 2)),
        ("`optimizer`",), mode="vmap"),
    # finetune's arguments (a binary linear model on 8 points; `MULTI`: 3 logits)
    *table(_f + "finetune", tune, {
        "optimizer": [("str", "adam", "optax.GradientTransformation"), ("none", None)],
        "y": [("single-class", ONE_CLASS, "single class"),
              ("zero-one-for-binary", lazy(lambda: (YF > 0).astype(jnp.float32)))],
        "key": [("int", 0)],
        "steps": [("negative", -1), ("float", 1.5)],
        "batch_size": [("zero", 0)],
        "x": [("nan", at(XF, (0, 0), NAN), "NaN"), ("int", lazy(XF.astype, jnp.int32)),
              ("complex", lazy(XF.astype, jnp.complex64)), ("no-features", lazy(jnp.ones, (8, 0)))],
        "model": [("nan-parameters", lazy(lambda: BadParams(BIN.w.at[0].set(NAN))), "NaN"),
                  ("not-a-module", lambda v: v.sum())],
        "loss": [("not-callable", "mse")],
    }),
    *cases(_f + "finetune", "optimizer", lambda o: tune(optimizer=o, steps=2),
        [("nan-learning-rate", optax.sgd(NAN), "NaN")]),
    *table(_f + "finetune", over(F.finetune, KEY, MULTI, XF, YM, optimizer=SGD, steps=1), {
        "y": [("single-class-logits", lazy(jnp.zeros, 8, jnp.int32), "single class"),
              ("label-beyond-logits", at(YM, 0, 3))],
    }),
    Row(_f + "finetune", "x", "no-rows", lambda: tune(x=jnp.ones((0, 3)), y=YF[:0]), ("`x`",)),
    *table(_f + "finetune_with_history", tune_history, {
        "optimizer": [("str", "sgd")],
        "history_every": [("zero", 0)],
        "key": [("float", 1.0)],
        "y": [("single-class", lazy(lambda: -ONE_CLASS))],
    }),
    *cases(_f + "finetune_with_history", "optimizer", lambda o: tune_history(optimizer=o, steps=2),
        [("nan-learning-rate", optax.sgd(NAN))]),
    *cases(_f + "trainable_spec", "where", lambda w: F.trainable_spec(BIN, where=w),
        [("bad-selector", lambda m: m.nothing)]),
]  # fmt: skip

test_bad_input = bad_input_test(ROWS)
