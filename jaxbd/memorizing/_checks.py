"""Argument checks of the memorizing package that `jaxbd._validate` has no helper for.

Each raises `ValueError` naming the argument. The host-level functions of the package (`fit`,
`candidate_search`, `from_direction`, `backdoor`, `audit`: their output sizes depend on the
data) refuse traced arguments with [`_host_level`][]; the model they return works under
`jit`/`vmap`, and its own checks go through `jaxbd._validate` (host or `eqx.error_if`).
"""

import jax.numpy as jnp
import numpy as np

from .._validate import as_key, check_positive, check_range, is_concrete


_ACTIVATIONS = ("sigmoid", "ramp")
_CRITERIA = ("accuracy", "fewest_slices")


def _check_choice(value, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}, got {value!r}.")
    return value


def _check_activation(activation) -> str:
    return _check_choice(activation, "activation", _ACTIVATIONS)


def _check_criterion(criterion) -> str:
    return _check_choice(criterion, "criterion", _CRITERIA)


def _host_level(value, name: str, function: str):
    """`value` must be concrete (not traced): `function` is a host-level function."""
    if not is_concrete(value):
        raise ValueError(
            f"`{name}` must be concrete: {function} is a host-level function (the model it "
            "returns works under jit/vmap)."
        )
    return value


def _check_same_dtype(a, name: str, dtype):
    if a.dtype != dtype:
        raise ValueError(f"`{name}` must have dtype {dtype}, got {a.dtype}.")
    return a


def _check_dtype(dtype) -> None:
    # The same check as checksum's and persistent's; `jaxbd._validate` has no dtype helper yet.
    try:
        floating = jnp.issubdtype(dtype, jnp.floating)
    except TypeError:
        floating = False
    if not floating:
        raise ValueError(f"`dtype` must be a real floating dtype, got {dtype!r}.")


def _not_text(value, name: str) -> None:
    """Numbers only: `_validate`'s number checks would parse a numeric string."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"`{name}` must be a number, got {value!r}.")


def _check_fraction(validation_fraction) -> float:
    _not_text(validation_fraction, "validation_fraction")
    check_range(
        validation_fraction,
        "validation_fraction",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    )
    return float(validation_fraction)


def _check_amplitude(amplitude, dtype) -> float:
    """The last layer holds `±amplitude` and differences up to `2 amplitude` in `dtype`."""
    _not_text(amplitude, "amplitude")
    check_positive(amplitude, "amplitude")
    fi = jnp.finfo(dtype)
    a, lo, hi = float(amplitude), float(fi.tiny), float(fi.max) / 4
    if not lo <= a <= hi:
        raise ValueError(
            f"`amplitude`={amplitude!r} is out of range for {np.dtype(dtype).name}: the last "
            f"layer holds ±amplitude and differences up to 2·amplitude, so it must be in "
            f"[{lo:.3g}, {hi:.3g}]."
        )
    return a


def _check_search_key(key):
    return _host_level(as_key(key), "key", "the candidate search (and fit)")
