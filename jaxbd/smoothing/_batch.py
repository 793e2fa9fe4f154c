"""Many examples: the `*_batch` forms, thin wrappers mapping the single-example device parts
(`_single.*_core`) over rows with [`jaxbd.sharding.sharded_map`][], then running the host
statistic once for the whole batch."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.random as jr
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._validate import checked_jit
from ..sharding import check_mesh, to_host
from ._checks import check_alpha, check_bound, check_sizes, finite_outputs, prepare
from ._single import certify_core, predict_core, smooth_core
from ._stats import certificate, prediction


def map_rows(one, key, x, *, batch_size: int, draws: int, mesh: Mesh):
    """`one(jr.fold_in(key, i), x[i])` for every row `i` of `x`, the rows split over `mesh`.

    Each device gets `ceil(n / num_devices)` rows and runs them through `lax.map` with
    `batch_size // draws` rows per step, so a step evaluates at most
    `max(batch_size, min(batch_size, draws))` noisy inputs *per device*: memory is bounded by
    `batch_size` whatever `n` and `draws` are. Rows are padded (repeating the last) to a whole
    number of steps on every device so one body is compiled; the row index `i` (hence the key)
    is the true row index, and the padding is dropped.

    The split is [`jaxbd.sharding.sharded_map`][]'s (`jax.shard_map` over the `"batch"` axis,
    nothing crosses devices), written out here for one reason: with one row per step (the
    usual case: `draws >= batch_size`) the rows go through a plain `lax.map`, not a `vmap` of
    one row. Under that `vmap` XLA:CPU evaluates a 784-256-256-10 MLP's layers as
    `weight @ noiseᵀ` (`f32[256, 4096]` instead of `f32[4096, 256]`, operands transposed), which
    made `certify_batch` ~1.5x slower per point than a loop of single `certify` calls
    (`benchmarks/bench_certify_locuslab.py`). The counts are integers, so they are the same
    either way (tested against the single-example calls and across device counts).
    """
    n = x.shape[0]
    per_device = -(-n // mesh.devices.size)
    step = min(per_device, max(1, batch_size // min(batch_size, draws)))
    padded = -(-per_device // step) * step * mesh.devices.size
    idx = jnp.arange(padded, dtype=jnp.int32)
    xs = jnp.concatenate([x, jnp.broadcast_to(x[-1:], (padded - n,) + x.shape[1:])])
    spec = PartitionSpec(mesh.axis_names[0])
    idx, xs = jax.device_put((idx, xs), NamedSharding(mesh, spec))

    def local(i, xi):  # this device's rows
        rows = lambda a: one(jr.fold_in(key, a[0]), a[1])  # noqa: E731
        return jax.lax.map(rows, (i, xi), batch_size=None if step == 1 else step)

    # check_vma=False as in sharded_map: `one` scans with a constant initial carry.
    out = jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)(idx, xs)
    return jax.tree_util.tree_map(lambda a: a[:n], out)


@checked_jit  # the model's own checks raise on the host: no callback, cacheable
def _rows_jit(core, key, model, x, sigma, *, draws, batch_size, mesh, **static):
    one = lambda k, xi: core(k, model, xi, sigma, batch_size=batch_size, **static)  # noqa: E731
    return map_rows(one, key, x, batch_size=batch_size, draws=draws, mesh=mesh)


def _rows(core, key, model, x, sigma, *, draws, mesh, **static) -> tuple:
    """`core` over the rows of `x` on `mesh`, checked for non-finite model outputs (on the host
    when eager: no callback in the compiled program); the whole result in every process."""
    *out, bad = to_host(_rows_jit(core, key, model, x, sigma, draws=draws, mesh=mesh, **static))
    return finite_outputs(bad, *out)


def smooth_batch(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[ArrayLike, "n d"],
    *,
    sigma,
    num_samples: int,
    output: str | None = None,
    bound: float = 1.0,
    batch_size: int = 4096,
    mesh: Mesh | None = None,
) -> Array:
    """[`smooth`][] for each row of `x`; row `i` uses `jr.fold_in(key, i)` (equal to
    `smooth(jr.fold_in(key, i), model, x[i], ...)`). The rows are split over the devices of
    `mesh` (default: [`jaxbd.sharding.batch_mesh`][] over all of `jax.devices()`) with
    [`jaxbd.sharding.sharded_map`][]; results do not depend on the mesh. Memory `O(batch_size)`
    model evaluations per device. **Returns:** `(n,)` or `(n, c)`."""
    x, sigma = prepare(key, model, x, sigma, 2)
    num_samples, batch_size = check_sizes(num_samples, batch_size)
    kw = dict(num_samples=num_samples, batch_size=batch_size, output=output)
    mesh = check_mesh(mesh)
    bound = check_bound(bound)
    return _rows(
        smooth_core, key, model, x, sigma, draws=num_samples, mesh=mesh, bound=bound, **kw
    )[0]


def predict_batch(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[ArrayLike, "n d"],
    *,
    sigma,
    num_samples: int,
    alpha: float,
    batch_size: int = 4096,
    mesh: Mesh | None = None,
) -> Array:
    """[`predict`][] for each row of `x` (row `i` with key `jr.fold_in(key, i)`), the rows
    split over the devices of `mesh` (default: all devices; see [`smooth_batch`][]); the
    binomial test runs once on the host for all rows. **Returns:** labels `(n,)` (dtype as in
    [`predict`][]); memory `O(batch_size)` model evaluations per device."""
    x, sigma = prepare(key, model, x, sigma, 2)
    alpha = check_alpha(alpha)
    num_samples, batch_size = check_sizes(num_samples, batch_size)
    kw = dict(num_samples=num_samples, batch_size=batch_size)
    top = _rows(predict_core, key, model, x, sigma, draws=num_samples, mesh=check_mesh(mesh), **kw)
    return prediction(*top, alpha=alpha)


def certify_batch(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[ArrayLike, "n d"],
    *,
    sigma,
    n0: int,
    num_samples: int,
    alpha: float,
    batch_size: int = 4096,
    mesh: Mesh | None = None,
) -> tuple[Array, Array]:
    """[`certify`][] for each row of `x` (row `i` with key `jr.fold_in(key, i)`), the rows
    split over the devices of `mesh` (default: all devices; see [`smooth_batch`][]); the
    Clopper–Pearson bound runs once on the host for all rows. **Returns:**
    `(labels (n,), radii (n,))`; memory `O(batch_size)` model evaluations per device."""
    x, sigma = prepare(key, model, x, sigma, 2)
    alpha = check_alpha(alpha)
    n0, num_samples, batch_size = check_sizes(num_samples, batch_size, n0)
    kw = dict(n0=n0, num_samples=num_samples, batch_size=batch_size)
    draws, mesh = n0 + num_samples, check_mesh(mesh)
    label, hits = _rows(certify_core, key, model, x, sigma, draws=draws, mesh=mesh, **kw)
    return certificate(label, hits, sigma, alpha=alpha, num_samples=num_samples)
