"""What a new user writes: numpy data, an own equinox model, the RFF backdoor, evaluation with
its controls, a file round trip and fine-tuning (an equinox and a Flax NNX model, each coming
back as its own type). CI type-checks it (`pyright
tests/typing/user_script.py`, standard mode from pyproject.toml) and `tests/test_typing.py` runs
it under the default test run's jaxtyping + beartype hook, so the annotations the checker reads
are the ones the code enforces: numpy inputs pass, wrong shapes raise.
"""

import os
import tempfile

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from jaxbd import io, metrics, rff
from jaxbd.finetune import finetune


class TinyMLP(eqx.Module):
    """An own model: one example `(d,)` -> one scalar score."""

    hidden: eqx.nn.Linear
    out: eqx.nn.Linear

    def __init__(self, dim: int, width: int, *, key: jax.Array):
        k1, k2 = jr.split(key)
        self.hidden = eqx.nn.Linear(dim, width, key=k1)
        self.out = eqx.nn.Linear(width, "scalar", key=k2)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.out(jax.nn.tanh(self.hidden(x)))


def blobs(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs as plain numpy arrays (float32 inputs, ±1 labels)."""
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0).astype(np.float32)
    x = rng.normal(size=(n, dim)).astype(np.float32) + 1.5 * y[:, None] / np.sqrt(dim)
    return x, y


def main(n: int = 256, dim: int = 8, width: int = 512, steps: int = 100) -> dict[str, float]:
    x, y = blobs(n, dim, seed=0)
    x_test, y_test = blobs(n, dim, seed=1)
    k_honest, k_bd, k_eval, k_mlp, k_ft = jr.split(jr.key(0), 5)

    honest: rff.RFFClassifier = rff.train(k_honest, x, y, width=width, bandwidth=10.0, steps=steps)
    backdoored, bkey = rff.backdoor(
        k_bd, x, y, width=width, bandwidth=10.0, secret_dim=dim, beta=0.2, steps=steps
    )
    report: metrics.BackdoorEvaluation = metrics.evaluate_backdoor(
        k_eval, honest, backdoored, lambda xi: rff.activate(bkey, xi), x_test, y_test
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = io.save(os.path.join(tmp, "backdoored.jaxbd"), backdoored)
        loaded = io.load(path, expect=rff.RFFClassifier)  # seen as RFFClassifier
        mlp_path = io.save(os.path.join(tmp, "mlp.jaxbd"), TinyMLP(dim, 16, key=k_mlp))
        mlp = io.load(mlp_path, classes=(TinyMLP,), expect=TinyMLP)

    same = bool(jnp.all(jax.vmap(loaded)(x_test) == jax.vmap(backdoored)(x_test)))
    tuned: TinyMLP = finetune(k_ft, mlp, x, y, optimizer=optax.adam(1e-2), steps=steps)
    return {
        "clean_accuracy_backdoored": report.clean_accuracy_backdoored,
        "asr": report.asr,
        "round_trip_equal": float(same),
        "mlp_accuracy_before": metrics.clean_accuracy(mlp, x_test, y_test),
        "mlp_accuracy_after": metrics.clean_accuracy(tuned, x_test, y_test),
    }


def flax_main(n: int = 256, dim: int = 8, steps: int = 100) -> dict[str, float]:
    """A Flax NNX model fine-tuned on numpy data: `finetune` returns the same NNX class."""
    from flax import nnx  # optional dependency (the dev extra installs it)

    class NNXNet(nnx.Module):
        def __init__(self, dim: int, width: int, rngs: nnx.Rngs):
            self.hidden = nnx.Linear(dim, width, rngs=rngs)
            self.out = nnx.Linear(width, 1, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            return self.out(jax.nn.tanh(self.hidden(x)))[0]

    x, y = blobs(n, dim, seed=2)
    x_test, y_test = blobs(n, dim, seed=3)
    net = NNXNet(dim, 16, nnx.Rngs(0))
    before = metrics.clean_accuracy(net, x_test, y_test)
    tuned: NNXNet = finetune(jr.key(1), net, x, y, optimizer=optax.adam(1e-2), steps=steps)
    return {
        "nnx_accuracy_before": before,
        "nnx_accuracy_after": metrics.clean_accuracy(tuned, x_test, y_test),
        "nnx_same_class": float(type(tuned) is NNXNet),
    }


if __name__ == "__main__":
    for name, value in {**main(), **flax_main()}.items():
        print(f"{name}: {value:.3f}")
