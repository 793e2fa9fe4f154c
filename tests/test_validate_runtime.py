"""`jaxbd._validate.checked_jit` / `runtime_check`: value checks inside the library's own compiled
programs are `checkify` error values (no host callback: JAX's persistent compilation cache can
keep the program), and `eqx.error_if` inside a caller's `jit`/`vmap`. Same message either way."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

from jaxbd._validate import check_finite, check_positive, checked_jit


class _Model(eqx.Module):
    w: jax.Array

    def __call__(self, x):
        return self.w @ check_finite(x, "x")


@checked_jit
def _scores(model, x, scale):
    return jax.vmap(model)(x) * check_positive(scale, "scale"), "static output"


_M = _Model(jnp.arange(3.0))
_X = jnp.ones((4, 3))
_BAD = _X.at[2, 1].set(jnp.nan)


def test_values_and_static_outputs_pass_through():
    out, tag = _scores(_M, _X, jnp.float32(2.0))
    assert tag == "static output"
    assert jnp.array_equal(out, jax.vmap(_M)(_X) * 2.0)


@pytest.mark.parametrize(
    "x, scale, words",
    [(_BAD, 1.0, "`x` contains NaN or inf"), (_X, -1.0, "`scale` must be a finite number > 0")],
)
def test_concrete_call_raises_value_error_with_the_checks_message(x, scale, words):
    with pytest.raises(ValueError) as e:
        _scores(_M, x, jnp.float32(scale))
    assert str(e.value).startswith(words) and "check` failed" not in str(e.value)


def test_concrete_program_holds_no_host_callback():
    text = _scores.lower(_M, _X, jnp.float32(1.0)).as_text()  # type: ignore[attr-defined]
    assert "callback" not in text
    # the control: the same function under a caller's jit is checked by eqx.error_if
    traced = jax.jit(lambda x: _scores(_M, x, jnp.float32(1.0))[0]).lower(_X).as_text()
    assert "callback" in traced


@pytest.mark.parametrize("transform", ["jit", "vmap", "closed-over"])
def test_inside_a_callers_trace_the_check_still_raises(transform):
    if transform == "jit":
        call = lambda: jax.jit(lambda x: _scores(_M, x, jnp.float32(1.0))[0])(_BAD)  # noqa: E731
    elif transform == "vmap":
        call = lambda: jax.vmap(lambda x: _scores(_M, x[None], jnp.float32(1.0))[0])(_BAD)  # noqa: E731
    else:  # concrete arguments, but inside the caller's jit
        call = lambda: jax.jit(lambda s: _scores(_M, _BAD, s)[0])(jnp.float32(1.0))  # noqa: E731
    with pytest.raises(Exception, match="`x` contains NaN or inf"):
        jax.block_until_ready(call())


def test_a_trace_in_one_mode_is_not_reused_in_the_other():
    """The mode is part of JAX's trace cache key: a function first traced for the checked
    program, then under a caller's jit with the same shapes, still checks there."""

    @eqx.filter_jit
    def inner(x):
        return check_finite(x, "x").sum()

    outer = checked_jit(lambda x: inner(x))
    assert float(outer(_X)) == 12.0
    with pytest.raises(Exception, match="`x` contains NaN or inf"):
        jax.block_until_ready(jax.jit(inner)(_BAD))
    with pytest.raises(ValueError, match="`x` contains NaN or inf"):
        outer(_BAD)
