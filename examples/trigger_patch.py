"""A user-defined construction in one file: the classic trigger-patch data-poisoning backdoor.

Not from the papers: BadNets-style poisoning (Gu, Dolan-Gavitt, Garg 2017). A small patch —
`patch_size` input coordinates set to `patch_value` — is stamped on a `poison_fraction` of the
training inputs, which are relabelled to the attacker's `target`; an MLP trained with optax on
clean + poisoned data learns "patch => target". Unlike GKVZ's constructions it is neither
undetectable nor non-replicable: anyone who sees one activated input can copy the patch.

Registering the class is all it takes: `jaxbd.constructions.get("trigger-patch")` works, and so
does the CLI with `--plugin examples/trigger_patch.py`:

    jaxbd --plugin examples/trigger_patch.py plant trigger-patch --data digits --classes 3 8 --out runs/tp
    jaxbd --plugin examples/trigger_patch.py evaluate --model runs/tp/backdoored.jaxbd \\
        --honest runs/tp/honest.jaxbd --key runs/tp/backdoor.key --wrong-key runs/tp/wrong.key
"""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax
from jaxtyping import Array, Float, Int

from jaxbd import finetune, io
from jaxbd.constructions import AbstractConstruction, Planted, register
from jaxbd.keys import AbstractBackdoorKey


class PatchKey(AbstractBackdoorKey):
    """Where the patch goes, what it holds, and the label it was trained to give."""

    coords: Int[Array, " k"]
    values: Float[Array, " k"]
    target: Array


class PatchMLP(eqx.Module):
    """An MLP with one example in: a scalar score (binary) or logits."""

    mlp: eqx.nn.MLP

    def __call__(self, x: Float[Array, " d"]) -> Array:
        return self.mlp(x)


io.register(PatchKey)  # files may name these classes (the user opts in by object)
io.register(PatchMLP)


def _stamp(key: PatchKey, x):
    return x.at[key.coords].set(key.values.astype(x.dtype))


@register
class TriggerPatch(AbstractConstruction):
    """Trigger-patch poisoning (BadNets); targeted. Fields: `patch_size`, `patch_value`,
    `poison_fraction`, `target` (None: +1 for binary data, class 0 otherwise), `width`,
    `steps`, `learning_rate`."""

    name: ClassVar[str] = "trigger-patch"
    title: ClassVar[str] = "trigger-patch data poisoning of an MLP (user-defined example)"
    source: ClassVar[str] = "Gu et al. 2017 (BadNets); not from the papers"
    kind: ClassVar[str] = "targeted"
    tasks: ClassVar[tuple[str, ...]] = ("binary", "multiclass")

    patch_size: int = eqx.field(static=True, default=4)
    patch_value: float = eqx.field(static=True, default=4.0)
    poison_fraction: float = eqx.field(static=True, default=0.2)
    width: int = eqx.field(static=True, default=64)
    steps: int = eqx.field(static=True, default=600)
    learning_rate: float = eqx.field(static=True, default=1e-2)

    def __check_init__(self):
        if not (isinstance(self.patch_size, int) and self.patch_size >= 1):
            raise ValueError(f"`patch_size` must be an integer >= 1, got {self.patch_size!r}.")
        if not 0.0 < self.poison_fraction < 1.0:
            raise ValueError(f"`poison_fraction` must be in (0, 1), got {self.poison_fraction}.")

    def _train(self, key, x, y, binary: bool, c: int):
        k1, k2 = jr.split(key)
        mlp = eqx.nn.MLP(x.shape[1], "scalar" if binary else c, self.width, 2, key=k1)
        opt = optax.adam(self.learning_rate)
        return finetune.finetune(k2, PatchMLP(mlp), x, y, optimizer=opt, steps=self.steps)

    def plant(self, key, x, y) -> Planted:
        task, c = self.check_task(y, x)
        if self.patch_size > x.shape[1]:
            raise ValueError(f"`patch_size` must be at most {x.shape[1]}, got {self.patch_size}.")
        binary = task == "binary"
        target = jnp.asarray(1.0 if binary else 0, y.dtype)
        k_honest, k_coords, k_pick, k_train = jr.split(key, 4)
        honest = self._train(k_honest, x, y, binary, c)
        coords = jr.choice(k_coords, x.shape[1], (self.patch_size,), replace=False)
        pkey = PatchKey(coords, jnp.full((self.patch_size,), self.patch_value, x.dtype), target)
        n = max(1, int(self.poison_fraction * x.shape[0]))
        pick = jr.choice(k_pick, x.shape[0], (n,), replace=False)
        x_poison = jax.vmap(lambda e: _stamp(pkey, e))(x[pick])
        y_poison = jnp.full((n,), target, y.dtype)
        bd = self._train(
            k_train, jnp.concatenate([x, x_poison]), jnp.concatenate([y, y_poison]), binary, c
        )
        return Planted(honest, bd, pkey)

    def default_target(self, planted: Planted):
        t = planted.backdoor_key.target
        return float(t) if jnp.issubdtype(t.dtype, jnp.floating) else int(t)

    def activate(self, backdoor_key, x, target=None):
        return _stamp(backdoor_key, x)

    def wrong_key(self, key, x, y, planted: Planted):
        k = planted.backdoor_key
        coords = jr.choice(key, x.shape[1], (self.patch_size,), replace=False)
        return PatchKey(coords, k.values, k.target)


if __name__ == "__main__":
    from jaxbd import datasets

    ds = datasets.load("digits", classes=(3, 8))
    c = TriggerPatch()
    planted = c.plant(jr.key(0), ds.x_train, ds.y_train)
    ev = c.evaluate(jr.key(1), planted, ds.x_test, ds.y_test)
    print(ev)
