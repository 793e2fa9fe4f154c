"""Value checks inside compiled programs, in the two forms JAX offers.

A traced value is checked when the program runs. Two mechanisms do that:

- `eqx.error_if`: a host callback that raises. It works in any program, including a caller's
  own `jit`/`vmap`, but JAX never writes a program holding a host callback to its persistent
  compilation cache, so every program with one recompiles in every new process (each CLI step,
  each `jaxbd reproduce`).
- `jax.experimental.checkify`: the check becomes an error *value* returned next to the result
  and raised on the host after the program ran. No callback, so the program can be cached; but
  the program must be transformed by `checkify.checkify`, which only the library can do for the
  programs it compiles itself.

[`runtime_check`][] is the one call every traced check goes through: it emits a `checkify`
check while the library traces one of its own programs ([`checked_jit`][], on concrete
arguments) and `eqx.error_if` otherwise (a caller's `jit`/`vmap`). Which form a trace takes is
part of JAX's trace cache key ([`jax.make_user_context`][]), so a function traced once in
each context never reuses the wrong form. Both raise with the same message naming the
argument: `ValueError` from `checked_jit`, the `eqx.error_if` runtime error otherwise.
"""

import functools
import re
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import equinox as eqx
import jax
import jax.core
from jax.experimental import checkify


_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")

# True while the library traces a program it compiled with `checked_jit`; part of the jit
# cache key, so a trace made in one mode is never reused in the other.
_FUNCTIONAL = jax.make_user_context(default_value=False)

_CHECK_SUFFIX = re.compile(r"\s*\(`check` failed\)\s*$")
_MAPPED_PREFIX = re.compile(r"^at mapped index \d+:\s*")


def runtime_check(value: _T, bad, message: str) -> _T:
    """`value`, checked when the program runs: raises with `message` where `bad` is true.

    Returns `value` (use it: under `eqx.error_if` that is how the check is attached to the
    program). Only for traced values; concrete values are checked on the host by the callers.
    """
    if _FUNCTIONAL.value:
        # checkify formats its message with str.format: keep braces literal.
        checkify.check(~jax.numpy.any(bad), message.replace("{", "{{").replace("}", "}}"))
        return value
    return eqx.error_if(value, bad, message)


def any_traced(tree) -> bool:
    """Whether any leaf of `tree` is a tracer (the call is inside a `jit`/`vmap` trace)."""
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(tree))


def checked_jit(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """`eqx.filter_jit(fn)` whose value checks raise on the host, not through a callback.

    Called on concrete arguments, `fn` is traced with [`runtime_check`][] in its `checkify`
    form and compiled with the error returned as a value: the program holds no host callback
    (so JAX's persistent compilation cache keeps it) and a failed check raises `ValueError`
    with the check's message after the program ran. Called with traced arguments (inside a
    caller's `jit`/`vmap`), it is plain `eqx.filter_jit(fn)` and its checks are
    `eqx.error_if`. Checks made directly with `eqx.error_if` still work in both forms (the
    program then holds a callback).
    """
    plain = eqx.filter_jit(fn)
    call: Callable[..., Any] = fn

    def _functional(args, kwargs):
        dynamic, static = eqx.partition((args, kwargs), eqx.is_array)
        static_out: list[Any] = []

        def run(dynamic):
            a, k = eqx.combine(dynamic, static)
            out_dynamic, out_static = eqx.partition(call(*a, **k), eqx.is_array)
            static_out.append(out_static)
            return out_dynamic

        error, out = checkify.checkify(run, errors=checkify.user_checks)(dynamic)
        return error, eqx.combine(out, static_out[0])

    functional: Any = eqx.filter_jit(_functional)  # Any: its `.lower` is not in the stubs

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if any_traced((args, kwargs)):
            return plain(*args, **kwargs)
        with _FUNCTIONAL(True):
            error, out = functional(args, kwargs)
        if any_traced(error):  # concrete arguments, but inside a caller's trace
            return plain(*args, **kwargs)
        message = error.get()
        if message is not None:
            # One failed check; checkify appends where it failed, keep the check's own words.
            first = message.splitlines()[0]
            raise ValueError(_MAPPED_PREFIX.sub("", _CHECK_SUFFIX.sub("", first)))
        return out

    def lower(*args, **kwargs):
        """The compiled-on-concrete-arguments program, lowered (as `jax.jit(...).lower`)."""
        with _FUNCTIONAL(True):
            return functional.lower(args, kwargs)

    setattr(wrapper, "lower", lower)  # noqa: B010 (a function attribute, as jax.jit has)
    return wrapper
