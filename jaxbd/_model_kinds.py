"""The kinds of JAX model that [`jaxbd.finetune.finetune`][] trains, seen as one equinox module.

A model is one of (each applied to ONE example `x[i]`, like every jaxbd model; callers vmap):

- an `eqx.Module`: `model(x_i)`;
- a Flax NNX module (`flax.nnx.Module`): `model(x_i)`; its `nnx.Param` variables train, any
  other state (batch statistics, RNG counters) is held fixed;
- a Flax linen model given as the pair `(module, variables)`, `variables = module.init(...)`:
  `module.apply(variables, x_i)`; the `"params"` collection trains, the other collections are
  held fixed;
- a plain function given as the pair `(fn, params)`: `fn(params, x_i)`; every inexact array of
  `params` trains.

[`to_module`][] wraps any of them as an `eqx.Module`; [`from_module`][] turns a trained wrapper
back into the same kind. Flax is never imported here unless the model is a Flax one
(flax is an optional dependency).
"""

import sys
from collections.abc import Mapping
from typing import Any

import equinox as eqx
from jaxtyping import PyTree


KINDS = "an eqx.Module, a Flax NNX module, a Flax linen pair (module, variables) or (fn, params)"


class Wrapped(eqx.Module):
    """A non-equinox model as an equinox module: `params` train, `fixed` does not."""

    params: PyTree
    fixed: PyTree
    call: Any = eqx.field(static=True)  # the nnx GraphDef, the linen module, or the function
    kind: str = eqx.field(static=True)

    def __call__(self, x):
        if self.kind == "nnx":
            from flax import nnx

            return nnx.merge(self.call, self.params, self.fixed)(x)
        if self.kind.startswith("linen"):
            return self.call.apply({**self.fixed, "params": self.params}, x)
        return self.call(self.params, x)


def _flax_module(model, submodule: str):
    # `flax` is imported by whoever built a Flax model; when it is not loaded, no model is one.
    if "flax" not in sys.modules:
        return None
    if submodule == "nnx":
        from flax import nnx

        return nnx.Module if isinstance(model, nnx.Module) else None
    import flax.linen as nn

    return nn.Module if isinstance(model, nn.Module) else None


def kind_of(model) -> str:
    """`"equinox"`, `"nnx"`, `"linen"` (`"linen_frozen"` when the variables are a FrozenDict)
    or `"function"`; `ValueError` naming `model` otherwise."""
    if isinstance(model, eqx.Module):
        return "equinox"
    if _flax_module(model, "nnx") is not None:
        return "nnx"
    if isinstance(model, tuple) and len(model) == 2:
        if _flax_module(model[0], "linen") is not None:
            if not isinstance(model[1], Mapping) or "params" not in model[1]:
                raise ValueError(
                    "`model`: a Flax linen model is the pair (module, variables) with "
                    "variables = module.init(key, x[0]) (a dict with a 'params' collection), got "
                    f"variables of type {type(model[1]).__name__}."
                )
            return "linen" if isinstance(model[1], dict) else "linen_frozen"  # a FrozenDict
        if callable(model[0]):
            return "function"
    if _flax_module(model, "linen") is not None:
        raise ValueError(
            "`model`: a Flax linen module holds no parameters; pass (module, variables) with "
            "variables = module.init(key, x[0])."
        )
    raise ValueError(f"`model` must be {KINDS}; got {type(model).__name__}.")


def to_module(model) -> tuple[Any, str]:
    """`(module, kind)`: an `eqx.Module` applying like `model` (`model` itself for equinox;
    [`from_module`][] turns a trained one back into the kind of `model`)."""
    kind = kind_of(model)
    if kind == "equinox":
        return model, kind
    if kind == "nnx":
        from flax import nnx

        graphdef, params, fixed = nnx.split(model, nnx.Param, ...)
        return Wrapped(params, fixed, graphdef, kind), kind
    call, variables = model
    if kind == "linen_frozen":
        from flax.core import unfreeze

        variables = unfreeze(variables)  # plain dicts, so `where` selects real sub-trees
    if kind.startswith("linen"):
        fixed = {name: v for name, v in variables.items() if name != "params"}
        return Wrapped(variables["params"], fixed, call, kind), kind
    return Wrapped(variables, None, call, kind), kind


def from_module(module) -> Any:
    """The model of the original kind: a new NNX module, a `(module, variables)` pair (the
    `"params"` collection first), a `(fn, params)` pair, or the equinox module itself."""
    if not isinstance(module, Wrapped):
        return module
    if module.kind == "nnx":
        from flax import nnx

        return nnx.merge(module.call, module.params, module.fixed)
    if module.kind.startswith("linen"):
        variables = {"params": module.params, **module.fixed}
        if module.kind == "linen_frozen":
            from flax.core import freeze

            variables = freeze(variables)
        return module.call, variables
    return module.call, module.params


def inner_spec(module: eqx.Module, kind: str, filter_spec, where):
    """Translate a user's `filter_spec` / `where` (written against the params of a non-equinox
    model) into the wrapper's terms; returns `(filter_spec, where)` for the wrapper."""
    if kind == "equinox":
        return filter_spec, where
    if filter_spec is None and where is None:
        return None, lambda w: w.params  # the fixed state never trains
    if filter_spec is not None:
        filter_spec = Wrapped(filter_spec, False, module.call, kind)  # pyright: ignore
    if where is not None:
        user = where
        where = lambda w: user(w.params)
    return filter_spec, where
