"""finetune on every kind of JAX model (Flax NNX, Flax linen pairs, (fn, params) pairs), under
jit/vmap, the one training loop `jaxbd.train.minimize`, and the optional fpylll dependency."""

import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from helpers import tree_bitwise_equal

from jaxbd import io
from jaxbd.finetune import finetune, finetune_with_history
from jaxbd.train import minimize, record_steps


flax = pytest.importorskip("flax")
nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")

D = 5


def _task(key, n=160):
    kx, kw = jr.split(key)
    x = jr.normal(kx, (n, D))
    y = jnp.where(x @ jr.normal(kw, (D,)) >= 0, 1.0, -1.0)
    return x, y


def _loss(predict, x, y):
    return float(jnp.mean(jax.nn.softplus(-y * jax.vmap(predict)(x))))


class NNXNet(nnx.Module):
    def __init__(self, rngs):
        self.body = nnx.Linear(D, 8, rngs=rngs)
        self.head = nnx.Linear(8, 1, rngs=rngs)
        self.offset = nnx.BatchStat(jnp.zeros(()))  # not a Param: must stay fixed

    def __call__(self, x):
        return self.head(jax.nn.tanh(self.body(x)))[0] + self.offset[...]


class LinenNet(nn.Module):
    @nn.compact
    def __call__(self, x):
        offset = self.variable("consts", "offset", lambda: jnp.zeros(()))  # not "params"
        return nn.Dense(1)(jax.nn.tanh(nn.Dense(8)(x)))[0] + offset.value


def _linen(key, x):
    module = LinenNet()
    return module, module.init(key, x[0])


def _fn(params, v):
    return jnp.tanh(v @ params["w1"]) @ params["w2"]


def _function_model(key):
    k1, k2 = jr.split(key)
    return _fn, {"w1": 0.3 * jr.normal(k1, (D, 8)), "w2": 0.3 * jr.normal(k2, (8,))}


def _predict(model):
    """One-example prediction of any kind (the calling conventions of jaxbd.finetune)."""
    if isinstance(model, tuple):
        f, p = model
        return (lambda v: f.apply(p, v)) if isinstance(f, nn.Module) else (lambda v: f(p, v))
    return model


OPT = optax.adam(3e-2)


@pytest.mark.parametrize("kind", ["nnx", "linen", "function"])
def test_every_kind_learns_and_comes_back_the_same_kind(getkey, kind):
    x, y = _task(getkey())
    model = {
        "nnx": lambda: NNXNet(nnx.Rngs(0)),
        "linen": lambda: _linen(getkey(), x),
        "function": lambda: _function_model(getkey()),
    }[kind]()
    before = _loss(_predict(model), x, y)
    tuned = finetune(getkey(), model, x, y, optimizer=OPT, steps=40)
    after = _loss(_predict(tuned), x, y)
    assert after < 0.7 * before, (before, after)
    assert type(tuned) is type(model)
    if kind == "nnx":
        assert isinstance(tuned, NNXNet) and tuned is not model
        assert not np.array_equal(tuned.head.kernel[...], model.head.kernel[...])
        assert tuned.offset[...] == 0.0  # the non-Param state is fixed
        assert before == _loss(model, x, y)  # the input module is not modified
    else:
        assert tuned[0] is model[0]
        same_tree = jax.tree.structure(tuned[1]) == jax.tree.structure(model[1])
        assert same_tree and not tree_bitwise_equal(tuned[1], model[1])
        assert jax.tree.map(jnp.shape, tuned[1]) == jax.tree.map(jnp.shape, model[1])
    if kind == "linen":
        assert tuned[1]["consts"]["offset"] == 0.0
    assert finetune(getkey(), model, x, y, optimizer=OPT, steps=0) is model


def test_where_and_filter_spec_refer_to_the_params(getkey):
    x, y = _task(getkey())
    module, variables = _linen(getkey(), x)
    head = lambda p: p["Dense_1"]
    tuned = finetune(getkey(), (module, variables), x, y, optimizer=OPT, steps=5, where=head)
    old, new = variables["params"], tuned[1]["params"]
    assert tree_bitwise_equal(old["Dense_0"], new["Dense_0"])
    assert not tree_bitwise_equal(old["Dense_1"], new["Dense_1"])
    frozen = flax.core.freeze(variables)  # older Flax returns FrozenDicts: they come back so
    tuned = finetune(getkey(), (module, frozen), x, y, optimizer=OPT, steps=5, where=head)
    assert type(tuned[1]) is type(frozen)
    assert not tree_bitwise_equal(tuned[1]["params"]["Dense_1"], old["Dense_1"])
    fn, params = _function_model(getkey())
    spec = {"w1": False, "w2": True}
    _, p = finetune(getkey(), (fn, params), x, y, optimizer=OPT, steps=5, filter_spec=spec)
    assert np.array_equal(p["w1"], params["w1"]) and not np.array_equal(p["w2"], params["w2"])


def test_history_metrics_get_the_users_kind(getkey):
    x, y = _task(getkey())
    model = NNXNet(nnx.Rngs(1))
    acc = lambda m: jnp.mean(jnp.sign(jax.vmap(m)(x)) == y)
    tuned, hist = finetune_with_history(
        getkey(), model, x, y, optimizer=OPT, steps=40, history_every=20, metrics={"acc": acc}
    )
    assert isinstance(tuned, NNXNet)
    assert hist.loss.shape == (3,) and hist.loss[-1] < hist.loss[0]
    assert float(hist.metrics["acc"][-1]) == pytest.approx(float(acc(tuned)), abs=1e-6)


def test_numpy_inputs_and_refused_models(getkey):
    x, y = _task(getkey())
    model = _function_model(getkey())
    tuned = finetune(getkey(), model, np.asarray(x), np.asarray(y), optimizer=OPT, steps=3)
    assert isinstance(tuned, tuple)
    with pytest.raises(ValueError, match="module.init"):
        finetune(getkey(), LinenNet(), x, y, optimizer=OPT, steps=1)
    with pytest.raises(ValueError, match="`model`"):
        finetune(getkey(), (LinenNet(), [1.0]), x, y, optimizer=OPT, steps=1)


def test_io_refuses_flax_models_it_cannot_restore(tmp_path, getkey):
    x, _ = _task(getkey())
    path = tmp_path / "m.jaxbd"
    with pytest.raises(ValueError, match="Flax"):
        io.save(path, NNXNet(nnx.Rngs(0)))
    dense = nn.Dense(1)
    with pytest.raises(ValueError, match="param_dtype"):  # a dtype class is not a saved value
        io.save(path, (dense, dense.init(getkey(), x[0])))
    assert not path.exists()
    # A linen module without configuration fields is a plain dataclass: saved exactly, loaded
    # only when its class is passed (never looked up by import path).
    module, variables = _linen(getkey(), x)
    io.save(path, (module, variables))
    with pytest.raises(ValueError, match="not registered"):
        io.load(path)
    m2, v2 = io.load(path, classes=[LinenNet])
    assert np.array_equal(m2.apply(v2, x[0]), module.apply(variables, x[0]))


@pytest.mark.slow
def test_finetune_under_jit_and_vmap_equals_eager(getkey):
    x, y = _task(getkey())
    model = eqx.nn.Linear(D, "scalar", key=getkey())
    keys = jr.split(getkey(), 3)
    run = lambda k, m, xx, yy: finetune(k, m, xx, yy, optimizer=OPT, steps=10, batch_size=32)
    mapped = eqx.filter_jit(jax.vmap(run, in_axes=(0, None, None, None)))(keys, model, x, y)
    eager = run(keys[2], model, x, y)
    np.testing.assert_allclose(mapped.weight[2], eager.weight, rtol=1e-5, atol=1e-6)
    assert not np.allclose(mapped.weight[0], mapped.weight[1])  # the keys matter


def test_minimize_adam_under_strict_promotion_and_history(getkey):
    target = jr.normal(getkey(), (4,))
    objective = lambda p, _: jnp.sum((p - target) ** 2)
    p0 = jnp.zeros((4,))
    p = minimize(getkey(), objective, p0, optimizer=optax.adam(0.1), steps=200)
    assert p.dtype == p0.dtype and float(objective(p, None)) < 1e-3 * float(objective(p0, None))
    key = getkey()
    p1 = minimize(key, objective, p0, optimizer=optax.sgd(0.1), steps=12)
    p2, rec = minimize(key, objective, p0, optimizer=optax.sgd(0.1), steps=12, history_every=4)
    assert np.array_equal(p1, p2) and rec.shape == (len(record_steps(12, 4)),) == (4,)
    assert float(rec[0]) == float(objective(p0, None)) and np.all(np.diff(rec) < 0)
    assert minimize(key, objective, p0, optimizer=optax.sgd(0.1), steps=0) is p0


def test_missing_fpylll_names_the_extra(monkeypatch):
    from jaxbd import detect

    monkeypatch.setitem(sys.modules, "fpylll", None)  # `import fpylll` now raises ImportError
    w = jr.normal(jr.key(0), (40, 3))
    with pytest.raises(ImportError, match=r"jaxbd\[lattice\]"):
        detect.lattice_attack(w)
