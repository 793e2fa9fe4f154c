r"""The distinguisher interface: a traced statistic plus a host p-value with its calibration.

A white-box distinguisher is a final `eqx.Module` subclass of [`AbstractDistinguisher`][]
whose fields are its settings (checked in `__check_init__`). It says

- how to **prepare** for a weight shape (`prepare(key, shape)`: random projections, a
  Monte-Carlo null, candidate supports — whatever is fixed before looking at any matrix);
- its **statistic** of one weight matrix (`statistic(w, prepared)`: traced, so a sweep
  `vmap`s / `sharded_map`s it over a batch of matrices; larger = more evidence);
- its **p-value** under the honest null (`p_value(statistic, shape, prepared)`: host,
  vectorised) and how that p-value is **calibrated** (`calibration(shape, prepared)`: words);
- optionally what it **recovered** (`found(w, prepared)`: a direction, a support, a secret);
  a distinguisher whose statistic already computes what it recovers (a host search) overrides
  `evaluate(w, prepared) -> (statistic, found)` instead, so one call does the work once.

Everything else is written once here: `__call__(w, *, key)` returns a [`Detection`][];
`batch(key, ws)` returns the statistics and p-values of a stack of matrices, the stack sharded
over every device. A distinguisher whose statistic is a host computation (lattice reduction
with fpylll) sets `traced = False`, and `batch` loops on the host instead.

A new distinguisher (the papers' or a user's) is one file: subclass, fill in the four methods,
decorate with [`register`][]. The CLI's `detect --tests NAME` and the detection sweeps read the
same registry.
"""

import abc
import threading
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import as_key
from ..sharding import to_host
from ._result import Detection
from ._weights import check_alpha, check_weights


__all__ = ["AbstractDistinguisher", "register", "get", "names", "registry"]


class AbstractDistinguisher(eqx.Module):
    """A white-box test of a weight matrix `w (m, d)` (rows = hidden units) — abstract.

    **Class attributes** (every final class sets them): `name` (registry name), `source` (the
    paper or reference the test comes from), `traced` (whether `statistic` is traceable),
    `min_rows` / `min_cols` (the smallest matrix it accepts).
    """

    alpha: eqx.AbstractVar[float]

    name: ClassVar[str]
    source: ClassVar[str]
    traced: ClassVar[bool] = True
    min_rows: ClassVar[int] = 2
    min_cols: ClassVar[int] = 1

    def __check_init__(self):
        check_alpha(self.alpha)  # every final class's level (equinox runs each class's check)

    def prepare(self, key, shape: tuple[int, int]) -> Any:
        """What is fixed before any matrix is seen, for weights of `shape` (default: nothing)."""
        return None

    @abc.abstractmethod
    def statistic(self, w, prepared) -> jax.Array | float:
        """The test statistic of one matrix (a scalar; larger = more evidence; a host float
        when `traced = False`)."""

    @abc.abstractmethod
    def p_value(self, statistic, shape: tuple[int, int], prepared) -> np.ndarray | np.floating:
        """Host p-values of `statistic` (any shape) under the honest null for weights of `shape`."""

    @abc.abstractmethod
    def calibration(self, shape: tuple[int, int], prepared) -> str:
        """How the p-value is calibrated, in words (e.g. "Bonferroni over 46 KS tests")."""

    def found(self, w, prepared) -> dict:
        """What the test recovered from `w` (host values; default: nothing)."""
        return {}

    def evaluate(self, w, prepared) -> tuple[float, dict]:
        """`(statistic, found)` of one checked matrix (default: the sharded statistic, then
        `found`; a host search that finds both at once overrides this)."""
        return float(self._statistics(w[None], prepared)[0]), self.found(w, prepared)

    # ---------------------------------------------------------------- derived, written once

    def _check(self, w):
        return check_weights(w, min_rows=self.min_rows, min_cols=self.min_cols)

    def __call__(self, w, *, key=None) -> Detection:
        """Test one weight matrix `w`: a [`Detection`][] at level `self.alpha`.

        `key` is the randomness of `prepare` (needed by tests that draw projections or a null).
        """
        alpha = check_alpha(self.alpha)
        w = self._check(w)
        shape = (w.shape[0], w.shape[1])
        prepared = self.prepare(_key_or_default(key), shape)
        stat, found = self.evaluate(w, prepared)
        p = float(np.asarray(self.p_value(stat, shape, prepared)).reshape(()))
        return Detection.from_p(
            self.name, stat, p, alpha, self.calibration(shape, prepared), found
        )

    def batch(self, key, ws) -> tuple[np.ndarray, np.ndarray]:
        """Statistics and p-values `(n,)` of a stack `ws (n, m, d)`, prepared once with `key`.

        The stack is sharded over all devices (`jaxbd.sharding.sharded_map`; jit(vmap) on one
        device). Every call uses its own `key`: nothing is cached between calls.
        """
        ws = jnp.asarray(ws)
        if ws.ndim != 3:
            raise ValueError(f"`ws` must be a stack of weight matrices (n, m, d), got {ws.shape}.")
        self._check(ws[0])
        shape = (ws.shape[1], ws.shape[2])
        prepared = self.prepare(as_key(key), shape)
        stats = self._statistics(ws, prepared)
        return stats, np.asarray(self.p_value(stats, shape, prepared), np.float64)

    def _statistics(self, ws, prepared) -> np.ndarray:
        if not self.traced:
            return np.asarray([float(self.statistic(w, prepared)) for w in ws], np.float64)
        # Under several processes the sharded result spans other processes' devices: gather it.
        stats = to_host(_sharded_statistics(_Bound(self, prepared), ws))
        return np.asarray(stats, np.float64)


def _key_or_default(key):
    return jax.random.key(0) if key is None else as_key(key)


class _Bound(eqx.Module):
    """`w -> distinguisher.statistic(w, prepared)` as a pytree (one compile per distinguisher
    settings and shape, not per call)."""

    distinguisher: AbstractDistinguisher
    prepared: Any

    def __call__(self, w):
        return self.distinguisher.statistic(w, self.prepared)


@eqx.filter_jit
def _sharded_statistics(bound, ws):
    """One compile per (distinguisher settings, prepared shapes, stack shape): sweeps that call
    `batch` cell after cell reuse it."""
    from ..sharding import sharded_map

    return sharded_map(bound, ws)


# ------------------------------------------------------------------------------ registry

_lock = threading.Lock()
_REGISTRY: dict[str, type[AbstractDistinguisher]] = {}

# Bound for pyright; at run time `register` checks `cls` itself (a TypeError naming
# AbstractDistinguisher), not the import hook.
if TYPE_CHECKING:
    _D = TypeVar("_D", bound=type[AbstractDistinguisher])
else:
    _D = TypeVar("_D")


def register(cls: _D) -> _D:
    """Class decorator: make `cls` available by its `name` to the CLI and the sweeps."""
    if not (isinstance(cls, type) and issubclass(cls, AbstractDistinguisher)):
        raise TypeError(f"`cls` must be an AbstractDistinguisher subclass, got {cls!r}.")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls.__qualname__} must set a class attribute `name` (a string).")
    with _lock:
        old = _REGISTRY.get(name)
        if old is not None and old is not cls:
            raise ValueError(f"a distinguisher named {name!r} is already registered ({old}).")
        _REGISTRY[name] = cls
    return cls


def get(name: str) -> type[AbstractDistinguisher]:
    """The distinguisher class registered as `name`."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"`name`: unknown distinguisher {name!r}; known: {', '.join(names())}.")
    return _REGISTRY[name]


def names() -> list[str]:
    """The registered distinguishers' names, sorted."""
    return sorted(_REGISTRY)


def registry() -> dict[str, type[AbstractDistinguisher]]:
    """A copy of the registry: name -> class."""
    return dict(_REGISTRY)
